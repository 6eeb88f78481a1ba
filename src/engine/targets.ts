/**
 * What a target and a gate source provide, so that the engine and the front ends never name one:
 * each adapter family declares a TargetDefinition (src/local/target.ts, src/aws/target.ts) and each
 * gate source a GateSourceDefinition (src/aws/cloudwatch/source.ts, src/zabbix/source.ts), and
 * src/app/registry.ts lists them. A definition is plain data and functions: importing one starts
 * nothing, and `open` loads its adapters lazily (a local run never loads the AWS SDK).
 */
import type { OptionGroup, TargetOptionInfo } from "../contract/options/def.js";
import type { RolloutState } from "../core/state.js";
import type { Pool } from "../core/types.js";
import type { GateSourceSpec } from "../gates/source.js";
import type { GateSpec, VersionIdentity } from "../gates/types.js";
import type { Clock, GateReader, HookCaller, Ports } from "../ports/index.js";

export interface TargetRuntime {
  readonly ports: Ports;
  /** One line describing what the ports drive (for progress and reports). */
  readonly description: string;
  /** Each pool's identity for business-metric gates (`{asg}`, `{targetGroup}`, …). */
  readonly identities: Readonly<Record<Pool, VersionIdentity>>;
  /** The rollout stored for the scope when the target opened, when the target read it (AWS does). */
  readonly found?: RolloutState | null;
  /** Callers of the hook kinds this target serves itself (`lambda` on AWS), by kind. */
  readonly hookCallers?: Readonly<Record<string, HookCaller>>;
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
  /** Time for every wait and timestamp of the adapters. Default: the system clock. */
  readonly clock?: Clock;
  /**
   * Credentials for every AWS client of the target, with --role-arn already applied and refreshing on
   * their own (the Dagger module builds them from its Secret arguments, whose container has no AWS
   * environment). Absent: the standard AWS chain, plus --role-arn.
   */
  readonly credentials?: AwsCredentialsProvider;
  /**
   * Secrets by the environment variable names checks declare (an HTTP hook's signing key, a synthetic
   * transaction's header): the CLI's environment, the Dagger module's Secrets. Never logged.
   */
  readonly secret?: (name: string) => string | undefined;
}

export interface TargetDefinition<O> extends TargetOptionInfo {
  /** For `--target`'s description: what this target drives (`drives an ALB, …`). */
  readonly summary: string;
  /** The options only this target takes (AWS coordinates, the local environment). */
  readonly options: OptionGroup;
  /** Rollouts outlive the process (a state store): status, promote and abort can reach them. */
  readonly storedRollouts: boolean;
  /** How `bootstrap` prepares the target (the AWS state table); absent: nothing to prepare. */
  readonly bootstrap?: (o: O, deps: TargetDeps) => Promise<{ readonly message: string }>;
  /** The gate source whose gates this target's own metric source answers (cloudwatch on AWS). */
  readonly ownGateSource?: string;
  /** Kinds of lifecycle hook this target calls itself besides HTTP (`lambda` on AWS). */
  readonly hookKinds?: readonly string[];
  /** The least time a promotion (rolling update of stable) is given, however short the plan. */
  readonly minPromotionTimeoutMs: number;
  /** The scope a rollout locks: one rollout at a time per scope. */
  scopeOf(o: O): string;
  /** Opens the ports (lazily importing the adapters). */
  open(o: O, deps: TargetDeps): Promise<TargetRuntime>;
}

/** How a gate source opens its reader for a run. */
export interface GateReaderDeps {
  /** This source's gates the run reads (declared now, or of the stored rollout it continues). */
  readonly gates: readonly GateSpec[];
  readonly identities: Readonly<Record<Pool, VersionIdentity>>;
  readonly signal?: AbortSignal;
  readonly log?: (line: string) => void;
  readonly clock?: Clock;
}

export interface OpenedGateReader {
  readonly reader: GateReader;
  dispose(): Promise<void>;
}

export interface GateSourceDefinition<O> extends GateSourceSpec {
  /** The options of this source's connection (Zabbix URL and token, …). */
  readonly options?: OptionGroup;
  /**
   * Opens a reader for this run; resolves null when the verb does not observe (its options do not
   * apply) and no reader is needed. Absent: only a target that owns the source reads its gates.
   */
  open?(o: O, deps: GateReaderDeps): Promise<OpenedGateReader | null>;
}
