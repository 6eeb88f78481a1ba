/**
 * What the Dagger functions do, behind the module's thin shell. Everything that touches the Dagger
 * engine (container builds, registry pushes) or the world outside (AWS, processes, signals) sits
 * behind `ModuleServices`, so tests call these operations (and the module class) directly with those
 * few parts replaced, and run everything else for real.
 */
import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import type { Container, Directory } from "@dagger.io/dagger";
import { progressPrinter } from "../cli/progress.js";
import { InvalidInputError, toGrayDeployError } from "../contract/errors.js";
import {
  type OptionName,
  type Options,
  parseOptionValue,
  type RawOptions,
  resolveOptions,
  rolloutScope,
  type Target,
  type Verb,
} from "../contract/options.js";
import type { Outcome } from "../contract/outcome.js";
import { formatDuration } from "../contract/units.js";
import { fanOut } from "../engine/events.js";
import type { AwsCredentialsProvider, TargetDeps, TargetRuntime } from "../engine/targets.js";
import { abort, deployGray, plan, promote, status, type VerbContext } from "../engine/verbs.js";
import { createWebhookNotifier } from "../notify/webhook.js";
import type { Clock } from "../ports/index.js";
import { renderReport, reportFiles } from "../report/index.js";
import { runBudgetMs } from "./budget.js";
import type { AwsCredentialInput, AwsSession, SessionNeeds } from "./credentials.js";
import {
  type ConfigFileLike,
  configForCall,
  endpointOf,
  givenOptions,
  type OptionArgs,
  readConfig,
  refuseLocalControl,
  type ServiceLike,
} from "./options.js";
import { failureOutcome, RolloutOutcomeError, settle } from "./outcome.js";
import { imageReference, type RegistryAuth, registryOf } from "./registry.js";

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

export interface PublishCall extends PublishInput {
  readonly region?: string | undefined;
  readonly endpoint?: string | undefined;
  /** An endpoint as a Dagger Service (`--endpoint-service tcp://localhost:4566`). */
  readonly endpointService?: ServiceLike | undefined;
  readonly roleArn?: string | undefined;
}

/** What a failing Outcome says about where the call was going. */
interface Where {
  target: Target;
  scope?: string | null;
  image?: string | null;
}

/** One call of a verb: its schema options, the config file, the secrets. */
export interface VerbCall {
  readonly options: OptionArgs;
  readonly config?: ConfigFileLike | undefined;
  /** The schema's sensitive options (notifyWebhook, smokeHeader, zabbixToken), passed as Secrets. */
  readonly sensitive?: Partial<Record<OptionName, SecretLike | undefined>>;
  readonly secrets?: AwsSecrets;
  /** `--endpoint-service`: the schema's `endpoint`, given as a Dagger Service. */
  readonly endpointService?: ServiceLike | undefined;
}

export interface DeployCall extends VerbCall {
  readonly build: PublishInput;
}

const SHA_TAG = /^[0-9a-f]{7,64}$/i;

/** The operations behind each function of the module. */
export class GrayDeployService {
  constructor(private readonly s: ModuleServices) {}

  /** A container from a directory and a Dockerfile (lazy: nothing runs until it is used). */
  build(input: BuildInput): Container {
    return this.s.containers.build(input.source, {
      dockerfile: input.dockerfile,
      platform: input.platform,
      buildArgs: checkBuildArgs(input.buildArgs),
      target: input.target,
    });
  }

  /** Builds, logs in to ECR and pushes; resolves with the digest-qualified reference. */
  async publish(input: PublishCall, secrets: AwsSecrets, commit?: string): Promise<string> {
    return this.guard({ target: "aws" }, async () => {
      const region = checked("region", input.region, true)!;
      const endpoint = checked("endpoint", await endpointOf(input.endpoint, input.endpointService), false);
      const roleArn = checked("roleArn", input.roleArn, false);
      const session = await this.session({ region, endpoint, roleArn }, secrets, runBudgetMs("publish"));
      return this.buildAndPush(input, session, commit);
    });
  }

