/**
 * Waiting on a condition in AWS (targets healthy, an instance refresh finished), shaped like smithy's
 * waiters — each check answers SUCCESS, RETRY or FAILURE with what it observed; the wait ends in
 * SUCCESS, FAILURE, TIMEOUT or ABORTED with a record of the observations — and driven by p-retry:
 * exponential backoff with jitter between checks, a deadline (`maxRetryTime`) and an AbortSignal.
 *
 * SDK waiters (`waitUntil…`) are not used: they hide which Describe call they make from the IAM
 * policy test, and their delays are whole seconds, too coarse against an emulator.
 * A check that throws a retryable provider error (throttling that outlived the SDK's retries) counts
 * as one more RETRY; any other error ends the wait by propagating.
 */
import pRetry, { AbortError } from "p-retry";
import { AbortedError, isGrayDeployError } from "../contract/errors.js";

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

/** Polls `check` until it succeeds or fails, the deadline passes, or the signal aborts (AbortedError). */
export async function waitUntil<T>(check: () => Promise<Check<T>>, o: WaitOptions): Promise<WaitResult<T>> {
  const observed = new Map<string, number>();
  let last = "nothing observed yet";
  const note = (what: string) => {
    last = what;
    observed.set(what, (observed.get(what) ?? 0) + 1);
  };
  const record = () => Object.fromEntries(observed);
  try {
    const value = await pRetry(
      async () => {
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
        if (c.state === "FAILURE") throw new AbortError(new Failed(c.reason, c.observed));
        throw new NotYet(c.observed);
      },
      {
        retries: Number.POSITIVE_INFINITY,
        factor: 1.5,
        minTimeout: o.minDelayMs,
        maxTimeout: o.maxDelayMs,
        randomize: true,
        maxRetryTime: o.timeoutMs,
        ...(o.signal === undefined ? {} : { signal: o.signal }),
      },
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
