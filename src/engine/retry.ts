/**
 * The one retry mechanism of gray-deploy: p-retry, with every wait on the injected clock (so tests
 * in virtual time never really sleep) and one policy per kind of call (RETRY below). Two shapes:
 *
 * - `retry(policy, op)`: do something until it succeeds, as often and as long as the policy says
 *   (a verified weight write, a rollback's return to stable, a smoke check, a takeover race).
 * - `waitUntil(check, …)`: poll a condition in the world (targets healthy, an instance refresh
 *   finished, local processes up), shaped like smithy's waiters — each check answers SUCCESS, RETRY
 *   or FAILURE with what it observed; the wait ends in SUCCESS, FAILURE or TIMEOUT with a record of
 *   the observations, or throws AbortedError when its signal aborts.
 *
 * What is not here: each AWS API call is retried by the AWS SDK's own standard strategy (throttling,
 * 5xx, network; src/aws/api.ts), below any policy of this file. SDK waiters (`waitUntil…`) are not
 * used: they hide which Describe call they make from the IAM policy test, and their delays are whole
 * seconds, too coarse against an emulator.
 */
import pRetry, { AbortError } from "p-retry";
import { AbortedError, isGrayDeployError, toGrayDeployError } from "../contract/errors.js";
import type { Clock } from "../ports/index.js";

export interface RetryPolicy {
  /** At least this many attempts (the first included), unless an error is not retryable. */
  readonly attempts: number;
  /** …and, past them, keep trying until this long after the first attempt began. */
  readonly forAtLeastMs?: number;
  /** Never start an attempt (nor sleep) past this long after the first attempt began. */
  readonly deadlineMs?: number;
  /** Delay before the second attempt; each next one is `factor` times longer, up to `maxDelayMs`. */
  readonly firstDelayMs: number;
  readonly factor: number;
  readonly maxDelayMs: number;
  /** Spreads each delay by up to this fraction (0.5: ×1 to ×1.5), so pollers do not move in step. */
  readonly jitter?: number;
  /** Whether an error is worth another attempt. Default: any but AbortedError. */
  readonly retryable?: (e: unknown) => boolean;
}

/**
 * An error worth making the same call again for: one the adapters marked retryable (throttling, a
 * 5xx, a lost connection, after the SDK's own attempts), never an abort. The one test of "transient"
 * every policy below and the weight writes (traffic.ts) use.
 */
export function transient(e: unknown): boolean {
  return !(e instanceof AbortedError) && toGrayDeployError(e).retryable;
}