  async deployGray(call: DeployCall): Promise<string> {
    const where: Where = { target: "local" };
    return this.guard(where, async () => {
      const raw = await this.rawOptions("deploy-gray", call);
      const target = raw.target === "aws" ? "aws" : "local";
      where.target = target;
      const building = target === "aws" && raw.image === undefined;
      let tag = "";
      if (building) {
        if (call.build.repository === undefined) {
          throw new InvalidInputError(
            [
              {
                field: "image",
                message: "is required for `deploy-gray --target aws` unless --repository is given",
              },
            ],
            "pass --image REF@sha256:…, or --repository NAME to build --source and push it to ECR",
          );
        }
        if (call.build.source === undefined) {
          throw new InvalidInputError(
            [{ field: "source", message: "is required to build the image when --image is not given" }],
            "pass --source DIR (your service's build context, e.g. --source .), or --image REF@sha256:…",
          );
        }
        const commit = typeof raw.commit === "string" ? raw.commit : undefined;
        tag = call.build.tag ?? defaultTag(commit, this.s.clock.now());
      }
      // Every input is checked before anything is built, pushed or changed; the reference to be
      // pushed stands in for the digest reference until the registry answers it.
      const planned = building
        ? { image: imageReference(call.build.repository!, "registry.invalid", tag) }
        : {};
      let o = this.resolve("deploy-gray", { ...raw, ...planned }, where);
      const session = await this.sessionFor("deploy-gray", o, call.secrets);
      if (building && session) {
        const image = await this.buildAndPush({ ...call.build, tag }, session);
        o = this.resolve("deploy-gray", { ...raw, image }, where);
      } else if (target === "local") {
        this.log("target local: the embedded environment runs the sample gateway; --source is not built");
      }
      return this.run("deploy-gray", o, session, async (runtime, ctx) => {
        await runtime.begin?.();
        return deployGray(o, runtime.ports, ctx);
      });
    });
  }

  async promote(call: VerbCall): Promise<string> {
    return this.control("promote", call, (o, runtime, ctx) =>
      promote(o, runtime.ports, ctx, { by: by(o), reason: o.reason, full: o.full }),
    );
  }

  async abort(call: VerbCall): Promise<string> {
    return this.control("abort", call, (o, runtime, ctx) =>
      abort(o, runtime.ports, ctx, { by: by(o), reason: o.reason }),
    );
  }

  /** The stored rollout's Outcome as JSON, whatever it is (it fails only when it cannot be read). */
  async status(call: VerbCall): Promise<string> {
    return this.read("status", call, async (o, runtime) => status(o, runtime.ports, this.s.clock.now()));
  }

  /** What deploy-gray would change, as the plan's JSON (blockers included); changes nothing. */
  async plan(call: VerbCall): Promise<string> {
    return this.read("plan", call, (o, runtime) => plan(o, runtime.ports, { clock: this.s.clock }));
  }

  /**
   * The stored rollout's report, as the CLI's --report-dir writes it (report.json, report.md,
   * timeline.svg), rendered from the durable state: it works after any outcome, in a later CI job.
   */
  async report(call: VerbCall): Promise<Directory> {
    const where: Where = { target: "aws" };
    return this.guard(where, async () => {
      const o = this.resolve("status", await this.rawOptions("status", call), where);
      refuseLocalControl("report", o);
      const session = await this.sessionFor("status", o, call.secrets);
      const runtime = await this.s.openTarget(o, this.targetDeps(session));
      try {
        const now = this.s.clock.now();
        const outcome = await status(o, runtime.ports, now);
        const stored = await runtime.ports.store.load(rolloutScope(o));
        const rendered = renderReport(outcome, [], {
          plan: stored?.state.id === outcome.rolloutId ? stored.state.plan : null,
          generatedAt: now,
          verb: "report",
          by: o.startedBy ?? null,
        });
        return this.s.containers.files(reportFiles(rendered));
      } finally {
        await this.dispose(runtime);
      }
    });
  }

