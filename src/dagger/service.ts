/**
 * What the Dagger functions do, behind the module's thin shell. Everything that touches the Dagger
 * engine (container builds, registry pushes) or the world outside (AWS, processes, signals) sits
 * behind `ModuleServices`, so tests call these operations (and the module class) directly with those
 * few parts replaced, and run everything else for real.
 */
import { randomUUID } from "node:crypto";
import type { Container, Directory } from "@dagger.io/dagger";
import { openRunOutputs } from "../app/outputs.js";
import { progressPrinter } from "../app/progress.js";
import { resolveCall, whereOfRaw } from "../app/resolve.js";
import { runVerb, storedRollout, type VerbResult, whereOf } from "../app/run.js";
import {
  type OptionName,
  type Options,
  optionVerbs,
  parseOptionValue,
  type RawOptions,
  rawDefault,
  type Verb,
} from "../app/schema.js";
import { InvalidInputError } from "../contract/errors.js";
import type { Outcome } from "../contract/outcome.js";
import { formatDuration } from "../contract/units.js";
import { fanOut } from "../engine/events.js";
import { renderReport, reportFiles } from "../report/index.js";
import { runBudgetMs } from "./budget.js";
import type {
  AwsSecrets,
  BuildInput,
  DeployCall,
  ModuleServices,
  PublishInput,
  SecretLike,
  VerbCall,
} from "./calls.js";
import { checkSecretLookup } from "./check-secrets.js";
import type { AwsSession } from "./credentials.js";
import { endpointOf, givenOptions, readConfig } from "./options.js";
import { failureOutcome, RolloutOutcomeError, settle } from "./outcome.js";
import { imageReference, registryOf } from "./registry.js";

export type {
  AwsAccess,
  AwsSecrets,
  BootstrapDeps,
  BuildInput,
  BuildSpec,
  ContainerEngine,
  DeployCall,
  ModuleServices,
  PublishInput,
  SecretLike,
  VerbCall,
} from "./calls.js";

/** What a failing Outcome says about where the call was going. */
interface Where {
  target: string;
  scope?: string | null;
  image?: string | null;
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

  /**
   * Builds, logs in to ECR and pushes; resolves with the digest-qualified reference. AWS is reached with
   * the module's region, endpoint (or endpoint Service), role and credentials; its commit names the tag.
   */
  async publish(input: PublishInput, call: VerbCall): Promise<string> {
    return this.guard({ target: "aws" }, async () => {
      const o = call.shared ?? {};
      const region = checked("region", o.region, true)!;
      const endpoint = checked("endpoint", await endpointOf(text(o.endpoint), call.endpointService), false);
      const roleArn = checked("roleArn", o.roleArn, false);
      const where = { region, endpoint, roleArn };
      const session = await this.session(where, call.secrets ?? {}, runBudgetMs("publish"));
      return this.buildAndPush(input, session, text(o.commit));
    });
  }

