/**
 * THE one place that lets a test send the emulator something real AWS would refuse (or answer with no
 * data). Strict mode (test/support/strict) applies every rule to every other request.
 *
 * - EMULATOR_ONLY: an entry relaxes ONE documented rule (a rules.ts id) for the test files it names,
 *   optionally only for requests that match `onlyWhen`, with the reason. Each entry is a request shape
 *   that never reaches real AWS; say why.
 * - STRICT_OFF: test files whose emulator runs without strict mode at all (`startEmulator({ strict:
 *   false })` is refused anywhere else).
 */

export interface EmulatorOnly {
  /** A rule id from rules.ts. */
  readonly rule: string;
  /** Test files (repository-relative) allowed to break it, or "all" for test plumbing every file uses. */
  readonly files: readonly string[] | "all";
  /** Only requests matching this are exempt; the rule still applies to every other request. */
  readonly onlyWhen?: { readonly describe: string; test(input: Record<string, unknown>): boolean };
  readonly why: string;
}

/** The smallest metric period a GetMetricData/GetMetricStatistics request asks for, in seconds. */
function smallestPeriod(input: Record<string, unknown>): number {
  const periods: number[] = [];
  for (const q of (input.MetricDataQueries as Record<string, unknown>[] | undefined) ?? []) {
    const p = (q.MetricStat as Record<string, unknown> | undefined)?.Period ?? q.Period;
    if (typeof p === "number") periods.push(p);
  }
  if (typeof input.Period === "number") periods.push(input.Period);
  return periods.length === 0 ? Number.POSITIVE_INFINITY : Math.min(...periods);
}

/**
 * The rollout tests that run gray-deploy with a sub-minute --metric-period against the emulator (the
 * tool refuses one without --endpoint: it never reaches real AWS). Keep this list in step with the
 * tests: a file that stops using sub-minute periods should leave it.
 */
export const SUB_MINUTE_METRIC_TESTS: readonly string[] = [
  "test/aws/rollout-promote.test.ts",
  "test/aws/rollout-rollback.test.ts",
  "test/aws/rollout-synthetic.test.ts",
  "test/aws/rollout-promotion-failed.test.ts",
  "test/aws/follow-load.test.ts",
  "test/business-e2e/cloudwatch.test.ts",
  "test/business-e2e/zabbix.test.ts",
  "test/gates/sources.test.ts",
  "test/live-check/emulator.test.ts",
  "test/guard/aws.test.ts",
  "test/guard/bundle.test.ts",
  "test/safety/control.test.ts",
  "test/safety/crash-resume.test.ts",
  "test/safety/faults.test.ts",
  "test/safety/rollback-release-crash.test.ts",
  "test/security/least-privilege.test.ts",
  "test/security/secrets.test.ts",
  // The way back's benchmark (issue 17): the same sub-minute rollouts, measured.
  "bench/way-back/run.ts",
];

export const EMULATOR_ONLY: readonly EmulatorOnly[] = [
  {
    rule: "cloudwatch.reserved-namespace",
    files: "all",
    why:
      "The emulated ALB data plane (test/aws/support/data-plane.ts) publishes AWS/ApplicationELB metrics with " +
      "PutMetricData, playing the load balancer itself; only AWS can publish there. gray-deploy never calls " +
      "PutMetricData (test/strict/strict.test.ts checks src/ with test/iac/sdk-usage.ts).",
  },
  {
    rule: "cloudwatch.period",
    files: SUB_MINUTE_METRIC_TESTS,
    onlyWhen: {
      describe: "the request's smallest period is under 60 s (a rollout with a sub-minute --metric-period)",
      test: (input) => smallestPeriod(input) < 60,
    },
    why:
      "With --metric-period 1s every window is a whole number of seconds, and each window's p95/p99 is read " +
      "with Period = the window (planMetricQueries; history windows start at any step start), so periods such as " +
      "2, 3, 7, 88 s appear, which real AWS refuses (only 1, 5, 10, 20, 30 or multiples of 60). Against AWS the " +
      "tool forces 60-s multiples (contract/options.ts: no sub-minute --metric-period without --endpoint), and then " +
      "every window is a multiple of 60: requests with a smallest period of 60 s or more are fully checked here too. " +
      "High-resolution reads on real AWS need windows that are legal periods (a later issue).",
  },
];

/**
 * Test files whose emulator has no strict proxy at all: they test the EMULATOR (moto plus
 * test/emulator/gray_emulator), including its own answers to requests AWS refuses, not gray-deploy.
 */
export const STRICT_OFF: readonly { readonly files: string; readonly why: string }[] = [
  {
    files: "test/emulator-selftest/",
    why:
      "The emulator's self-tests prove what moto and the extension answer, invalid requests included " +
      "(e.g. AutoRollback with $Latest must be a ValidationError FROM THE EMULATOR).",
  },
];

const relative = (testFile: string | undefined): string | undefined =>
  testFile?.replace(/\\/g, "/").replace(/^.*?\/(test|bench|scripts)\//, "$1/");

/** The exemptions that apply to a test file (absolute or repository-relative path). */
export function exemptionsFor(testFile: string | undefined): EmulatorOnly[] {
  const rel = relative(testFile);
  return EMULATOR_ONLY.filter((e) => e.files === "all" || (rel !== undefined && e.files.includes(rel)));
}

/** Whether a file may start the emulator without strict mode. */
export function strictOffAllowed(testFile: string | undefined): boolean {
  const rel = relative(testFile);
  return rel !== undefined && STRICT_OFF.some((s) => rel.startsWith(s.files));
}
