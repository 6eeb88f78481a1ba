/**
 * Sums a test run's strict-mode reports (test/support/strict): what was checked against AWS's API
 * models, what was refused, and which of gray-deploy's own AWS calls no test sent through the strict
 * proxy.
 *
 *   GRAY_STRICT_REPORT_DIR=/tmp/strict npx vitest run        # each strict proxy appends a line there
 *   npx tsx scripts/strict-report.ts /tmp/strict [--json]
 */
import { readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { scanTree } from "../test/iac/sdk-usage.js";
import { SUB_MINUTE_METRIC_TESTS } from "../test/support/strict/emulator-only.js";
import { SERVICES } from "../test/support/strict/models.js";
import type { StrictStats } from "../test/support/strict/proxy.js";

interface Line {
  readonly label: string | null;
  readonly stats: StrictStats;
  readonly violations: readonly string[];
}

const ROOT = resolve(import.meta.dirname, "..");

/** IAM prefix (sdk-usage's actions) → the SigV4 signing name the proxy records. */
const SIGNING: Record<string, string> = {
  elasticloadbalancing: "elasticloadbalancing",
  autoscaling: "autoscaling",
  ec2: "ec2",
  cloudwatch: "monitoring",
  dynamodb: "dynamodb",
  ecr: "ecr",
  sts: "sts",
  iam: "iam",
  lambda: "lambda",
};

export function summarise(dir: string) {
  const lines: Line[] = readdirSync(dir)
    .filter((f) => f.endsWith(".jsonl"))
    .flatMap((f) =>
      readFileSync(join(dir, f), "utf8")
        .split("\n")
        .filter((l) => l.trim() !== "")
        .map((l) => JSON.parse(l) as Line),
    );
  const byFile = new Map<
    string,
    { requests: number; checked: number; violations: string[]; exempted: number }
  >();
  const operations = new Map<string, number>();
  const toolOperations = new Map<string, number>();
  let requests = 0;
  let checked = 0;
  let passthrough = 0;
  let micros = 0;
  for (const l of lines) {
    const file = (l.label ?? "?").replace(`${ROOT}/`, "");
    const f = byFile.get(file) ?? { requests: 0, checked: 0, violations: [], exempted: 0 };
    f.requests += l.stats.requests;
    f.checked += l.stats.checked;
    f.violations.push(...l.violations);
    f.exempted += l.stats.exempted["cloudwatch.period"] ?? 0;
    byFile.set(file, f);
    requests += l.stats.requests;
    checked += l.stats.checked;
    passthrough += l.stats.passthrough;
    micros += l.stats.checkMicros;
    for (const [op, n] of Object.entries(l.stats.byOperation))
      operations.set(op, (operations.get(op) ?? 0) + n);
    for (const [op, n] of Object.entries(l.stats.byToolOperation ?? {})) {
      toolOperations.set(op, (toolOperations.get(op) ?? 0) + n);
    }
  }
  // gray-deploy's own calls (src/), as the IAM policy test finds them, against those the tool itself
  // (its User-Agent) sent through a strict proxy.
  const product = [...new Set(scanTree(ROOT).uses.map((u) => u.action))].sort();
  const unexercised = product.filter((a) => {
    const [prefix, op] = a.split(":");
    return !toolOperations.has(`${SIGNING[prefix!] ?? prefix}:${op}`);
  });
  const subMinuteListedButUnused = SUB_MINUTE_METRIC_TESTS.filter(
    (f) => byFile.has(f) && (byFile.get(f)?.exempted ?? 0) === 0,
  );
  return {
    proxies: lines.length,
    requests,
    checked,
    passthrough,
    checkMs: Math.round(micros / 1000),
    services: SERVICES.map((s) => s.dir),
    operationsChecked: operations.size,
    operations: Object.fromEntries([...operations].sort()),
    toolOperations: Object.fromEntries([...toolOperations].sort()),
    violations: [...byFile].flatMap(([file, f]) => f.violations.map((v) => `${file}: ${v.trim()}`)),
    violationGroups: group(
      [...byFile].flatMap(([file, f]) => f.violations.map((v) => [file, v.trim()] as const)),
    ),
    byFile: Object.fromEntries([...byFile].sort()),
    productOperations: product.length,
    unexercised,
    subMinuteListedButUnused,
  };
}

/** Violations per test file and kind (operation + rules), with one example each. */
function group(vs: readonly (readonly [string, string])[]) {
  const out = new Map<string, { file: string; what: string; count: number; example: string }>();
  for (const [file, v] of vs) {
    const op = /(REFUSED \(400\)|ACCEPTED BUT AWS RETURNS NO DATA) (\S+)/.exec(v);
    const rules = [...v.matchAll(/\[([a-z0-9.-]+) https|; ([a-z0-9.-]+) https/g)].map((m) => m[1] ?? m[2]);
    const what = `${op?.[2] ?? "?"} ${rules.length > 0 ? rules.join(",") : "model constraints"}`;
    const k = `${file} ${what}`;
    const g = out.get(k) ?? { file, what, count: 0, example: v };
    g.count++;
    out.set(k, g);
  }
  return [...out.values()];
}

if (process.argv[1] && import.meta.url === `file://${process.argv[1]}`) {
  const dir = process.argv[2];
  if (!dir) {
    console.error(
      "usage: npx tsx scripts/strict-report.ts DIR [--json]   (DIR: the run's GRAY_STRICT_REPORT_DIR)",
    );
    process.exit(2);
  }
  const s = summarise(dir);
  if (process.argv.includes("--json")) {
    console.log(JSON.stringify(s, null, 2));
  } else {
    console.log(
      `${s.proxies} strict proxies; ${s.requests} requests, ${s.checked} AWS calls checked against the models, ${s.passthrough} control requests passed through; checking took ${s.checkMs} ms in all`,
    );
    console.log(`${s.operationsChecked} operations checked:`);
    for (const [op, n] of Object.entries(s.operations)) console.log(`  ${op} ${n}`);
    console.log(`violations: ${s.violations.length}`);
    for (const g of s.violationGroups)
      console.log(`  ${g.count} × ${g.file} ${g.what}\n      e.g. ${g.example.slice(0, 300)}`);
    console.log(`gray-deploy's own calls (${s.productOperations}) that no test sent through strict mode:`);
    for (const a of s.unexercised) console.log(`  ${a}`);
    if (s.subMinuteListedButUnused.length > 0) {
      console.log("named in SUB_MINUTE_METRIC_TESTS but sent no sub-minute period this run:");
      for (const f of s.subMinuteListedButUnused) console.log(`  ${f}`);
    }
    console.log("per file (requests / checked / exempted sub-minute periods / violations):");
    for (const [f, v] of Object.entries(s.byFile)) {
      console.log(`  ${f} ${v.requests} / ${v.checked} / ${v.exempted} / ${v.violations.length}`);
    }
  }
}