  /** Creates the state table (idempotent) and answers what it did, as JSON. */
  async bootstrap(call: VerbCall): Promise<string> {
    const where: Where = { target: "aws" };
    return this.guard(where, async () => {
      const o = this.resolve("bootstrap", await this.rawOptions("bootstrap", call), where);
      refuseLocalControl("bootstrap", o);
      const session = await this.sessionFor("bootstrap", o, call.secrets);
      const result = await this.s.bootstrap(o, {
        log: (line) => this.log(line),
        ...(session ? { credentials: session.credentials } : {}),
      });
      return JSON.stringify(result, null, 2);
    });
  }

  // ── internals ─────────────────────────────────────────────────────────────────────────────

  private async rawOptions(verb: Verb, call: VerbCall): Promise<RawOptions> {
    const given = givenOptions(call.options);
    const fromFile = await readConfig(call.config);
    const target = (given.target ?? fromFile.target) === "aws" ? "aws" : "local";
    const secrets = await Promise.all(
      Object.entries(call.sensitive ?? {}).map(
        async ([name, secret]) => [name, await secret?.plaintext()] as const,
      ),
    );
    const endpoint = await endpointOf(given.endpoint as string | undefined, call.endpointService);
    return {
      ...configForCall(fromFile, verb, target),
      ...given,
      ...(endpoint === undefined ? {} : { endpoint }),
      ...Object.fromEntries(secrets.filter(([, value]) => value !== undefined && value.trim() !== "")),
    };
  }

  private resolve(verb: Verb, raw: RawOptions, where: Where): Options {
    if (raw.target === "aws" || raw.target === "local") where.target = raw.target;
    const o = resolveOptions(raw, { verb, frontEnd: "dagger" });
    where.target = o.target;
    where.scope = rolloutScope(o);
    where.image = o.image ?? null;
    return o;
  }

  /**
   * Runs one operation so that whatever stops it before an Outcome exists (bad input, credentials,
   * a refused build) fails the call the same way: as the refused or failed Outcome the CLI prints.
   */
  private async guard<T>(where: Where, body: () => Promise<T>): Promise<T> {
    try {
      return await body();
    } catch (e) {
      if (e instanceof RolloutOutcomeError) throw e;
      throw new RolloutOutcomeError(failureOutcome(e, where));
    }
  }

  /** promote and abort: a stored rollout on AWS, run to its next pause or end. */
  private async control(
    verb: "promote" | "abort",
    call: VerbCall,
    body: (o: Options, runtime: TargetRuntime, ctx: VerbContext) => Promise<Outcome>,
  ): Promise<string> {
    const where: Where = { target: "aws" };
    return this.guard(where, async () => {
      const o = this.resolve(verb, await this.rawOptions(verb, call), where);
      refuseLocalControl(verb, o);
      const session = await this.sessionFor(verb, o, call.secrets);
      return this.run(verb, o, session, (runtime, ctx) => body(o, runtime, ctx));
    });
  }

  /** status and plan: read, answer JSON, change nothing. */
  private async read(
    verb: "status" | "plan",
    call: VerbCall,
    body: (o: Options, runtime: TargetRuntime) => Promise<unknown>,
  ): Promise<string> {
    const where: Where = { target: verb === "status" ? "aws" : "local" };
    return this.guard(where, async () => {
      const o = this.resolve(verb, await this.rawOptions(verb, call), where);
      refuseLocalControl(verb, o);
      const session = await this.sessionFor(verb, o, call.secrets);
      const runtime = await this.s.openTarget(o, this.targetDeps(session));
      try {
        return JSON.stringify(await body(o, runtime), null, 2);
      } finally {
        await this.dispose(runtime);
      }
    });
  }

