#!/usr/bin/env node
// The gray-deploy CLI. TypeScript sources run through tsx's loader, so the CLI always runs the code in
// src/ (no build step, no stale output) on Node 20 and later.
import { register } from "tsx/esm/api";

register();
const { main } = await import("../src/cli/main.ts");
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
