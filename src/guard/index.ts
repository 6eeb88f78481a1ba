/**
 * The guard's AWS Lambda entry point (handler `index.handler` in the package scripts/package-guard.ts
 * builds). Only the handler: no work at import time, so the Dagger runtime can load this file too.
 */
import { systemClock } from "../engine/clock.js";
import { type GuardResult, runGuard } from "./run.js";

/** The part of Lambda's context object the guard uses. */
export interface LambdaContext {
  readonly awsRequestId?: string;
}

export async function handler(event: unknown, context?: LambdaContext): Promise<GuardResult> {
  return runGuard(event, {
    clock: systemClock(),
    env: process.env,
    ...(context?.awsRequestId === undefined ? {} : { requestId: context.awsRequestId }),
  });
}