  /** AWS credentials for an AWS call (none for the local target), proven before anything changes. */
  private async sessionFor(
    verb: Verb,
    o: Options,
    secrets: AwsSecrets | undefined,
  ): Promise<AwsSession | null> {
    if (o.target !== "aws") return null;
    return this.session(
      { region: o.region!, endpoint: o.endpoint, roleArn: o.roleArn },
      secrets ?? {},
      runBudgetMs(verb, o),
      o.startedBy,
    );
  }

  private async session(
    where: { region: string; endpoint?: string | undefined; roleArn?: string | undefined },
    secrets: AwsSecrets,
    forMs: number,
    who?: string,
  ): Promise<AwsSession> {
    const [accessKeyId, secretAccessKey, sessionToken, webIdentityToken] = await Promise.all([
      secrets.awsAccessKeyId?.plaintext(),
      secrets.awsSecretAccessKey?.plaintext(),
      secrets.awsSessionToken?.plaintext(),
      secrets.webIdentityToken?.plaintext(),
    ]);
    const session = await this.s.aws.openSession(
      {
        ...where,
        accessKeyId: nonEmpty(accessKeyId),
        secretAccessKey: nonEmpty(secretAccessKey),
        sessionToken: nonEmpty(sessionToken),
        webIdentityToken: nonEmpty(webIdentityToken),
        sessionName: who ? `gray-deploy-${who}` : "gray-deploy",
      },
      { forMs },
    );
    this.log(
      `AWS: ${session.identity.arn} in ${session.region}${session.endpoint ? ` via ${session.endpoint}` : ""} (${session.mode}; credentials ${session.lastsUntil === null ? "refresh as needed" : `last until ${new Date(session.lastsUntil).toISOString()}`}, run budget ${formatDuration(forMs)})`,
    );
    for (const w of session.warnings) this.log(`warning: ${w}`);
    return session;
  }

  private async buildAndPush(input: PublishInput, session: AwsSession, commit?: string): Promise<string> {
    if (input.repository === undefined) {
      throw new InvalidInputError([{ field: "repository", message: "is required to publish" }]);
    }
    if (input.source === undefined) {
      throw new InvalidInputError([{ field: "source", message: "is required to build the image" }]);
    }
    const auth = await this.s.aws.registryLogin(session);
    const tag = input.tag ?? defaultTag(commit, this.s.clock.now());
    const ref = imageReference(input.repository, auth.address, tag);
    if (registryOf(ref) !== auth.address) {
      throw new InvalidInputError(
        [
          {
            field: "repository",
            message: `is in ${registryOf(ref)}, but the ECR login is for ${auth.address}`,
          },
        ],
        "pass the repository name alone (e.g. payments/gateway) or a reference in this account's registry",
      );
    }
    this.log(`building ${input.dockerfile} and pushing ${ref}`);
    const digestRef = await this.s.containers.publish(
      this.build({ ...input, source: input.source }),
      ref,
      auth,
    );
    if (!/@sha256:[0-9a-f]{64}$/.test(digestRef)) {
      throw new InvalidInputError([
        {
          field: "repository",
          message: `the registry answered ${digestRef}, not a digest-qualified reference`,
        },
      ]);
    }
    this.log(`pushed ${digestRef}`);
    return digestRef;
  }

  private targetDeps(session: AwsSession | null, signal?: AbortSignal): TargetDeps {
    return {
      log: (line) => this.log(line),
      ...(signal ? { signal } : {}),
      ...(session ? { credentials: session.credentials } : {}),
    };
  }

