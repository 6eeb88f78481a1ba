/**
 * AWS SDK errors → the contract's typed errors. Every SDK call of src/aws goes through `mapAwsError`
 * (see api.ts), so adapters only ever see GrayDeployErrors: `AwsCallError` (a ProviderError that keeps
 * the AWS error code for adapters to branch on), CredentialsError, or AbortedError.
 *
 * The SDK's retry strategy has already retried throttling, 5xx and network errors by the time an
 * error reaches here; what is left is final for this call. `retryable` still says whether doing the
 * same thing later may succeed, for the engine's own loops.
 */
import { AbortedError, CredentialsError, GrayDeployError, ProviderError } from "../contract/errors.js";

/** An AWS API call that failed with an error the adapters may want to recognise by `awsCode`. */
export class AwsCallError extends ProviderError {
  /** The AWS error code (`RuleNotFoundException`, `ConditionalCheckFailedException`, …). */
  readonly awsCode: string;
  /** `service:Operation`, as IAM names it. */
  readonly operation: string;
  readonly httpStatus: number | undefined;
  constructor(
    operation: string,
    awsCode: string,
    message: string,
    details: { retryable: boolean; httpStatus: number | undefined; cause: unknown; fix?: string },
  ) {
    super(`${operation} failed: ${awsCode}: ${message}`, {
      retryable: details.retryable,
      cause: details.cause,
      ...(details.fix === undefined ? {} : { fix: details.fix }),
    });
    this.awsCode = awsCode;
    this.operation = operation;
    this.httpStatus = details.httpStatus;
  }
}

/** Error codes meaning "who you are" or "what you may do" is the problem, not the request. */
const DENIED = new Set([
  "AccessDenied",
  "AccessDeniedException",
  "UnauthorizedOperation",
  "UnauthorizedAccess",
  "AuthorizationError",
  "NotAuthorized",
]);
const BAD_CREDENTIALS = new Set([
  "ExpiredToken",
  "ExpiredTokenException",
  "RequestExpired",
  "UnrecognizedClientException",
  "InvalidClientTokenId",
  "SignatureDoesNotMatch",
  "InvalidSignatureException",
  "IncompleteSignature",
  "AuthFailure",
  "MissingAuthenticationToken",
  "MissingAuthenticationTokenException",
  "InvalidAccessKeyId",
  "InvalidIdentityToken",
  "IDPCommunicationError",
  "IDPRejectedClaim",
  "CredentialsProviderError",
]);
const THROTTLING = new Set([
  "Throttling",
  "ThrottlingException",
  "ThrottledException",
  "RequestThrottled",
  "RequestThrottledException",
  "TooManyRequestsException",
  "ProvisionedThroughputExceededException",
  "RequestLimitExceeded",
  "SlowDown",
  "PriorRequestNotComplete",
  "EC2ThrottledException",
]);

const ACCESS_KEY = /\b(?:AKIA|ASIA|AROA|AIDA)[A-Z0-9]{12,}\b/g;

/** Keeps messages short and free of anything that looks like an access key id. */
export function scrub(message: string): string {
  const clean = message.replace(ACCESS_KEY, "[access key id]").replace(/\s+/g, " ").trim();
  return clean.length > 400 ? `${clean.slice(0, 400)}…` : clean;
}

interface SdkErrorShape {
  name?: unknown;
  Code?: unknown;
  code?: unknown;
  message?: unknown;
  $fault?: unknown;
  $retryable?: unknown;
  $metadata?: { httpStatusCode?: unknown };
}

export function awsErrorCode(e: unknown): string {
  const s = (e ?? {}) as SdkErrorShape;
  for (const v of [s.Code, s.name, s.code]) {
    if (typeof v === "string" && v !== "" && v !== "Error") return v;
  }
  return "UnknownError";
}

/**
 * Maps what an SDK call threw. `operation` is `service:Operation` (e.g. `elasticloadbalancing:ModifyRule`).
 */
export function mapAwsError(e: unknown, operation: string, signal?: AbortSignal): GrayDeployError {
  if (e instanceof GrayDeployError) return e;
  const s = (e ?? {}) as SdkErrorShape;
  const code = awsErrorCode(e);
  if (signal?.aborted || code === "AbortError") {
    return new AbortedError(`${operation} was interrupted`, { cause: e });
  }
  const status = typeof s.$metadata?.httpStatusCode === "number" ? s.$metadata.httpStatusCode : undefined;
  const message = scrub(typeof s.message === "string" ? s.message : String(e));
  if (DENIED.has(code) || (status === 403 && !BAD_CREDENTIALS.has(code))) {
    return new CredentialsError(`${operation} was denied (${code}): ${message}`, {
      cause: e,
      fix: `grant the caller ${operation} (the Terraform module's pipeline policy, IaC/modules/gray-deployment/policy, lists every action gray-deploy needs), or pass --role-arn with a role that has it`,
    });
  }
  if (BAD_CREDENTIALS.has(code)) {
    return new CredentialsError(`AWS did not accept the credentials for ${operation} (${code}): ${message}`, {
      cause: e,
      fix: "provide valid AWS credentials through the standard chain (environment, profile, SSO, instance role) or --role-arn with AWS_WEB_IDENTITY_TOKEN_FILE; expired session tokens must be renewed",
    });
  }
  const throttled = THROTTLING.has(code) || status === 429;
  const serverSide = s.$fault === "server" || (status !== undefined && status >= 500);
  const network = status === undefined && /ECONN|ETIMEDOUT|EPIPE|socket|TimeoutError|EAI_AGAIN/i.test(code);
  return new AwsCallError(operation, code, message, {
    retryable: throttled || serverSide || network,
    httpStatus: status,
    cause: e,
    ...(throttled
      ? { fix: "AWS throttled the calls even after retries: lower the polling rate (--interval) and retry" }
      : {}),
  });
}

/** True when `e` is an AwsCallError with one of these AWS codes. */
export function isAwsCode(e: unknown, ...codes: string[]): e is AwsCallError {
  return e instanceof AwsCallError && codes.includes(e.awsCode);
}
