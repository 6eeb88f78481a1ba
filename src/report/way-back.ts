/**
 * Two facts of report.md for issue 17: how the fleets followed the load (every `scale` decision, in
 * order) and the way back the release offers (its keep-previous window, rollback-release's window, or
 * the rollout a restore undoes). Empty when the run has none of them.
 */
import type { Outcome } from "../contract/outcome.js";

export function wayBackFacts(o: Outcome, code: (s: string) => string): [string, string][] {
  const facts: [string, string][] = [];
  const scales = o.decisions.filter((d) => d.kind === "scale" && d.capacity !== undefined);
  if (scales.length > 0) {
    const pools = (["gray", "stable"] as const)
      .map((pool) => {
        const c = scales.filter((d) => d.capacity!.pool === pool).map((d) => d.capacity!);
        return c.length === 0 ? null : `${pool} ${[c[0]!.from, ...c.map((x) => x.to)].join(" → ")}`;
      })
      .filter((s): s is string => s !== null);
    facts.push([
      "Followed the load",
      `${pools.join("; ")} (${scales.length} change(s); reasons under All decisions)`,
    ]);
  }
  if (o.keepPreviousUntil)
    facts.push([
      "Previous version warm until",
      `${o.keepPreviousUntil} (a rollback until then is one weight write)`,
    ]);
  if (o.rollbackReleaseUntil)
    facts.push(["Way back", `${code("gray-deploy rollback-release")} until ${o.rollbackReleaseUntil}`]);
  if (o.restoreOf)
    facts.push([
      "Rolls back",
      `the release of rollout ${code(o.restoreOf.rolloutId)} (${code(o.restoreOf.image)}, version ${code(o.restoreOf.version)}): the version before it back on stable`,
    ]);
  return facts;
}
