/**
 * Proxy overhead, measured (never asserted): latency at ~500 req/s and maximum throughput, straight
 * to one sample-gateway instance versus through the weighted proxy to the same instance, in the same
 * run, with wrk (apt-get install wrk).
 *
 *   npx tsx bench/proxy/run.ts [--duration 15] [--rounds 2] [--json]
 *
 * The proxy runs in this process with the production sink (TrafficMetrics, 1 s periods) and health
 * checks on; the instance is a child process; wrk is a third process. Direct and proxied runs
 * alternate, `--rounds` times, so drift on a shared machine hits both sides alike. On 2 cores the
 * max-throughput numbers measure the machine as much as the proxy: three busy processes share it.
 */
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { NO_FAULTS, ServiceInstance } from "../../src/local/instance.js";
import { TrafficMetrics } from "../../src/local/metrics.js";
import { StaticWeightSource, WeightedProxy } from "../../src/local/proxy.js";

const run = promisify(execFile);
const args = process.argv.slice(2);
const arg = (name: string, fallback: number) => {
  const i = args.indexOf(`--${name}`);
  return i === -1 ? fallback : Number(args[i + 1]);
};
const DURATION = arg("duration", 15);
const ROUNDS = arg("rounds", 2);
const JSON_OUT = args.includes("--json");
const PACE_SCRIPT = fileURLToPath(new URL("./pace.lua", import.meta.url));

interface WrkResult {
  rps: number;
  p50: number;
  p75: number;
  p90: number;
  p99: number;
  errors: number;
}

/** Parses wrk's --latency report; latencies in ms. */
function parse(out: string): WrkResult {
  const ms = (label: string) => {
    const m = out.match(new RegExp(`^\\s+${label}%\\s+([\\d.]+)(us|ms|s)\\s*$`, "m"));
    if (!m) throw new Error(`wrk output has no ${label}% line:\n${out}`);
    const v = Number(m[1]);
    return m[2] === "us" ? v / 1000 : m[2] === "s" ? v * 1000 : v;
  };
  const rps = Number(out.match(/Requests\/sec:\s+([\d.]+)/)?.[1]);
  const non2xx = Number(out.match(/Non-2xx or 3xx responses:\s+(\d+)/)?.[1] ?? 0);
  const socket = out.match(/Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/);
  const errors = non2xx + (socket ? socket.slice(1).reduce((n, x) => n + Number(x), 0) : 0);
  return { rps, p50: ms("50"), p75: ms("75"), p90: ms("90"), p99: ms("99"), errors };
}

async function wrk(url: string, connections: number, paced: boolean): Promise<WrkResult> {
  const argv = ["-t1", `-c${connections}`, `-d${DURATION}s`, "--latency", "--timeout", "5s"];
  if (paced) argv.push("-s", PACE_SCRIPT);
  else argv.push("-s", PACE_SCRIPT.replace("pace.lua", "plain.lua"));
  const { stdout } = await run("wrk", [...argv, url], {
    env: { ...process.env, PACE_MS: "9" },
    maxBuffer: 1 << 20,
  });
  return parse(stdout);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

async function main(): Promise<void> {
  await run("wrk", ["--version"]).catch((e: { stdout?: string; code?: unknown }) => {
    // wrk --version exits 1 after printing; only a missing binary is a problem.
    if (e.code === "ENOENT") throw new Error("wrk is not installed: apt-get install -y wrk");
  });
  const instance = new ServiceInstance({
    id: "bench-1",
    pool: "stable",
    version: "bench",
    faults: NO_FAULTS,
  });
  const port = await instance.listening;
  const direct = `http://127.0.0.1:${port}`;
  const metrics = new TrafficMetrics({ periodMs: 1000 });
  const proxy = new WeightedProxy({
    weights: new StaticWeightSource({ weights: { stable: 100, gray: 0 }, stickinessSeconds: null }),
    sink: metrics,
  });
  const proxied = await proxy.start();
  void proxy.setTargets("stable", [{ id: instance.id, host: "127.0.0.1", port }]);
  while (proxy.health().stable.healthy < 1) await new Promise((r) => setTimeout(r, 50));

  const results: Record<string, WrkResult[]> = {
    "paced direct": [],
    "paced proxy": [],
    "max direct": [],
    "max proxy": [],
  };
  try {
    // Warm-up: JIT, keep-alive pools.
    await wrk(direct, 8, false);
    await wrk(proxied, 8, false);
    for (let r = 0; r < ROUNDS; r++) {
      const log = (s: string) => process.stderr.write(`round ${r + 1}/${ROUNDS}: ${s}\n`);
      log("paced (~500 req/s, 5 connections × 1 request per 9 ms)");
      results["paced direct"]!.push(await wrk(direct, 5, true));
      results["paced proxy"]!.push(await wrk(proxied, 5, true));
      log("max throughput (32 connections)");
      results["max direct"]!.push(await wrk(direct, 32, false));
      results["max proxy"]!.push(await wrk(proxied, 32, false));
    }
  } finally {
    await proxy.close();
    await instance.stop();
  }

  const summary = Object.fromEntries(
    Object.entries(results).map(([k, rs]) => [
      k,
      {
        rps: Math.round(median(rs.map((x) => x.rps))),
        p50Ms: median(rs.map((x) => x.p50)),
        p90Ms: median(rs.map((x) => x.p90)),
        p99Ms: median(rs.map((x) => x.p99)),
        errors: rs.reduce((n, x) => n + x.errors, 0),
      },
    ]),
  );
  const pd = summary["paced direct"]!;
  const pp = summary["paced proxy"]!;
  const md = summary["max direct"]!;
  const mp = summary["max proxy"]!;
  const added = { p50Ms: pp.p50Ms - pd.p50Ms, p99Ms: pp.p99Ms - pd.p99Ms };
  if (JSON_OUT) {
    process.stdout.write(
      `${JSON.stringify({ durationS: DURATION, rounds: ROUNDS, summary, added }, null, 2)}\n`,
    );
    return;
  }
  const row = (name: string, s: typeof pd) =>
    `${name.padEnd(14)} ${String(s.rps).padStart(7)} ${s.p50Ms.toFixed(3).padStart(9)} ${s.p90Ms.toFixed(3).padStart(9)} ${s.p99Ms.toFixed(3).padStart(9)} ${String(s.errors).padStart(7)}`;
  console.log(`wrk, ${DURATION}s per run, median of ${ROUNDS} rounds, GET /v1/payments/:id`);
  console.log(
    `${"".padEnd(14)} ${"req/s".padStart(7)} ${"p50 ms".padStart(9)} ${"p90 ms".padStart(9)} ${"p99 ms".padStart(9)} ${"errors".padStart(7)}`,
  );
  console.log(row("paced direct", pd));
  console.log(row("paced proxy", pp));
  console.log(row("max direct", md));
  console.log(row("max proxy", mp));
  console.log(
    `added by the proxy at ~${pp.rps} req/s: p50 ${added.p50Ms.toFixed(3)} ms, p99 ${added.p99Ms.toFixed(3)} ms; ` +
      `max throughput ${mp.rps} vs ${md.rps} req/s direct (${Math.round((100 * mp.rps) / md.rps)}%)`,
  );
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exitCode = 1;
});
