/**
 * Opens the adapters of a target behind the ports. Front ends call this and never import an adapter
 * family directly, so the CLI and the Dagger module run exactly the same code for each target.
 * Adapter families are imported lazily: a local run never loads the AWS SDK.
 */
import type { Options } from "../contract/options.js";
import type { Ports } from "../ports/index.js";

export interface TargetRuntime {
  readonly ports: Ports;
  /** One line describing what the ports drive (for progress and reports). */
  readonly description: string;
  /** Starts what runs only while a rollout runs (the local load generator). */
  begin?(): Promise<void>;
  /** Stops and releases everything the target started; idempotent, safe after errors. */
  dispose(): Promise<void>;
}

/** AWS credentials as the AWS SDK v3 uses them (structurally its AwsCredentialIdentity). */
export interface AwsCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
  readonly expiration?: Date;
}

/** Resolves (and refreshes) AWS credentials; structurally the SDK's AwsCredentialIdentityProvider. */
export type AwsCredentialsProvider = () => Promise<AwsCredentials>;

export interface TargetDeps {
  readonly signal?: AbortSignal;
  readonly log?: (line: string) => void;
  /**
   * Credentials for every AWS client of the target, with --role-arn already applied and refreshing on
   * their own (the Dagger module builds them from its Secret arguments, whose container has no AWS
   * environment). Absent: the standard AWS chain, plus --role-arn.
   */
  readonly credentials?: AwsCredentialsProvider;
}

export async function openTarget(o: Options, deps: TargetDeps = {}): Promise<TargetRuntime> {
  if (o.target === "local") {
    const { openLocalTarget } = await import("../local/target.js");
    return openLocalTarget(o, deps);
  }
  const { openAwsTarget } = await import("../aws/target.js");
  return openAwsTarget(o, deps);
}
