#!/usr/bin/env node
// The gray-deploy CLI. It always runs the code in src/ (no build step, no stale output) on Node 20 and
// later: from a bundle of exactly the current sources, built on first use (bin/launch.mjs), or through
// tsx's loader where no bundle can be written.
import { loadMain } from "./launch.mjs";

const main = await loadMain();
const code = await main(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
  env: process.env,
  onSignal: (handler) => {
    process.on("SIGINT", () => handler("SIGINT"));
    process.on("SIGTERM", () => handler("SIGTERM"));
  },
});
// Exit once stdout is flushed: a pipe reader gets the whole Outcome, and nothing lingers.
process.stdout.write("", () => process.exit(code));
