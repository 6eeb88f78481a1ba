// Loaded with `node --import` by test/cli/startup.test.ts: records every module the ESM loader loads
// (one URL a line) in the file named by GRAY_TRACE_LOADS. Registered before the CLI registers tsx, so
// tsx's hooks run first and pass every module on to this one.
import { register } from "node:module";

register(
  `data:text/javascript,${encodeURIComponent(`
import { appendFileSync } from "node:fs";
export async function load(url, context, next) {
  const result = await next(url, context);
  if (process.env.GRAY_TRACE_LOADS) appendFileSync(process.env.GRAY_TRACE_LOADS, url + "\\n");
  return result;
}`)}`,
);
