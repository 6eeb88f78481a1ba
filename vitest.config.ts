import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

export default defineConfig({
  resolve: {
    alias: {
      // The Dagger runtime generates ./sdk; tests use the published SDK installed under an alias.
      "@dagger.io/dagger": fileURLToPath(
        new URL("./node_modules/dagger-sdk/dist/src/index.js", import.meta.url),
      ),
    },
  },
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
    // Hooks start what tests share (the AWS emulator, Zabbix fleets, worlds): they wait on readiness
    // and bound it themselves (150 s for the emulator, 120 s for Zabbix), saying what they saw. This
    // is above both, so their error, not "hook timed out", is what a failure reports.
    hookTimeout: 180_000,
    pool: "forks",
    // Most test time is real waiting (bakes, leases, emulators, child processes), not CPU: two files
    // at once on the 2-core CI machine took the suite from 758 s to 475 s with no test changed.
    maxWorkers: 2,
  },
});
