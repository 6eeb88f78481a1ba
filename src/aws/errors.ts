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
  const clean = message
    .replace(/\s*Deserialization error: to see the raw response.*$/s, "")
    .replace(ACCESS_KEY, "[access key id]")
    .replace(/\s+/g, " ")
    .trim();
  return clean.length > 400 ? `${clean.slice(0, 400)}…` : clean;
}

interface SdkErrorShape {
  /** Set by the SDK when it could not parse an error response (e.g. XML where it expects JSON). */
  $responseBodyText?: unknown;
  name?: unknown;
  Code?: unknown;
  code?: unknown;
  message?: unknown;
  $fault?: unknown;
  $retryable?: unknown;
  $metadata?: { httpStatusCode?: unknown };
}

/** Code and message from an error body the SDK could not parse (an XML answer to a JSON protocol). */
function unparsedError(e: unknown): { code: string; message: string } | null {
  const body = (e as SdkErrorShape | null)?.$responseBodyText;
  if (typeof body !== "string") return null;
  const code =
    /<Code>([^<]+)<\/Code>/.exec(body)?.[1] ?? /"__type"\s*:\s*"(?:[^"#]*#)?([^"]+)"/.exec(body)?.[1];
  if (code === undefined) return null;
  const message =
    /<Message>([^<]*)<\/Message>/.exec(body)?.[1] ?? /"message"\s*:\s*"([^"]*)"/i.exec(body)?.[1] ?? code;
  return { code, message };
}

export function awsErrorCode(e: unknown): string {
  const unparsed = unparsedError(e);
  if (unparsed !== null) return unparsed.code;
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
  if ((status === 401 || status === 403) && (code === "SyntaxError" || code === "UnknownError")) {
    // Some AWS-compatible servers answer an auth failure in another protocol than the service's; the
    // SDK cannot read the code, but the status says it all.
    return new CredentialsError(
      `${operation} was refused with HTTP ${status}: the credentials are unknown or lack this permission`,
      {
        cause: e,
        fix: `check the AWS credentials (standard chain or --role-arn) and that they allow ${operation} (the Terraform module's pipeline policy lists every action gray-deploy needs)`,
      },
    );
  }
  const message = scrub(unparsedError(e)?.message ?? (typeof s.message === "string" ? s.message : String(e)));
  if (DENIED.has(code) || (status === 403 && !BAD_CREDENTIALS.has(code))) {
    return new CredentialsError(`${operation} was denied (${code}): ${message}`, {
      cause: e,
      fix: `grant the caller ${operation} (the Terraform module's pipeline policy, IaC/modules/gray-deployment/policy, lists every action gray-deploy needs), or pass --role-arn with a role that has it`,
    });
  }
  if (code === "CredentialsProviderError") {
    return new CredentialsError(`no AWS credentials found for ${operation}: ${message}`, {
      cause: e,
      fix: "provide AWS credentials through the standard chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, SSO, an instance or task role), or --role-arn with AWS_WEB_IDENTITY_TOKEN_FILE in CI",
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
