/**
 * Amazon ECR: the registry login (GetAuthorizationToken) and the image reference a build is pushed
 * to. The login is a username and a password valid for 12 hours; the password is a credential and is
 * handed to the engine as a Secret, never printed.
 */
import { ECRClient, GetAuthorizationTokenCommand } from "@aws-sdk/client-ecr";
import { CredentialsError, InvalidInputError, ProviderError } from "../contract/errors.js";
import { AWS_USER_AGENT } from "../contract/identity.js";
import { IMAGE_REF } from "../engine/options/release.js";
import type { AwsSession } from "./credentials.js";

export interface RegistryAuth {
  /** Registry host (and port), without scheme: `123456789012.dkr.ecr.sa-east-1.amazonaws.com`. */
  readonly address: string;
  readonly username: string;
  readonly password: string;
}

/** Logs in to the account's ECR registry with the session's credentials. */
export async function ecrLogin(
  session: Pick<AwsSession, "region" | "endpoint" | "credentials">,
  client?: Pick<ECRClient, "send">,
): Promise<RegistryAuth> {
  const ecr =
    client ??
    new ECRClient({
      region: session.region,
      credentials: session.credentials,
      customUserAgent: AWS_USER_AGENT,
      ...(session.endpoint ? { endpoint: session.endpoint } : {}),
    });
  let data: { authorizationToken?: string | undefined; proxyEndpoint?: string | undefined } | undefined;
  try {
    const out = await ecr.send(new GetAuthorizationTokenCommand({}));
    data = out.authorizationData?.[0];
  } catch (e) {
    const name = e instanceof Error ? e.name : "Error";
    const message = e instanceof Error ? e.message : String(e);
    if (/AccessDenied|UnrecognizedClient|InvalidSignature|ExpiredToken/i.test(name)) {
      throw new CredentialsError(`ECR GetAuthorizationToken was refused: ${message}`, {
        cause: e,
        fix: "allow ecr:GetAuthorizationToken (and the push actions on the repository) to the role",
      });
    }
    throw new ProviderError(`ECR GetAuthorizationToken failed: ${name}: ${message}`, {
      cause: e,
      retryable: true,
    });
  }
  return parseAuthorization(data?.authorizationToken, data?.proxyEndpoint);
}

/** Decodes ECR's base64 `AWS:password` token; the address is the proxy endpoint without its scheme. */
export function parseAuthorization(
  token: string | undefined,
  proxyEndpoint: string | undefined,
): RegistryAuth {
  const decoded = token === undefined ? "" : Buffer.from(token, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  const address = (proxyEndpoint ?? "").replace(/^https?:\/\//, "").replace(/\/+$/, "");
  if (colon <= 0 || address === "") {
    throw new ProviderError("ECR returned no usable authorization data (token or proxy endpoint missing)", {
      retryable: true,
    });
  }
  return { address, username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/**
 * Where a build is pushed: `repository` is a repository name in the account's registry
 * (`payments/gateway`) or a full reference without tag (`123….dkr.ecr….amazonaws.com/payments/gateway`).
 */
export function imageReference(repository: string, registry: string, tag: string): string {
  const repo = repository.trim();
  const hasHost = /^[^/]+[.:][^/]*\//.test(repo) || repo.startsWith("localhost/");
  const ref = `${hasHost ? repo : `${registry}/${repo.replace(/^\/+/, "")}`}:${tag}`;
  if (/[:@][^/]*$/.test(repo) || !IMAGE_REF.test(ref)) {
    throw new InvalidInputError(
      [
        {
          field: "repository",
          message: `"${repository}" (with tag "${tag}") does not make a valid image reference`,
        },
      ],
      "pass a repository name such as payments/gateway (lower case) and a tag such as the commit",
    );
  }
  return ref;
}

/** The registry host of a full image reference (the part before the first `/`). */
export function registryOf(ref: string): string {
  return ref.split("/")[0] ?? "";
}
