/**
 * AWS credentials for the Dagger module. A function's container sees no host environment, files or
 * `~/.aws`, so credentials arrive as Secret arguments and become one refreshing provider:
 *
 * - a role and a web-identity token (OIDC from GitHub or GitLab): STS AssumeRoleWithWebIdentity,
 *   assumed again before each session expires, for as long as the token itself is valid;
 * - static keys and a role: STS AssumeRole with the keys as master credentials, assumed again as needed;
 * - static keys alone: used as they are.
 *
 * Before anything changes, the preflight proves the credentials work (STS GetCallerIdentity) and that
 * they last, or refresh, for the whole run: a rollout whose credentials expire half-way cannot even
 * roll itself back. Credentials are never printed, logged, written to disk or put in an error.
 */
import { GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import { fromTemporaryCredentials, fromWebToken } from "@aws-sdk/credential-providers";
import { CredentialsError, InvalidInputError } from "../contract/errors.js";
import { AWS_USER_AGENT } from "../contract/identity.js";
import { formatDuration } from "../contract/units.js";
import type { AwsCredentials, AwsCredentialsProvider } from "../engine/targets.js";

/** What the caller handed over; every secret already read from its Secret. */
export interface AwsCredentialInput {
  readonly region: string;
  readonly endpoint?: string | undefined;
  readonly roleArn?: string | undefined;
  readonly accessKeyId?: string | undefined;
  readonly secretAccessKey?: string | undefined;
  readonly sessionToken?: string | undefined;
  readonly webIdentityToken?: string | undefined;
  /** Recorded in CloudTrail as the role session name. */
  readonly sessionName?: string | undefined;
}

export type AwsCredentialMode = "keys" | "assume-role" | "web-identity";

/** Credentials that passed the preflight. */
export interface AwsSession {
  readonly region: string;
  readonly endpoint: string | undefined;
  readonly mode: AwsCredentialMode;
  /** Refreshing and shared by every client of the run. */
  readonly credentials: AwsCredentialsProvider;
  /** Who the calls run as (not a secret). */
  readonly identity: { readonly account: string; readonly arn: string };
  /** When the credentials stop working at the latest (epoch ms), or null when they keep refreshing. */
  readonly lastsUntil: number | null;
  /** Things the preflight could not prove, said plainly. */
  readonly warnings: readonly string[];
}

export interface SessionNeeds {
  /** How long the run may take at most (ms); the credentials must last that long. */
  readonly forMs: number;
}

export interface CredentialDeps {
  readonly now: () => number;
  /** STS client factory (tests point it at an emulator through `endpoint` instead). */
  readonly sts?: (config: StsConfig) => Pick<STSClient, "send">;
}

interface StsConfig {
  readonly region: string;
  readonly endpoint?: string;
  readonly credentials: AwsCredentialsProvider;
}

/** Credentials are refreshed this long before they expire. */
export const REFRESH_BEFORE_MS = 5 * 60_000;
const MIN_SESSION_S = 900;
const MAX_SESSION_S = 43_200;
/** Every role allows one-hour sessions; longer ones need the role's MaxSessionDuration raised. */
const FALLBACK_SESSION_S = 3600;

const FIX_NONE =
  "pass --role-arn ARN with --web-identity-token (OIDC from CI), or --aws-access-key-id and --aws-secret-access-key (e.g. env:AWS_ACCESS_KEY_ID)";

/** Checks the combination of inputs; returns the mode or throws naming the fix. */
export function credentialMode(input: AwsCredentialInput): AwsCredentialMode {
  const keys = input.accessKeyId !== undefined || input.secretAccessKey !== undefined;
  if (input.webIdentityToken !== undefined) {
    if (keys || input.sessionToken !== undefined) {
      throw new InvalidInputError(
        [{ field: "webIdentityToken", message: "is given together with access keys; pass one or the other" }],
        "use --web-identity-token with --role-arn (CI OIDC), or static keys, not both",
      );
    }
    if (input.roleArn === undefined) {
      throw new InvalidInputError(
        [{ field: "roleArn", message: "is required with --web-identity-token (the role the token assumes)" }],
        "pass --role-arn arn:aws:iam::ACCOUNT:role/NAME",
      );
    }
    return "web-identity";
  }
  if (!keys) {
    throw new CredentialsError("no AWS credentials were given to the Dagger function", { fix: FIX_NONE });
  }
  if (input.accessKeyId === undefined || input.secretAccessKey === undefined) {
    const missing = input.accessKeyId === undefined ? "awsAccessKeyId" : "awsSecretAccessKey";
    throw new InvalidInputError(
      [{ field: missing, message: "is required with the other half of the access key" }],
      "pass both --aws-access-key-id and --aws-secret-access-key",
    );
  }
  return input.roleArn === undefined ? "keys" : "assume-role";
}

/**
 * Builds the credentials, proves them with STS GetCallerIdentity and checks they last `needs.forMs`
 * (refreshing included). Throws CredentialsError (nothing changed) when they do not.
 */
export async function openAwsSession(
  input: AwsCredentialInput,
  needs: SessionNeeds,
  deps: CredentialDeps,
): Promise<AwsSession> {
  const mode = credentialMode(input);
  const warnings: string[] = [];
  const now = deps.now();
  const wanted = sessionSeconds(needs.forMs);
  const clientConfig = {
    region: input.region,
    customUserAgent: AWS_USER_AGENT,
    ...(input.endpoint ? { endpoint: input.endpoint } : {}),
  };
  const sessionName = roleSessionName(input.sessionName);

  let provider: AwsCredentialsProvider;
  let granted = 0;
  if (mode === "keys") {
    const keys = staticKeys(input);
    provider = async () => keys;
    if (input.sessionToken !== undefined) {
      warnings.push(
        "temporary access keys (with a session token) cannot be refreshed and their expiry is unknown here: a rollout that outlives them stops half-way; prefer --role-arn",
      );
    }
  } else {
    const make = (seconds: number): AwsCredentialsProvider =>
      mode === "web-identity"
        ? fromWebToken({
            roleArn: input.roleArn!,
            webIdentityToken: input.webIdentityToken!,
            roleSessionName: sessionName,
            durationSeconds: seconds,
            clientConfig,
          })
        : fromTemporaryCredentials({
            params: { RoleArn: input.roleArn!, RoleSessionName: sessionName, DurationSeconds: seconds },
            masterCredentials: staticKeys(input),
            clientConfig,
          });
    const first = await assume(make, wanted);
    granted = first.seconds;
    provider = refreshing(first.provider, deps.now, first.credentials);
    if (first.seconds < wanted) {
      warnings.push(
        `the role refused ${formatDuration(wanted * 1000)} sessions; using ${formatDuration(first.seconds * 1000)} ones (raise the role's MaxSessionDuration to get fewer refreshes)`,
      );
    }
    if (mode === "assume-role" && input.sessionToken !== undefined) {
      warnings.push(
        "the master keys are temporary (session token): once they expire the role can no longer be assumed again",
      );
    }
  }

  const identity = await callerIdentity(provider, clientConfig, deps);
  const lastsUntil = await lifetime(mode, input, provider, granted, warnings);
  const until = now + needs.forMs;
  if (lastsUntil !== null && lastsUntil < until) {
    throw new CredentialsError(
      `the AWS credentials work until ${iso(lastsUntil)} but this run may last until ${iso(until)} (up to ${formatDuration(needs.forMs)}): they would expire half-way, when even a rollback needs them`,
      {
        fix:
          mode === "web-identity"
            ? `let the role's sessions last longer (its MaxSessionDuration, up to 12h; gray-deploy asks for ${formatDuration(wanted * 1000)}), or use a web identity token that lives longer`
            : "use long-lived keys with --role-arn so the role can be assumed again, or fresher keys",
      },
    );
  }
  return {
    region: input.region,
    endpoint: input.endpoint,
    mode,
    credentials: provider,
    identity,
    lastsUntil,
    warnings,
  };
}

/** The session length to ask for: the whole run plus a refresh margin, within STS's limits. */
export function sessionSeconds(forMs: number): number {
  const wanted = Math.ceil((forMs + 3 * REFRESH_BEFORE_MS) / 1000);
  return Math.min(MAX_SESSION_S, Math.max(MIN_SESSION_S, wanted));
}

/**
 * When credentials that are re-assumed `before` their expiry stop working, given that re-assuming
 * works only until `refreshableUntil` and each session lasts `sessionMs`.
 */
export function lastExpiry(firstExpiry: number, refreshableUntil: number, sessionMs: number): number {
  let expiry = firstExpiry;
  for (;;) {
    const refreshAt = expiry - REFRESH_BEFORE_MS;
    if (refreshAt >= refreshableUntil) return expiry;
    const next = refreshAt + sessionMs;
    if (next <= expiry) return expiry;
    expiry = next;
  }
}

/** The `exp` claim of a JWT (epoch ms), read without verifying it; null when the token is not a JWT. */
export function tokenExpiry(token: string): number | null {
  const payload = token.split(".")[1];
  if (payload === undefined) return null;
  try {
    const claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as { exp?: unknown };
    return typeof claims.exp === "number" ? claims.exp * 1000 : null;
  } catch {
    return null;
  }
}

/**
 * Wraps a provider so that all clients of a run share one set of credentials, refreshed shortly
 * before it expires; a failed refresh keeps serving credentials that are still valid.
 */
export function refreshing(
  source: AwsCredentialsProvider,
  now: () => number,
  initial?: AwsCredentials,
): AwsCredentialsProvider {
  let current: AwsCredentials | undefined = initial;
  let inFlight: Promise<AwsCredentials> | null = null;
  const fresh = (c: AwsCredentials) =>
    c.expiration === undefined || c.expiration.getTime() - now() > REFRESH_BEFORE_MS;
  return async () => {
    if (current !== undefined && fresh(current)) return current;
    inFlight ??= source()
      .then((c) => {
        current = c;
        return c;
      })
      .catch((e: unknown) => {
        if (current?.expiration !== undefined && current.expiration.getTime() > now()) return current;
        throw e;
      })
      .finally(() => {
        inFlight = null;
      });
    return inFlight;
  };
}

async function assume(
  make: (seconds: number) => AwsCredentialsProvider,
  seconds: number,
): Promise<{ provider: AwsCredentialsProvider; credentials: AwsCredentials; seconds: number }> {
  try {
    const provider = make(seconds);
    return { provider, credentials: await provider(), seconds };
  } catch (e) {
    if (seconds > FALLBACK_SESSION_S && isDurationRefusal(e)) {
      const provider = make(FALLBACK_SESSION_S);
      return {
        provider,
        credentials: await provider().catch((e2: unknown) => {
          throw credentialsFailure(e2);
        }),
        seconds: FALLBACK_SESSION_S,
      };
    }
    throw credentialsFailure(e);
  }
}

function isDurationRefusal(e: unknown): boolean {
  const text = e instanceof Error ? `${e.name} ${e.message}` : String(e);
  return /DurationSeconds|MaxSessionDuration/i.test(text);
}

async function callerIdentity(
  credentials: AwsCredentialsProvider,
  clientConfig: { region: string; endpoint?: string },
  deps: CredentialDeps,
): Promise<{ account: string; arn: string }> {
  const sts = deps.sts?.({ ...clientConfig, credentials }) ?? new STSClient({ ...clientConfig, credentials });
  try {
    const out = await sts.send(new GetCallerIdentityCommand({}));
    return { account: out.Account ?? "unknown", arn: out.Arn ?? "unknown" };
  } catch (e) {
    throw credentialsFailure(e);
  }
}

async function lifetime(
  mode: AwsCredentialMode,
  input: AwsCredentialInput,
  provider: AwsCredentialsProvider,
  grantedSeconds: number,
  warnings: string[],
): Promise<number | null> {
  if (mode === "keys") return null; // long-lived keys do not expire; temporary ones were warned about
  const first = (await provider()).expiration?.getTime();
  if (first === undefined) return null;
  if (mode === "assume-role") return null; // the master keys assume the role again whenever needed
  const tokenExp = tokenExpiry(input.webIdentityToken!);
  if (tokenExp === null) {
    warnings.push(
      "the web identity token is not a JWT with an expiry: sessions are renewed with it as long as STS accepts it",
    );
    return null;
  }
  return lastExpiry(first, tokenExp, grantedSeconds * 1000);
}

function staticKeys(input: AwsCredentialInput): AwsCredentials {
  return {
    accessKeyId: input.accessKeyId!,
    secretAccessKey: input.secretAccessKey!,
    ...(input.sessionToken === undefined ? {} : { sessionToken: input.sessionToken }),
  };
}

/** STS session names: 2-64 of [\w+=,.@-]. */
function roleSessionName(name: string | undefined): string {
  const cleaned = (name ?? "gray-deploy").replace(/[^\w+=,.@-]/g, "-").slice(0, 64);
  return cleaned.length >= 2 ? cleaned : "gray-deploy";
}

/** An STS or provider failure, with the service's message but never any credential. */
function credentialsFailure(e: unknown): CredentialsError {
  if (e instanceof CredentialsError) return e;
  const name = e instanceof Error ? e.name : "Error";
  const message = e instanceof Error ? e.message : String(e);
  return new CredentialsError(`the AWS credentials do not work: ${name}: ${message}`, {
    cause: e,
    retryable: /Throttl|Timeout|ECONNRESET|5\d\d/.test(`${name} ${message}`),
    fix: "check the role's trust policy (the token's audience and subject) or the keys, and the region",
  });
}

const iso = (ms: number) => new Date(ms).toISOString();