  async deployGray(call: DeployCall): Promise<string> {
    const where: Where = { target: "local" };
    return this.guard(where, async () => {
      const input = await this.input("deploy-gray", call);
      const raw = { ...input.config, ...input.given };
      const target = whereOfRaw(raw).target;
      // A target with no image of its own (AWS) deploys the digest of --source built and pushed.
      const building = raw.image === undefined && rawDefault("image", target) === undefined;
      let tag = "";
      if (building) {
        if (call.build.repository === undefined) {
          throw new InvalidInputError(
            [
              {
                field: "image",
                message: `is required for \`deploy-gray --target ${target}\` unless --repository is given`,
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
      let o = this.resolve("deploy-gray", { ...input, given: { ...input.given, ...planned } }, where);
      const session = await this.sessionFor("deploy-gray", o, call.secrets);
      if (building && session) {
        const image = await this.buildAndPush({ ...call.build, tag }, session);
        o = this.resolve("deploy-gray", { ...input, given: { ...input.given, image } }, where);
      } else if (!building && call.build.source !== undefined && raw.image === undefined) {
        this.log(`target ${o.target}: it runs its own sample release; --source is not built`);
      }
      return settle(outcomeOf(await this.run("deploy-gray", o, session, call.checkSecrets)));
    });
  }

  async promote(call: VerbCall): Promise<string> {
    return this.control("promote", call);
  }

  async abort(call: VerbCall): Promise<string> {
    return this.control("abort", call);
  }

  async rollbackRelease(call: VerbCall): Promise<string> {
    return this.control("rollback-release", call);
  }

  /** The stored rollout's Outcome as JSON, whatever it is (it fails only when it cannot be read). */
  async status(call: VerbCall): Promise<string> {
    const where: Where = { target: "aws" };
    return this.guard(where, async () => {
      const o = this.resolve("status", await this.input("status", call), where);
      const result = await this.run("status", o, await this.sessionFor("status", o, call.secrets));
      const outcome = outcomeOf(result);
      if (result.kind === "outcome" && result.raised) throw new RolloutOutcomeError(outcome);
      return JSON.stringify(outcome, null, 2);
    });
  }

  /** What deploy-gray would change, as the plan's JSON (blockers included); changes nothing. */
  async plan(call: VerbCall): Promise<string> {
    const where: Where = { target: "local" };
    return this.guard(where, async () => {
      const o = this.resolve("plan", await this.input("plan", call), where);
      const result = await this.run(
        "plan",
        o,
        await this.sessionFor("plan", o, call.secrets),
        call.checkSecrets,
      );
      if (result.kind !== "plan") throw new RolloutOutcomeError(outcomeOf(result));
      return JSON.stringify(result.report, null, 2);
    });
  }

  /**
   * The stored rollout's report, as the CLI's --report-dir writes it (report.json, report.md,
   * timeline.svg), rendered from the durable state: it works after any outcome, in a later CI job.
   */
  async report(call: VerbCall): Promise<Directory> {
    const where: Where = { target: "aws" };
    return this.guard(where, async () => {
      const o = this.resolve("status", await this.input("status", call), where);
      const session = await this.sessionFor("status", o, call.secrets);
      const { outcome, plan } = await storedRollout(o, {
        clock: this.s.clock,
        log: (line) => this.log(line),
        openTarget: (opts, deps) => this.s.openTarget(opts, deps),
        ...(session ? { credentials: session.credentials } : {}),
      });
      const rendered = renderReport(outcome, [], {
        plan,
        generatedAt: this.s.clock.now(),
        verb: "report",
        by: o.startedBy ?? null,
      });
      return this.s.containers.files(reportFiles(rendered));
    });
  }

  /** Creates the state table (idempotent) and answers what it did, as JSON. */
  async bootstrap(call: VerbCall): Promise<string> {
    const where: Where = { target: "aws" };
    return this.guard(where, async () => {
      const o = this.resolve("bootstrap", await this.input("bootstrap", call), where);
      const result = await this.run("bootstrap", o, await this.sessionFor("bootstrap", o, call.secrets));
      if (result.kind !== "bootstrap") throw new RolloutOutcomeError(outcomeOf(result));
      return JSON.stringify(result.result, null, 2);
    });
  }

  // ── internals ─────────────────────────────────────────────────────────────────────────────

  /**
   * The options given for a verb — the module's that it takes (Secrets read), then the function's own —
   * and the config file's. The module's options another verb takes are left out, as a config file's.
   */
  private async input(verb: Verb, call: VerbCall): Promise<{ given: RawOptions; config: RawOptions }> {
    const takes = ([name]: readonly [string, unknown]) => optionVerbs(name as OptionName).includes(verb);
    const secrets = await Promise.all(
      Object.entries(call.sensitive ?? {})
        .filter(takes)
        .map(async ([name, secret]) => [name, await secret?.plaintext()] as const),
    );
    const module = {
      ...Object.fromEntries(Object.entries(givenOptions(call.shared ?? {})).filter(takes)),
      ...Object.fromEntries(secrets.filter(([, value]) => value !== undefined && value.trim() !== "")),
    };
    const given: RawOptions = { ...module, ...givenOptions(call.options) };
    const endpoint = await endpointOf(given.endpoint as string | undefined, call.endpointService);
    if (endpoint !== undefined && takes(["endpoint", endpoint])) given.endpoint = endpoint;
    return { given, config: await readConfig(call.config) };
  }

  private resolve(verb: Verb, input: { given: RawOptions; config: RawOptions }, where: Where): Options {
    where.target = whereOfRaw({ ...input.config, ...input.given }).target;
    const o = resolveCall({ verb, frontEnd: "dagger", ...input });
    Object.assign(where, whereOf(o));
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

  /** promote, abort and rollback-release: a stored rollout, run to its next pause or end. */
  private async control(verb: "promote" | "abort" | "rollback-release", call: VerbCall): Promise<string> {
    const where: Where = { target: "aws" };
    return this.guard(where, async () => {
      const o = this.resolve(verb, await this.input(verb, call), where);
      const session = await this.sessionFor(verb, o, call.secrets);
      return settle(outcomeOf(await this.run(verb, o, session, call.checkSecrets)));
    });
  }

  /** AWS credentials for an AWS call (none for the local target), proven before anything changes. */
  private async sessionFor(
    verb: Verb,
    o: Options,
    secrets: AwsSecrets | undefined,
  ): Promise<AwsSession | null> {
    // A call that names an AWS region reaches AWS (the region is required there, refused elsewhere).
    if (o.region === undefined) return null;
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

  /** Runs a verb through the application layer, with progress, cancellation and notifications. */
  private async run(
    verb: Verb,
    o: Options,
    session: AwsSession | null,
    checkSecrets?: SecretLike,
  ): Promise<VerbResult> {
    // The secrets the checks name, read before anything starts (a malformed text is refused).
    const secret = await checkSecretLookup(checkSecrets);
    const controller = new AbortController();
    const off = this.s.onInterrupt((signal) => {
      this.log(`${signal}: aborting safely — traffic back to stable, then cleanup`);
      controller.abort();
    });
    const log = (line: string) => this.log(line);
    const outputs = openRunOutputs(verb, o, whereOf(o), {
      clock: this.s.clock,
      log,
      ...(this.s.fetch ? { fetch: this.s.fetch } : {}),
    });
    let result: VerbResult;
    try {
      const printer = progressPrinter({ write: (t) => this.s.write(t), isTTY: false });
      result = await runVerb(verb, o, {
        clock: this.s.clock,
        newId: () => this.s.newId(),
        signal: controller.signal,
        log,
        onEvent: fanOut(printer, ...outputs.listeners),
        openTarget: (opts, deps) => this.s.openTarget(opts, deps),
        bootstrap: (opts, deps) =>
          this.s.bootstrap(opts, { log, ...(deps.credentials ? { credentials: deps.credentials } : {}) }),
        ...(session ? { credentials: session.credentials } : {}),
        ...(secret ? { secret } : {}),
      });
    } finally {
      off();
    }
    if (result.kind === "outcome" && verb !== "status") await outputs.close(result.outcome, null);
    return result;
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
function checked(name: "region" | "endpoint" | "roleArn", value: unknown, required: boolean) {
  if (value === undefined || value === null) {
    if (required) throw new InvalidInputError([{ field: name, message: "is required to publish to ECR" }]);
    return undefined;
  }
  const parsed = parseOptionValue(name, value);
  if (!parsed.ok) throw new InvalidInputError([{ field: name, message: parsed.message }]);
  return parsed.value as string;
}

const text = (v: unknown) => (typeof v === "string" ? v : undefined);
const nonEmpty = (s: string | undefined) => (s === undefined || s.trim() === "" ? undefined : s.trim());

/** The Outcome of a result that is one (a plan or bootstrap answer is not). */
function outcomeOf(result: VerbResult): Outcome {
  if (result.kind !== "outcome") throw new Error(`expected an Outcome, got a ${result.kind} answer`);
  return result.outcome;
}

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
