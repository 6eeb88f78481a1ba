/**
 * The order vitest hands test files to its workers: the longest first, the CPU-heavy safety
 * files spread out (each runs several scenarios with real traffic at once; together they would take
 * every worker while the files that mostly wait sat in the queue), then the rest in vitest's own order
 * (failed and slow first by its cache of earlier runs, else larger first). A longest-first start keeps
 * one long file from running alone at the end. The list follows per-file times measured for issue 14;
 * a file missing from it (or renamed) only runs later, never not at all.
 */
import { relative } from "node:path";
import { BaseSequencer, type TestSpecification } from "vitest/node";

export const FIRST: readonly string[] = [
  "test/safety/crash-resume.test.ts",
  "test/dagger/rehearsal.test.ts",
  "test/security/least-privilege.test.ts",
  "test/safety/rollback-release-crash.test.ts",
  "test/business-e2e/zabbix.test.ts",
  "test/local-e2e/rollout.test.ts",
  "test/local-e2e/follow-load.test.ts",
  "test/safety/faults.test.ts",
  "test/report/cli-e2e.test.ts",
  "test/local-e2e/checks.test.ts",
  "test/bad-input/catalogue.test.ts",
  "test/guard/aws.test.ts",
  "test/live-check/emulator.test.ts",
  "test/dagger/module.test.ts",
  "test/aws/preflight.test.ts",
  "test/safety/control.test.ts",
  "test/bench/analysis.test.ts",
  "test/aws/rollout-promotion-failed.test.ts",
  "test/aws/rollout-promote.test.ts",
  "test/aws/follow-load.test.ts",
  "test/aws/service-signal.test.ts",
  "test/local-e2e/cli.test.ts",
  "test/security/secrets.test.ts",
  "test/dagger/module-aws.test.ts",
  "test/emulator-selftest/instance-refresh.test.ts",
  "test/aws/rollout-rollback.test.ts",
  "test/aws/rollout-synthetic.test.ts",
  "test/guard/bundle.test.ts",
];

export default class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const rank = (f: TestSpecification): number => {
      const i = FIRST.indexOf(relative(this.ctx.config.root, f.moduleId));
      return i === -1 ? FIRST.length : i;
    };
    // Array.prototype.sort is stable: files outside the list keep vitest's order among themselves.
    return sorted.sort((a, b) => rank(a) - rank(b));
  }
}
