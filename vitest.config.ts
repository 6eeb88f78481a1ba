import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";
import LongestFirst from "./test/support/sequencer.js";

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
    // Most files mostly wait (bakes, leases, emulators, child processes): three at once keep two
    // cores busier than two did. The CPU-heavy safety scenarios are limited machine-wide instead
    // (test/support/slots.ts), and the longest files start first (test/support/sequencer.ts).
    // GRAY_TEST_WORKERS overrides the count.
    maxWorkers: Number(process.env.GRAY_TEST_WORKERS ?? 3),
    sequence: { sequencer: LongestFirst },
  },
});
