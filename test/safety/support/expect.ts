/** Assertions shared by the safety tests (vitest only; the bench scripts use the reports). */
import { expect } from "vitest";
import type { ConvergenceReport } from "./scenario.js";

/**
 * An ended rollout left the world as it must: one release version at most, stable on the right
 * version with exactly the settings it had before (the pin restored), gray empty, traffic on stable,
 * no instance refresh running.
 */
export function expectConverged(c: ConvergenceReport, why: string, templateVersions = [1, 2]): void {
  expect(c.templateVersions, `exactly one new launch template version\n${why}`).toEqual(templateVersions);
  expect({ stable: c.weights.stable, gray: c.weights.gray }, why).toEqual({ stable: 100, gray: 0 });
  expect(c.stable, `stable restored\n${why}`).toMatchObject({
    version: c.expectedStable.version,
    instanceVersions: [c.expectedStable.version, c.expectedStable.version],
    desired: 2,
    min: c.expectedStable.min,
    suspended: c.expectedStable.suspended,
    pinned: false,
  });
  expect(c.gray, `gray empty\n${why}`).toMatchObject({ desired: 0, min: 0 });
  expect(c.grayInstances, `no orphaned gray instance\n${why}`).toEqual([]);
  expect(c.activeRefreshes, why).toEqual([]);
}

/** `part` appears in `whole` in order (not necessarily contiguously). */
export function expectSubsequence(part: readonly number[], whole: readonly number[], why: string): void {
  let i = 0;
  for (const x of whole) if (i < part.length && part[i] === x) i++;
  expect(i, `${JSON.stringify(part)} is not a subsequence of ${JSON.stringify(whole)}\n${why}`).toBe(
    part.length,
  );
}