/** The policies, one per kind of call. */
export const RETRY = {
  /** A weight write read back different: write again, soon (250 ms, 500 ms), three times in all. */
  verifiedWrite: { attempts: 3, firstDelayMs: 250, factor: 2, maxDelayMs: 500 },
  /**
   * Stable back to 100% in a rollback: at least 5 attempts AND at least one lock lease (2 min by
   * default on AWS): five attempts alone gave up after ~17 s, so a 24 s ModifyRule outage ended in
   * rollback-failed while traffic stayed on gray. Sleeps double from 1 s up to 15 s.
   */
  restoreStable: (leaseMs: number): RetryPolicy => ({
    attempts: 5,
    forAtLeastMs: leaseMs,
    firstDelayMs: 1000,
    factor: 2,
    maxDelayMs: 15_000,
  }),
  /**
   * Tidying up after a promotion (gray to zero, stable's pin released): traffic already is on the
   * promoted fleet and every call is idempotent, so a transient AWS error is tried again as a return
   * to stable is — at least 5 times AND for one lock lease — instead of turning a promoted release into
   * a rollback (a 30% fault run saw ResumeProcesses fail its SDK's five attempts).
   */
  cleanup: (leaseMs: number): RetryPolicy => ({
    attempts: 5,
    forAtLeastMs: leaseMs,
    firstDelayMs: 1000,
    factor: 2,
    maxDelayMs: 15_000,
    retryable: transient,
  }),
  /**
   * Recording the rollout's state (a conditional DynamoDB write) that failed with a retryable error:
   * 5 attempts, 500 ms, 1 s, 2 s, 4 s apart. The SDK already tried each call five times; a 30% fault
   * run still saw all five fail (0.3⁵ per call, hundreds of calls per rollout) and the engine rolled a
   * healthy release back only because it could not write down that it was healthy.
   */
  stateSave: {
    attempts: 5,
    firstDelayMs: 500,
    factor: 2,
    maxDelayMs: 4000,
    retryable: transient,
  },
  /**
   * An AWS read (Describe/Get/List) whose SDK attempts all failed with a retryable error: sent again
   * twice, about 1 s and 3 s later (three rounds of the SDK's five attempts). A read changes nothing,
   * so repeating it is always safe; without it a 30% fault run failed a preflight or a health poll
   * once in a few hundred calls (0.3⁵ per call). Reads of metrics are not repeated: a failed read is
   * an observation the gates already handle, and repeating it would only delay their verdict.
   */
  awsRead: {
    attempts: 3,
    firstDelayMs: 1000,
    factor: 3,
    maxDelayMs: 3000,
    jitter: 0.5,
    retryable: transient,
  },
  /**
   * A step of the rollout that is idempotent by design (preparing the release: find-or-create its
   * launch template version and pin stable; sizing gray to N and waiting for it) that failed with a
   * retryable AWS error after the SDK's attempts: done again, 2 s then 4 s later, before the error
   * turns a healthy release into a rollback.
   */
  idempotentStep: {
    attempts: 3,
    firstDelayMs: 2000,
    factor: 2,
    maxDelayMs: 4000,
    retryable: transient,
  },
  /** A smoke check through the load balancer that got no answer (refused, reset, timed out): three tries, 500 ms then 1 s apart. */
  smokeCheck: { attempts: 3, firstDelayMs: 500, factor: 2, maxDelayMs: 1000 },
  /**
   * A synthetic transaction that got no answer: once more after 500 ms when repeating it is safe
   * (an idempotent method, or an Idempotency-Key header); a charge without a key is never sent twice.
   */
  synthetic: (repeatable: boolean): RetryPolicy => ({
    attempts: repeatable ? 2 : 1,
    firstDelayMs: 500,
    factor: 2,
    maxDelayMs: 1000,
    retryable: transient,
  }),
  /** A lifecycle hook that gave no answer (connection error, timeout): `retries` more, 1 s, 2 s, 4 s… apart. */
  hookCall: (retries: number): RetryPolicy => ({
    attempts: retries + 1,
    firstDelayMs: 1000,
    factor: 2,
    maxDelayMs: 8000,
    retryable: transient,
  }),
  /** Another process wrote the rollout between our read and our write: read again, write again, 5 times. */
  takeover: { attempts: 5, firstDelayMs: 0, factor: 1, maxDelayMs: 0 },
  /** Polling the world until a condition holds or a deadline passes (waitUntil). */
  poll: (timeoutMs: number, minDelayMs: number, maxDelayMs: number): RetryPolicy => ({
    attempts: 1,
    forAtLeastMs: timeoutMs,
    deadlineMs: timeoutMs,
    firstDelayMs: minDelayMs,
    factor: 1.5,
    maxDelayMs,
    jitter: 1,
  }),
} as const satisfies Record<string, RetryPolicy | ((...args: never[]) => RetryPolicy)>;

export interface RetryDeps {
  readonly clock: Clock;
  /** Aborts the sleeps between attempts (AbortedError); the operation gets it from its own caller. */
  readonly signal?: AbortSignal | undefined;
  /** Told about every failed attempt, and whether another follows. */
  readonly onFailure?: (failure: AttemptFailure) => void;
  /** For the jitter. Default Math.random. */
  readonly random?: () => number;
}

export interface AttemptFailure {
  readonly attempt: number;
  readonly error: unknown;
  readonly elapsedMs: number;
  /** Null when no attempt follows. */
  readonly nextDelayMs: number | null;
}

const notAborted = (e: unknown) => !(e instanceof AbortedError);

