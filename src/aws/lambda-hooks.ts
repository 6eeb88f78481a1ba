/**
 * Lambda lifecycle hooks: Invoke (RequestResponse) with the hook's context as the event, the same
 * context an HTTP hook is POSTed; what the function returns means what an HTTP answer means
 * (src/core/hooks.ts: `{ "status": 200 }`, 409/423 for not yet, ECS's `hookStatus` understood). A
 * function error (FunctionError) fails the hook. IAM authenticates the call (lambda:InvokeFunction
 * in the Terraform module's policy); there is no signature.
 *
 * Before anything changes, each function is invoked with InvocationType DryRun, which AWS answers
 * (204) without running it once it checked the function exists and the caller may invoke it.
 */
import { AbortedError, PreflightError, ProviderError, toGrayDeployError } from "../contract/errors.js";
import type { HookAnswer, HookContext, HookSpec } from "../core/hooks.js";
import { lambdaAnswer } from "../core/hooks.js";
import type { HookCaller } from "../ports/index.js";
import type { AwsApi } from "./api.js";
import { isAwsCode } from "./errors.js";

/** The function's region: its ARN's, else the connection's. */
export function functionRegion(fn: string, fallback: string): string {
  const m = /^arn:aws[a-z-]*:lambda:([a-z0-9-]+):\d{12}:function:/.exec(fn);
  return m?.[1] ?? fallback;
}

export class LambdaHookCaller implements HookCaller {
  constructor(
    private readonly api: AwsApi,
    private readonly region: string,
  ) {}

  async call(hook: HookSpec, context: HookContext, signal?: AbortSignal): Promise<HookAnswer> {
    if (hook.kind !== "lambda") return { kind: "fail", detail: `is a ${hook.kind} hook, not a Lambda one` };
    const timeout = AbortSignal.timeout(hook.timeoutMs);
    const both = signal === undefined ? timeout : AbortSignal.any([signal, timeout]);
    try {
      const out = await this.api.lambda(functionRegion(hook.function, this.region)).invoke(
        {
          FunctionName: hook.function,
          InvocationType: "RequestResponse",
          Payload: new TextEncoder().encode(JSON.stringify(context)),
        },
        both,
      );
      const payload = out.Payload === undefined ? "" : new TextDecoder().decode(out.Payload);
      return lambdaAnswer(out.FunctionError ?? null, payload);
    } catch (e) {
      if (signal?.aborted) throw new AbortedError("hook call aborted", { cause: signal.reason });
      if (timeout.aborted) {
        throw new ProviderError(`Lambda ${hook.function}: no answer within ${hook.timeoutMs} ms`, {
          retryable: true,
        });
      }
      const err = toGrayDeployError(e);
      if (err.retryable) throw err;
      // Not there, not allowed, not runnable: asking again will not help.
      return { kind: "fail", detail: `could not be invoked: ${err.message}` };
    }
  }

  async preflight(hooks: readonly HookSpec[], signal?: AbortSignal): Promise<string[]> {
    const facts: string[] = [];
    for (const [i, hook] of hooks.entries()) {
      if (hook.kind !== "lambda") continue;
      try {
        await this.api
          .lambda(functionRegion(hook.function, this.region))
          .invoke({ FunctionName: hook.function, InvocationType: "DryRun" }, signal);
      } catch (e) {
        const missing = isAwsCode(e, "ResourceNotFoundException");
        throw new PreflightError(
          missing
            ? `the Lambda function ${hook.function} of hook ${hook.name} does not exist`
            : `the Lambda function ${hook.function} of hook ${hook.name} cannot be invoked: ${toGrayDeployError(e).message}`,
          {
            field: `hooks[${i}].lambda`,
            fix: missing
              ? "deploy the function, or correct its name (a function name, name:alias or ARN)"
              : "allow lambda:InvokeFunction on it (the Terraform module's hook_function_name_prefix) and check the function's state",
            cause: e,
          },
        );
      }
      facts.push(`hook ${hook.name}: Lambda ${hook.function} can be invoked (DryRun)`);
    }
    return facts;
  }
}
