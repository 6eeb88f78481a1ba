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
    hookTimeout: 60_000,
    pool: "forks",
    // Most test time is real waiting (bakes, leases, emulators, child processes), not CPU: two files
    // at once on the 2-core CI machine took the suite from 758 s to 475 s with no test changed.
    maxWorkers: 2,
  },
});
