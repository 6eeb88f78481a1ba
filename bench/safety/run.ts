/**
 * Measures what test/safety asserts only qualitatively, against the AWS emulator with real traffic
 * and the CLI as a child process (the same scenarios as the tests, test/safety/support):
 *
 * - abort from a second process during a bake: from the abort command's start to its weight write,
 *   to the verified stable 100 / gray 0, to each process's end (the CLI's start-up included: that is
 *   what an operator waits for);
 * - a full rollout with 30% of the AWS calls throttled or failing (and 5-40 ms latency): duration
 *   against a fault-free run, faults injected, attempts logged, calls that ran out of attempts;
 * - a rollback whose ModifyRule fails: for good (5xx, throttling) — how long the rollback keeps
 *   trying before `rollback-failed` and how many attempts reach AWS — and for a while (8, 16, 24 s):
 *   the longest outage a rollback rides out, with the tests' 5 s lock lease, 40 s and the AWS
 *   default 2 min (the rollback keeps trying for at least one lease).
 *
 *   npx tsx bench/safety/run.ts                 # human-readable, runs=3 for the aborts
 *   npx tsx bench/safety/run.ts --runs 5 --write  # also writes bench/safety/results.md
 *
 * Scenarios run one at a time so their timings do not fight for the two cores. Timings are the
 * emulator's (loopback): they show what gray-deploy and the SDK add, not what AWS takes.
 */
import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { abortDuringBake } from "../../test/safety/support/abort.js";
import type { FaultKind } from "../../test/safety/support/fault-proxy.js";
import { rollbackUnderOutage } from "../../test/safety/support/rollback.js";
import { BAD_RELEASE, type ScenarioOptions, startScenario } from "../../test/safety/support/scenario.js";

const args = parseArgs({
  options: { runs: { type: "string", default: "3" }, write: { type: "boolean", default: false } },
});
const RUNS = Number(args.values.runs);
const s1 = (ms: number | null) => (ms === null || Number.isNaN(ms) ? "—" : `${(ms / 1000).toFixed(1)} s`);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
const lines: string[] = [];
const out = (l = "") => {
  lines.push(l);
  console.log(l);
};

async function scenario<T>(
  o: ScenarioOptions,
  body: (s: Awaited<ReturnType<typeof startScenario>>) => Promise<T>,
) {
  const s = await startScenario(o);
  try {
    return await body(s);
  } finally {
    await s.close();
  }
}

out(`# Safety measurements (bench/safety/run.ts, ${new Date().toISOString().slice(0, 10)})`);
out();
out("## abort from a second process during a bake");
out();
out(
  "| run | abort's write answered | stable 100% verified | abort process ended | deploy-gray ended (aborted) |",
);
out("| --- | --- | --- | --- | --- |");
const aborts: { write: number; verified: number; abortExit: number; firstExit: number }[] = [];
for (let i = 1; i <= RUNS; i++) {
  const t = await scenario({}, async (s) => {
    const r = await abortDuringBake(s);
    if (r.abort.outcome?.outcome !== "aborted" || r.first.outcome?.outcome !== "aborted") {
      throw new Error(`abort run ${i}: ${r.why}`);
    }
    return r.timing;
  });
  aborts.push({
    write: t.toWriteMs,
    verified: t.toVerifiedMs,
    abortExit: t.abortExitMs,
    firstExit: t.firstExitMs,
  });
  out(`| ${i} | ${s1(t.toWriteMs)} | ${s1(t.toVerifiedMs)} | ${s1(t.abortExitMs)} | ${s1(t.firstExitMs)} |`);
}
out(
  `| median | ${s1(median(aborts.map((a) => a.write)))} | ${s1(median(aborts.map((a) => a.verified)))} | ${s1(median(aborts.map((a) => a.abortExit)))} | ${s1(median(aborts.map((a) => a.firstExit)))} |`,
);
out();
out("Times from the abort command's start (its Node/tsx start-up is ~1 s of them).");

out();
out("## a full rollout (steps 25,100) with 30% of AWS calls failing");
out();
out(
  "| faults | outcome | duration | HTTP requests | faults injected (throttling / 5xx) | failed attempts logged | calls out of attempts |",
);
out("| --- | --- | --- | --- | --- | --- | --- |");
for (const rate of [0, 0.3, 0.3]) {
  await scenario({ seed: Math.round(rate * 100) + 7 }, async (s) => {
    s.proxy.faults({ rate });
    if (rate > 0) s.proxy.latency(5, 40);
    const run = s.cli("deploy-gray", s.flags());
    const r = await run.done;
    const logged = r.stderr.split("\n").filter((l) => /AWS \S+: attempt \d+\/5 failed/.test(l));
    const outOf = logged.filter((l) => l.endsWith("no attempt left")).length;
    const throttled = s.proxy.count({ result: "throttle" });
    const failed = s.proxy.count({ result: "5xx" });
    out(
      `| ${rate * 100}% | ${r.outcome?.outcome} | ${s1(r.endedAt - run.startedAt)} | ${s.proxy.calls.length} | ${throttled + failed} (${throttled} / ${failed}) | ${logged.length} | ${outOf} |`,
    );
  });
}

out();
out("## a rollback whose ModifyRule fails");
out();
out(
  "| ModifyRule | lock lease | outcome | attempts reaching AWS | kept trying | stable 100% verified after | process ended after |",
);
out("| --- | --- | --- | --- | --- | --- | --- |");
const outages: [FaultKind, number | null, string][] = [
  ["5xx", null, "5s"],
  ["throttle", null, "5s"],
  ["5xx", 8000, "5s"],
  ["5xx", 16_000, "5s"],
  ["5xx", 24_000, "5s"],
  ["5xx", 24_000, "40s"],
  ["5xx", null, "2m"],
];
for (const [kind, outageMs, lockLease] of outages) {
  await scenario(BAD_RELEASE, async (s) => {
    const o = await rollbackUnderOutage(s, { kind, outageMs, flags: { lockLease } });
    const what = `${kind === "5xx" ? "503" : "throttled"} ${outageMs === null ? "for good" : `for ${outageMs / 1000} s`}`;
    out(
      `| ${what} | ${lockLease} | ${o.result.outcome?.outcome} (exit ${o.result.code}) | ${o.attempts.length} | ${s1(o.keptTryingMs)} | ${s1(o.verifiedMs)} | ${s1(o.toEndMs)} |`,
    );
  });
}
out();
out(
  "Times from the first rollback write attempt. The engine tries at least 5 times and for at least one lock lease (2 min is the AWS default; the tests use 5 s), sleeping 1, 2, 4, 8, then 15 s between attempts; each attempt is a ModifyRule with the SDK's own 5 attempts (standard retry mode: backoff from 100 ms on 5xx, from 500 ms on throttling).",
);

if (args.values.write) {
  writeFileSync(new URL("./results.md", import.meta.url), `${lines.join("\n")}\n`);
  console.log("\nwritten: bench/safety/results.md");
}
