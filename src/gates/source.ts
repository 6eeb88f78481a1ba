/**
 * A gate source as the domain sees it: the name a declaration's `source` gives, the fields of its
 * metric, and its parser. Each source (src/aws/cloudwatch, src/zabbix) declares one, with its reader
 * and options, in its own folder; src/app/registry.ts lists them. The helpers below are shared by
 * the sources' parsers.
 */
import type { GateMetric } from "./types.js";

/** Reports a problem at a field of the declaration being parsed (`dimensions.Method`, `hosts.tags`). */
export type IssueFn = (field: string, message: string) => void;

export interface GateSourceSpec {
  /** What a declaration's `source` says: `cloudwatch`, `zabbix`. */
  readonly name: string;
  /** The fields of this source's metric in a declaration (others are refused, naming their source). */
  readonly fields: readonly string[];
  /**
   * The metric of a declaration, with its `label` and `title`; null after reporting each problem
   * through `issue`.
   */
  parseMetric(declaration: Readonly<Record<string, unknown>>, issue: IssueFn): GateMetric | null;
}

export function requiredString(
  o: Readonly<Record<string, unknown>>,
  field: string,
  issue: IssueFn,
): string | null {
  const v = o[field];
  if (v === undefined) {
    issue(field, "required");
    return null;
  }
  if (typeof v !== "string" || v.trim() === "") {
    issue(field, "must be a non-empty string");
    return null;
  }
  return v.trim();
}

/** `{asg}`-style placeholders in `text` that are not allowed here. */
function badPlaceholders(text: string, allowed: readonly string[]): string[] {
  return [...text.matchAll(/\{([^{}]*)\}/g)].map((m) => m[1]!).filter((p) => !allowed.includes(p));
}

export function placeholderIssue(
  field: string,
  text: string,
  allowed: readonly string[],
  issue: IssueFn,
): void {
  const bad = badPlaceholders(text, allowed);
  if (bad.length > 0) {
    issue(
      field,
      `unknown placeholder ${bad.map((b) => `{${b}}`).join(", ")}: use ${allowed.map((a) => `{${a}}`).join(", ")}`,
    );
  }
}