  /** Opens the target, runs a rollout verb with progress and cancellation, and settles its Outcome. */
  private async run(
    verb: Verb,
    o: Options,
    session: AwsSession | null,
    body: (runtime: TargetRuntime, ctx: VerbContext) => Promise<Outcome>,
  ): Promise<string> {
    const controller = new AbortController();
    const off = this.s.onInterrupt((signal) => {
      this.log(`${signal}: aborting safely — traffic back to stable, then cleanup`);
      controller.abort();
    });
    // The webhook URL is a secret: the notifier never prints it.
    const notifier =
      o.notifyWebhook === undefined
        ? null
        : createWebhookNotifier({
            url: o.notifyWebhook,
            context: { image: o.image ?? null, target: o.target, scope: rolloutScope(o), verb },
            log: (line) => this.log(line),
            ...(this.s.fetch ? { fetch: this.s.fetch } : {}),
          });
    let runtime: TargetRuntime | null = null;
    let outcome: Outcome;
    try {
      runtime = await this.s.openTarget(o, this.targetDeps(session, controller.signal));
      const printer = progressPrinter({ write: (t) => this.s.write(t), isTTY: false });
      const ctx: VerbContext = {
        clock: this.s.clock,
        signal: controller.signal,
        onEvent: fanOut(printer, notifier?.listener),
        owner: { id: this.s.newId(), host: hostname(), pid: process.pid, verb },
        newId: () => this.s.newId(),
      };
      outcome = await body(runtime, ctx);
    } catch (e) {
      outcome = failureOutcome(e, { target: o.target, scope: rolloutScope(o), image: o.image ?? null });
    } finally {
      off();
      if (runtime) await this.dispose(runtime);
    }
    if (notifier !== null) {
      notifier.notifyOutcome(outcome, this.s.clock.now());
      await notifier.flush();
    }
    return settle(outcome);
  }

  private async dispose(runtime: TargetRuntime): Promise<void> {
    await runtime.dispose().catch((e) => this.log(`cleanup: ${toGrayDeployError(e).message}`));
  }

  private log(line: string): void {
    this.s.write(`${line}\n`);
  }
}

/** Default image tag: the commit (short) when known, else the UTC time of the build. */
export function defaultTag(commit: string | undefined, now: number): string {
  if (commit !== undefined && SHA_TAG.test(commit)) return commit.slice(0, 12).toLowerCase();
  return `build-${new Date(now).toISOString().replace(/[-:]/g, "").replace(/\..*$/, "").replace("T", "-")}`;
}

function checkBuildArgs(args: readonly string[]): string[] {
  const bad = args.filter((a) => !/^[A-Za-z_][A-Za-z0-9_]*=/.test(a));
  if (bad.length > 0) {
    throw new InvalidInputError(
      [{ field: "buildArgs", message: `${bad.map((b) => JSON.stringify(b)).join(", ")} is not NAME=value` }],
      "pass each build argument as NAME=value",
    );
  }
  return [...args];
}

/** Validates one schema option given outside a verb (publish's region, endpoint, role). */
function checked(name: "region" | "endpoint" | "roleArn", value: string | undefined, required: boolean) {
  if (value === undefined) {
    if (required) throw new InvalidInputError([{ field: name, message: "is required to publish to ECR" }]);
    return undefined;
  }
  const parsed = parseOptionValue(name, value);
  if (!parsed.ok) throw new InvalidInputError([{ field: name, message: parsed.message }]);
  return parsed.value as string;
}

const nonEmpty = (s: string | undefined) => (s === undefined || s.trim() === "" ? undefined : s.trim());

const by = (o: Options) => o.startedBy ?? "unknown";

/** The services of a real function call inside the Dagger engine. */
export function processServices(
  base: Pick<ModuleServices, "containers" | "aws" | "openTarget" | "bootstrap" | "clock">,
): ModuleServices {
  return {
    ...base,
    newId: () => randomUUID(),
    write: (text) => {
      process.stderr.write(text);
    },
    onInterrupt(handler) {
      const onTerm = () => handler("SIGTERM");
      const onInt = () => handler("SIGINT");
      process.once("SIGTERM", onTerm);
      process.once("SIGINT", onInt);
      return () => {
        process.off("SIGTERM", onTerm);
        process.off("SIGINT", onInt);
      };
    },
  };
}
