/** What the strict proxy found wrong with a request. */
export interface Issue {
  /** Where, in AWS's own notation (`actions.1.member.forwardConfig.targetGroups.2.member.weight`). */
  readonly path: string;
  /**
   * `missing`: a required member is absent; `unknown`: a parameter the model does not have; `invalid`:
   * a value that breaks the model's constraints; `rule`: a documented rule the model does not encode
   * (rules.ts); `unsupported`: a request the strict proxy cannot read (so it cannot vouch for it).
   */
  readonly kind: "missing" | "unknown" | "invalid" | "rule" | "unsupported";
  /** AWS-style: "Member must have value less than or equal to 999". */
  readonly message: string;
  readonly value?: unknown;
  /** For `rule`: the rule's id and the AWS documentation page it comes from. */
  readonly rule?: string;
  readonly doc?: string;
  /**
   * `refused`: AWS answers 400 (the proxy answers that too); `no-data`: AWS accepts the request but
   * documents that it returns nothing (the proxy forwards it and still records a violation).
   */
  readonly effect: "refused" | "no-data";
}

/** The AWS-style sentence for one issue, as in "1 validation error detected: …". */
export function describeIssue(i: Issue): string {
  if (i.kind === "missing") return `Value null at '${i.path}' failed to satisfy constraint: ${i.message}`;
  if (i.kind === "unknown") return `The parameter ${i.path} is not recognized`;
  if (i.kind === "rule" || i.kind === "unsupported") return `${i.path}: ${i.message}`;
  return `Value '${short(i.value)}' at '${i.path}' failed to satisfy constraint: ${i.message}`;
}

function short(v: unknown): string {
  const s = typeof v === "string" ? v : JSON.stringify(v);
  return s === undefined ? "undefined" : s.length > 80 ? `${s.slice(0, 77)}...` : s;
}