/** Runs `op` until it succeeds or the policy gives up; rejects with the last error then. */
export async function retry<T>(
  policy: RetryPolicy,
  op: (attempt: number) => Promise<T>,
  deps: RetryDeps,
): Promise<T> {
  const { clock } = deps;
  const started = clock.now();
  let delay = 0;
  return pRetry(
    async (attempt) => {
      if (attempt > 1 && delay > 0) await clock.sleep(delay, deps.signal);
      return op(attempt);
    },
    {
      retries: Number.POSITIVE_INFINITY,
      // Delays are this file's, on the injected clock: p-retry itself never waits.
      minTimeout: 0,
      maxTimeout: 0,
      shouldRetry: ({ error, attemptNumber }) => {
        const elapsedMs = clock.now() - started;
        const more =
          (attemptNumber < policy.attempts || elapsedMs < (policy.forAtLeastMs ?? 0)) &&
          (policy.deadlineMs === undefined || elapsedMs < policy.deadlineMs) &&
          notAborted(error) &&
          (policy.retryable ?? notAborted)(error);
        if (more) {
          const spread = 1 + (policy.jitter ?? 0) * (deps.random ?? Math.random)();
          const grown = policy.firstDelayMs * policy.factor ** (attemptNumber - 1) * spread;
          delay = Math.min(policy.maxDelayMs, Math.round(grown));
          if (policy.deadlineMs !== undefined)
            delay = Math.min(delay, Math.max(0, policy.deadlineMs - elapsedMs));
        }
        deps.onFailure?.({ attempt: attemptNumber, error, elapsedMs, nextDelayMs: more ? delay : null });
        return more;
      },
    },
  );
}

export type Check<T> =
  | { readonly state: "SUCCESS"; readonly value: T; readonly observed: string }
  | { readonly state: "RETRY"; readonly observed: string }
  | { readonly state: "FAILURE"; readonly reason: string; readonly observed: string };

export type WaitResult<T> =
  | { readonly state: "SUCCESS"; readonly value: T; readonly observed: Readonly<Record<string, number>> }
  | {
      readonly state: "FAILURE" | "TIMEOUT";
      readonly reason: string;
      /** The last observation. */
      readonly last: string;
      /** Each distinct observation with how many checks saw it (smithy's observedResponses). */
      readonly observed: Readonly<Record<string, number>>;
    };

export interface WaitOptions {
  readonly timeoutMs: number;
  /** First delay between checks. */
  readonly minDelayMs: number;
  /** Longest delay between checks. */
  readonly maxDelayMs: number;
  readonly signal?: AbortSignal | undefined;
  readonly clock: Clock;
}

class NotYet extends Error {
  constructor(readonly observed: string) {
    super(observed);
  }
}

class Failed extends Error {
  constructor(
    readonly reason: string,
    readonly observed: string,
  ) {
    super(reason);
  }
}

/**
 * Polls `check` until it succeeds or fails, the deadline passes, or the signal aborts (AbortedError).
 * A check that throws a retryable GrayDeployError (throttling that outlived the SDK's retries) counts
 * as one more RETRY; any other error ends the wait by propagating.
 */
export async function waitUntil<T>(check: () => Promise<Check<T>>, o: WaitOptions): Promise<WaitResult<T>> {
  const observed = new Map<string, number>();
  let last = "nothing observed yet";
  const note = (what: string) => {
    last = what;
    observed.set(what, (observed.get(what) ?? 0) + 1);
  };
  const record = () => Object.fromEntries(observed);
  const policy: RetryPolicy = {
    ...RETRY.poll(o.timeoutMs, o.minDelayMs, o.maxDelayMs),
    retryable: (e) => e instanceof NotYet,
  };
  try {
    const value = await retry(
      policy,
      async () => {
        if (o.signal?.aborted)
          throw new AbortedError("interrupted while waiting", { cause: o.signal.reason });
        let c: Check<T>;
        try {
          c = await check();
        } catch (e) {
          if (isGrayDeployError(e) && e.retryable) {
            note(`error: ${e.message}`);
            throw new NotYet(e.message);
          }
          throw new AbortError(e instanceof Error ? e : new Error(String(e)));
        }
        note(c.observed);
        if (c.state === "SUCCESS") return c.value;
        if (c.state === "FAILURE") throw new Failed(c.reason, c.observed);
        throw new NotYet(c.observed);
      },
      { clock: o.clock, signal: o.signal },
    );
    return { state: "SUCCESS", value, observed: record() };
  } catch (e) {
    if (o.signal?.aborted) throw new AbortedError("interrupted while waiting", { cause: o.signal.reason });
    if (e instanceof Failed)
      return { state: "FAILURE", reason: e.reason, last: e.observed, observed: record() };
    if (e instanceof NotYet) {
      return { state: "TIMEOUT", reason: `not done after ${o.timeoutMs} ms`, last, observed: record() };
    }
    throw e;
  }
}
