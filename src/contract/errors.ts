/**
 * The typed error hierarchy every layer throws. Tests assert on `code`, never on message text.
 * Messages name the problem and the fix; they never contain credentials.
 */

export const ErrorCode = {
  /** Bad option, flag or config file: nothing was changed. Exit 2. */
  InvalidInput: "INVALID_INPUT",
  /** The environment does not match what the options say (resources, attachments, versions): nothing changed. Exit 2. */
  Preflight: "PREFLIGHT_FAILED",
  /** Another rollout holds the lock for this load balancer. Exit 6. */
  Locked: "LOCKED",
  /** A write could not be verified by reading it back. */
  Verification: "VERIFICATION_FAILED",
  /** Waited for a condition past its deadline. */
  Timeout: "TIMEOUT",
  /** An operator or a signal stopped the run. */
  Aborted: "ABORTED",
  /** The cloud provider answered with an error (throttling, 5xx, access denied...). */
  Provider: "PROVIDER_ERROR",
  /** The stored rollout state does not allow the requested action (e.g. `promote` on a finished rollout). */
  State: "INVALID_STATE",
  /** Traffic could not be returned to stable. A person must act. */
  RollbackFailed: "ROLLBACK_FAILED",
  /** Credentials are missing, expired or lack a permission. */
  Credentials: "CREDENTIALS",
  /** A bug or an unexpected condition. */
  Internal: "INTERNAL",
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/**
 * What an error means for the request, decided once per code so that every front end and every verb
 * settles failures the same way:
 * - `refusal`: nothing was changed, the request itself cannot proceed (bad input, an environment that
 *   does not match, missing credentials, a held lock, a stored state that does not allow it). The
 *   Outcome is `refused` (exit 2, or 6 for a held lock).
 * - `failure`: something went wrong while acting. The Outcome is `failed` (exit 1).
 */
export type Disposition = "refusal" | "failure";

export const DISPOSITION: Readonly<Record<ErrorCode, Disposition>> = {
  INVALID_INPUT: "refusal",
  PREFLIGHT_FAILED: "refusal",
  LOCKED: "refusal",
  INVALID_STATE: "refusal",
  CREDENTIALS: "refusal",
  VERIFICATION_FAILED: "failure",
  TIMEOUT: "failure",
  ABORTED: "failure",
  PROVIDER_ERROR: "failure",
  ROLLBACK_FAILED: "failure",
  INTERNAL: "failure",
};

export interface ErrorDetails {
  /** Whether doing the same thing again may succeed (throttling, timeouts, 5xx). */
  retryable?: boolean;
  cause?: unknown;
  /** The option or resource the error is about, when there is one (camelCase option name or an ARN). */
  field?: string;
  /** What the user should do. */
  fix?: string;
}

export class GrayDeployError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly field: string | undefined;
  readonly fix: string | undefined;

  constructor(code: ErrorCode, message: string, details: ErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = new.target.name;
    this.code = code;
    this.retryable = details.retryable ?? false;
    this.field = details.field;
    this.fix = details.fix;
  }

  /** A plain JSON form for Outcomes and reports. */
  toJSON(): { code: ErrorCode; message: string; retryable: boolean; field?: string; fix?: string } {
    return {
      code: this.code,
      message: this.message,
      retryable: this.retryable,
      ...(this.field === undefined ? {} : { field: this.field }),
      ...(this.fix === undefined ? {} : { fix: this.fix }),
    };
  }
}

/** One or more invalid inputs; `issues` lists each field with its message. */
export class InvalidInputError extends GrayDeployError {
  readonly issues: readonly { field: string; message: string }[];
  constructor(issues: readonly { field: string; message: string }[], fix?: string) {
    // A field inside a structured option keeps its path as written: --gates[1].metricName.
    const flag = (f: string) => f.replace(/^[A-Za-z0-9]+/, (head) => kebab(head));
    const text = issues.map((i) => (i.field ? `--${flag(i.field)}: ${i.message}` : i.message)).join("; ");
    super(ErrorCode.InvalidInput, `invalid input: ${text}`, {
      field: issues[0]?.field,
      fix: fix ?? "correct the value(s) above and run again; nothing was changed",
    });
    this.issues = issues;
  }
}

export class PreflightError extends GrayDeployError {
  constructor(message: string, details: ErrorDetails = {}) {
    super(ErrorCode.Preflight, message, details);
  }
}

export class LockedError extends GrayDeployError {
  readonly holder: LockHolderInfo;
  constructor(holder: LockHolderInfo) {
    super(
      ErrorCode.Locked,
      `another rollout holds the lock for ${holder.scope}: rollout ${holder.rolloutId} (${holder.image}) in phase ` +
        `${holder.phase}, started by ${holder.startedBy} at ${new Date(holder.startedAt).toISOString()}`,
      {
        fix: "wait for it to end, or end it with `gray-deploy abort`, or rerun with --supersede to abort it first",
      },
    );
    this.holder = holder;
  }
}

export interface LockHolderInfo {
  scope: string;
  rolloutId: string;
  image: string;
  phase: string;
  startedBy: string;
  startedAt: number;
}

export class VerificationError extends GrayDeployError {
  constructor(message: string, details: ErrorDetails = {}) {
    super(ErrorCode.Verification, message, { retryable: true, ...details });
  }
}

export class TimeoutError extends GrayDeployError {
  constructor(message: string, details: ErrorDetails = {}) {
    super(ErrorCode.Timeout, message, details);
  }
}

export class AbortedError extends GrayDeployError {
  constructor(message = "aborted", details: ErrorDetails = {}) {
    super(ErrorCode.Aborted, message, details);
  }
}

export class ProviderError extends GrayDeployError {
  constructor(message: string, details: ErrorDetails = {}) {
    super(ErrorCode.Provider, message, details);
  }
}

export class StateError extends GrayDeployError {
  constructor(message: string, details: ErrorDetails = {}) {
    super(ErrorCode.State, message, details);
  }
}

export class CredentialsError extends GrayDeployError {
  constructor(message: string, details: ErrorDetails = {}) {
    super(ErrorCode.Credentials, message, details);
  }
}

export function isGrayDeployError(e: unknown): e is GrayDeployError {
  return e instanceof GrayDeployError;
}

/** True when the error means "nothing was changed; the request itself cannot proceed" (DISPOSITION). */
export function isRefusal(e: Pick<GrayDeployError, "code">): boolean {
  return DISPOSITION[e.code] === "refusal";
}

/** Wraps anything thrown into a GrayDeployError, keeping the original as `cause`. */
export function toGrayDeployError(e: unknown): GrayDeployError {
  if (e instanceof GrayDeployError) return e;
  const message = e instanceof Error ? e.message : String(e);
  return new GrayDeployError(ErrorCode.Internal, message, { cause: e });
}

export function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}
