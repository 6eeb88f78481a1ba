/**
 * What the Dagger module's service works with: the engine-touching services (container builds,
 * pushes, AWS access) that tests replace, and the shape of one call of each function.
 */
import type { Container, Directory } from "@dagger.io/dagger";
import type { Options } from "../app/schema.js";
import type { AwsCredentialsProvider, TargetDeps, TargetRuntime } from "../engine/targets.js";
import type { Clock } from "../ports/index.js";
import type { AwsCredentialInput, AwsSession, SessionNeeds } from "./credentials.js";
import type { ConfigFileLike, OptionArgs, ServiceLike } from "./options.js";
import type { RegistryAuth } from "./registry.js";

/** A Dagger Secret as the module uses it. */
export interface SecretLike {
  plaintext(): Promise<string>;
}

/** The credential arguments every AWS-touching function takes. */
export interface AwsSecrets {
  readonly awsAccessKeyId?: SecretLike | undefined;
  readonly awsSecretAccessKey?: SecretLike | undefined;
  readonly awsSessionToken?: SecretLike | undefined;
  readonly webIdentityToken?: SecretLike | undefined;
}

export interface BuildSpec {
  readonly dockerfile: string;
  readonly platform?: string | undefined;
  /** `NAME=value` pairs. */
  readonly buildArgs: readonly string[];
  /** Dockerfile stage. */
  readonly target?: string | undefined;
}

/** The two engine calls: build a container from a directory, push it with registry credentials. */
export interface ContainerEngine {
  build(source: Directory, spec: BuildSpec): Container;
  /** A directory holding these files (name → contents). */
  files(files: Record<string, string>): Directory;
  /** Pushes and returns the digest-qualified reference the registry answered. */
  publish(container: Container, ref: string, auth: RegistryAuth): Promise<string>;
}

/** AWS access: credentials with their preflight, and the ECR login. */
export interface AwsAccess {
  openSession(input: AwsCredentialInput, needs: SessionNeeds): Promise<AwsSession>;
  registryLogin(session: AwsSession): Promise<RegistryAuth>;
}

export interface BootstrapDeps {
  readonly log: (line: string) => void;
  readonly credentials?: AwsCredentialsProvider;
}

export interface ModuleServices {
  readonly containers: ContainerEngine;
  readonly aws: AwsAccess;
  /** Opens the target's ports (src/app/targets.ts; tests may wrap it). */
  openTarget(o: Options, deps: TargetDeps): Promise<TargetRuntime>;
  /** Creates the state table (the AWS adapters' bootstrap); resolves with what it did. */
  bootstrap(o: Options, deps: BootstrapDeps): Promise<{ readonly message: string }>;
  readonly clock: Clock;
  newId(): string;
  /** Progress text for the function's log (stderr: Dagger shows it; stdout is the result). */
  write(text: string): void;
  /** Calls `handler` when the call is cancelled (SIGTERM/SIGINT); returns the unsubscribe. */
  onInterrupt(handler: (signal: string) => void): () => void;
  /** HTTP for webhook notifications (default: the global fetch). */
  readonly fetch?: typeof fetch;
}

/** Arguments of build/publish that are not options of the schema. */
export interface BuildInput extends BuildSpec {
  readonly source: Directory;
}

export interface PublishInput extends Omit<BuildInput, "source"> {
  /** Required to build; optional in the type because deploy-gray needs it only without --image. */
  readonly source?: Directory | undefined;
  /** ECR repository name (`payments/gateway`) or full reference without tag. */
  readonly repository?: string | undefined;
  readonly tag?: string | undefined;
}

/**
 * One call of a function: the module's options (its constructor's arguments), the function's own, the
 * config file, the secrets. A verb takes the module's options it has, as if they were its own flags
 * (so one that does not apply to the target is refused, as on the CLI), and leaves out the others
 * (`bootstrap` has no --listener-arn); its own arguments override them; both override the config file.
 */
export interface VerbCall {
  /** The function's own option arguments (deploy-gray's --supersede, promote's --full). */
  readonly options: OptionArgs;
  /** The module's option values (target, where the rollout lives, the plan, thresholds, …). */
  readonly shared?: OptionArgs | undefined;
  readonly config?: ConfigFileLike | undefined;
  /** The module's sensitive options (notifyWebhook, smokeHeader, zabbixToken), passed as Secrets. */
  readonly sensitive?: Partial<Record<string, SecretLike | undefined>>;
  readonly secrets?: AwsSecrets;
  /** The secrets the checks name, NAME=value lines in one Secret (src/dagger/check-secrets.ts). */
  readonly checkSecrets?: SecretLike | undefined;
  /** `--endpoint-service`: the schema's `endpoint`, given as a Dagger Service. */
  readonly endpointService?: ServiceLike | undefined;
}

export interface DeployCall extends VerbCall {
  readonly build: PublishInput;
}
