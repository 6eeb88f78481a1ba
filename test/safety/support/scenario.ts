/**
 * One safety scenario: its own AWS emulator (so scenarios of one file can run concurrently), the
 * world of test/aws (ALB, target groups, launch template, two Auto Scaling groups, state table,
 * images in ECR), the emulated ALB data plane with real sample-service processes and customers, and
 * the fault proxy in front of the emulator. gray-deploy (the CLI, as a child process) talks to AWS
 * through the proxy only; the data plane — standing for the load balancer and the instances — talks
 * to the emulator directly, so control-plane faults never disturb the traffic itself.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { performance } from "node:perf_hooks";
import {
  DescribeAutoScalingGroupsCommand,
  DescribeInstanceRefreshesCommand,
  SuspendProcessesCommand,
  UpdateAutoScalingGroupCommand,
} from "@aws-sdk/client-auto-scaling";
import { type CloudWatchClient, type MetricDatum, PutMetricDataCommand } from "@aws-sdk/client-cloudwatch";
import { GetItemCommand, UpdateItemCommand } from "@aws-sdk/client-dynamodb";
import { DescribeLaunchTemplateVersionsCommand } from "@aws-sdk/client-ec2";
import type { RawOptions } from "../../../src/app/schema.js";
import type { RolloutState } from "../../../src/core/state.js";
import { type InstanceFaults, NO_FAULTS } from "../../../src/local/instance.js";
import { EmulatedAlb } from "../../aws/support/data-plane.js";
import { forward, group } from "../../aws/support/rollout.js";
import { buildWorld, cliEnv, rawOptions, STATE_TABLE, type World } from "../../aws/support/world.js";
import { type AwsClients, awsClients } from "../../support/aws-fixture.js";
import { type Emulator, startEmulator } from "../../support/emulator.js";
import { machineSlot } from "../../support/slots.js";
import { CliRun } from "./cli.js";
import { FaultProxy, writtenWeights } from "./fault-proxy.js";

/**
 * Scenarios running at once on this machine, across test files and vitest workers (each has an
 * emulator, a data plane with real traffic and CLI processes: about a third of a core each).
 */
const MAX_CONCURRENT = Number(process.env.GRAY_SAFETY_CONCURRENCY ?? 4);

/**
 * How long a scenario test may run once it holds a slot (`scenarioTest`). Only a bound on a hung
 * test, not a clock on a slow one: a scenario test takes 20–290 s on a quiet machine of this kind,
 * and up to 600 s with a core burnt (control.test.ts, stop 24's run under load, which failed one at
 * the 600 s this limit was then).
 */
export const SCENARIO_RUN_LIMIT_MS = 20 * 60_000;

/**
 * vitest's timeout of a test or hook that waits for a slot. The wait has no bound of its own: it is
 * how long the scenarios queued ahead take, machine-wide (crash-resume's dozen ask at once; on a slow
 * loaded machine the queue alone ran past the 600 s this timeout used to be in all). So the run limit
 * above starts when the slot is held, and this bound only stops a hung test before CI's 90 minutes.
 */
export const SCENARIO_TEST_TIMEOUT_MS = 60 * 60_000;

function slot(): Promise<() => void> {
  return machineSlot("safety-scenarios", MAX_CONCURRENT);
}

/** The slot time of the scenario test running in this async context (see `scenarioTest`). */
interface SlotClock {
  heldMs: number;
  since?: number;
}
const slotClock = new AsyncLocalStorage<SlotClock>();

function slotTaken(): () => void {
  const clock = slotClock.getStore();
  if (clock === undefined) return () => undefined;
  clock.since ??= performance.now();
  return () => {
    if (clock.since !== undefined) clock.heldMs += performance.now() - clock.since;
    clock.since = undefined;
  };
}

/**
 * A scenario test's body, failed once it has held scenario slots for `SCENARIO_RUN_LIMIT_MS` in all
 * (waiting for one does not count). Use it as `it(name, scenarioTest(async () => …))`.
 */
export function scenarioTest(body: () => Promise<void>): () => Promise<void> {
  return () => {
    const clock: SlotClock = { heldMs: 0 };
    return slotClock.run(clock, async () => {
      let timer: NodeJS.Timeout | undefined;
      const limit = new Promise<never>((_, reject) => {
        const check = (): void => {
          const held = clock.heldMs + (clock.since === undefined ? 0 : performance.now() - clock.since);
          if (held > SCENARIO_RUN_LIMIT_MS)
            reject(
              new Error(
                `the scenario ran for more than ${SCENARIO_RUN_LIMIT_MS / 1000} s once it held its slot`,
              ),
            );
          else timer = setTimeout(check, 1000);
        };
        check();
      });
      try {
        await Promise.race([body(), limit]);
      } finally {
        clearTimeout(timer);
      }
    });
  };
}

/**
 * What reaches CloudWatch of the data plane's metrics (the ALB's): everything, nothing, everything
 * `lateMs` late, or only the datums `keep` accepts (e.g. one target group's). Changeable mid-test.
 */
export interface MetricsPolicy {
  readonly drop?: boolean;
  readonly lateMs?: number;
  readonly keep?: (datum: MetricDatum) => boolean;
}

/**
 * Emulators of ended scenarios, kept for the next ones (emptied with `reset()` first): starting one
 * costs ~2 s of a core, which over a few dozen scenarios on two cores is time the suite does not have.
 * Idle ones exit with this process.
 */
const idleEmulators: Emulator[] = [];

async function takeEmulator(): Promise<Emulator> {
  const reused = idleEmulators.pop();
  if (reused === undefined) return startEmulator();
  try {
    await reused.reset();
    return reused;
  } catch {
    await reused.stop();
    return startEmulator();
  }
}

export interface ScenarioOptions {
  /** Faults of the release's instances (default none: a good release). */
  readonly release?: Partial<InstanceFaults>;
  /** Customers per second through the emulated ALB. Default 80. */
  readonly rps?: number;
  /**
   * Before the rollout, give stable settings of its own that the rollout's pin must restore exactly:
   * MinSize 1 and AZRebalance suspended (by someone else). Default true.
   */
  readonly stableSettings?: boolean;
  /** Seed of the proxy's random faults. */
  readonly seed?: number;
  /** Start the data plane (default true; false for scenarios that only need the control plane). */
  readonly dataPlane?: boolean;
}

/**
 * A bad release that is rolled back at its first step, always: it fails every payment. A release
 * failing a share of them is not, under these scenarios' fast settings (`flags()`: 1 s windows,
 * --min-requests 5): a 1 s window of about 20 gray requests at 25% with none failing passes the step,
 * 0.7^20 ≈ 1 in 1,250 a window at 30%, and CI met it once (a 30% release passed 25% and was rolled
 * back at 100%). The product's defaults (--min-requests 100) make that 0.7^100.
 */
export const BAD_RELEASE: ScenarioOptions = Object.freeze({ release: Object.freeze({ errorRate: 1 }) });

/** What stable looked like before the rollout (what the pin must give back). */
export interface StableBefore {
  readonly min: number;
  readonly suspended: string[];
}

export class Scenario {
  readonly proxy: FaultProxy;
  readonly runs: CliRun[] = [];
  /** Applied to every PutMetricData of the data plane (see MetricsPolicy). */
  metrics: MetricsPolicy = {};
  #release: () => void;
  readonly #extraProxies: FaultProxy[] = [];

  constructor(
    readonly emu: Emulator,
    readonly aws: AwsClients,
    readonly w: World,
    readonly alb: EmulatedAlb | null,
    proxy: FaultProxy,
    readonly stableBefore: StableBefore,
    release: () => void,
  ) {
    this.proxy = proxy;
    this.#release = release;
  }

  /**
   * Every gray instance id seen while the scenario ran, to catch duplicates and orphans: the data
   * plane's fleet reconciler lists gray's group every 400 ms anyway (a sampler of its own doubled
   * those calls).
   */
  get grayIdsSeen(): ReadonlySet<string> {
    return this.alb?.instancesSeen.get(this.w.fx.gray.asgName) ?? new Set();
  }

  /**
   * Another fault proxy in front of the same emulator, for a second process whose calls must be
   * told apart (or faulted) separately.
   */
  async newProxy(seed = 2): Promise<FaultProxy> {
    const p = new FaultProxy({ target: this.emu.endpoint, seed });
    await p.start();
    this.#extraProxies.push(p);
    return p;
  }

  /** deploy-gray flags: the test/aws world's fast timings, through the proxy, lease 5 s. */
  flags(extra: RawOptions = {}): RawOptions {
    return rawOptions(this.w, "deploy-gray", {
      endpoint: this.proxy.url,
      lockLease: "5s",
      steps: "25,100",
      returnSteps: "100",
      bake: "2s",
      returnBake: "2s",
      promotionWindow: "1s",
      rollbackWindow: "1s",
      minRequests: 5,
      // A step whose metrics arrive late is extended, not paused, for up to a minute (a loaded machine
      // delayed stable's past the world's 12 s); a step that passes moves on at its bake's end anyway.
      maxBake: "60s",
      // Latency limits: the world's LATENCY_MARGINS (these tests are about control, not latency).
      ...extra,
    });
  }

  /** Flags of a control verb (promote, abort, status): listener, rule and state table only. */
  controlFlags(verb: "promote" | "abort" | "status", extra: RawOptions = {}): RawOptions {
    return rawOptions(this.w, verb, { endpoint: this.proxy.url, lockLease: "5s", ...extra });
  }

  /** Starts the CLI (deploy-gray, promote, abort, status) as a child process. */
  cli(verb: string, flags: RawOptions, env: Record<string, string> = {}): CliRun {
    const run = new CliRun(verb, flags, { ...cliEnv(this.w), ...env });
    this.runs.push(run);
    return run;
  }

  async state(): Promise<{ state: RolloutState; leaseUntil: number; owner: string | null } | null> {
    const out = await this.aws.dynamo.send(
      new GetItemCommand({
        TableName: STATE_TABLE,
        Key: { scope: { S: this.w.fx.ruleArn } },
        ConsistentRead: true,
      }),
    );
    const item = out.Item;
    if (item?.state?.S === undefined) return null;
    return {
      state: JSON.parse(item.state.S) as RolloutState,
      leaseUntil: Number(item.leaseUntil?.N ?? 0),
      owner: item.owner?.M?.id?.S ?? null,
    };
  }

  /**
   * Sets the stored rollout's lease to end `ms` from now, as its owner's renewal does, on the same
   * revision and owner (the write fails if another process took the rollout meanwhile). A test holds
   * a dead process's lock live this way for as long as it needs — however late the next processes
   * start on a loaded machine — then lets it lapse in real time.
   */
  async setLease(ms: number): Promise<void> {
    const key = { scope: { S: this.w.fx.ruleArn } };
    const { Item: item } = await this.aws.dynamo.send(
      new GetItemCommand({ TableName: STATE_TABLE, Key: key, ConsistentRead: true }),
    );
    const owner = item?.owner?.M?.id?.S;
    if (item?.revision?.N === undefined || owner === undefined)
      throw new Error("setLease: no rollout with an owner is stored");
    await this.aws.dynamo.send(
      new UpdateItemCommand({
        TableName: STATE_TABLE,
        Key: key,
        ConditionExpression: "#revision = :revision AND #owner.#id = :owner",
        UpdateExpression: "SET #leaseUntil = :lease",
        ExpressionAttributeNames: {
          "#revision": "revision",
          "#owner": "owner",
          "#id": "id",
          "#leaseUntil": "leaseUntil",
        },
        ExpressionAttributeValues: {
          ":revision": { N: item.revision.N },
          ":owner": { S: owner },
          ":lease": { N: String(Date.now() + ms) },
        },
      }),
    );
  }

  /** Sleeps until the stored rollout's lease has expired (a dead process can no longer renew it). */
  async leaseExpired(): Promise<void> {
    const s = await this.state();
    const wait = (s?.leaseUntil ?? 0) - Date.now() + 100;
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }

  /** Launch template versions (numbers). */
  async templateVersions(): Promise<number[]> {
    const out = await this.aws.ec2.send(
      new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateId: this.w.fx.launchTemplate.id }),
    );
    return (out.LaunchTemplateVersions ?? []).map((v) => v.VersionNumber ?? 0).sort((a, b) => a - b);
  }

  async activeRefreshes(): Promise<string[]> {
    const out = await this.aws.autoScaling.send(
      new DescribeInstanceRefreshesCommand({ AutoScalingGroupName: this.w.fx.stable.asgName }),
    );
    return (out.InstanceRefreshes ?? [])
      .filter((r) =>
        ["Pending", "InProgress", "Cancelling", "RollbackInProgress", "Baking"].includes(r.Status ?? ""),
      )
      .map((r) => `${r.InstanceRefreshId} ${r.Status}`);
  }

  /** Gray's instances right now. */
  async grayInstances(): Promise<{ id: string; version: string; state: string }[]> {
    const out = await this.aws.autoScaling.send(
      new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [this.w.fx.gray.asgName] }),
    );
    return (out.AutoScalingGroups?.[0]?.Instances ?? []).map((i) => ({
      id: i.InstanceId ?? "",
      version: i.LaunchTemplate?.Version ?? "",
      state: i.LifecycleState ?? "",
    }));
  }

  /**
   * Every weight write AWS accepted (ModifyRule answered 2xx, through any of the scenario's proxies),
   * in order, without repeats (stickiness-only changes dropped), answered at or after `since`.
   * Exact, unlike the data plane's polling of the rule, which can miss a state that lasted less than
   * its poll period (a reconcile write followed at once by the step's write).
   */
  albWeights(since = 0): { stable: number; gray: number }[] {
    const { stable, gray } = { stable: this.w.fx.stable.targetGroupArn, gray: this.w.fx.gray.targetGroupArn };
    const written = [this.proxy, ...this.#extraProxies]
      .flatMap((p) => p.calls)
      .filter((c) => c.result === "forwarded" && c.status !== null && c.status < 300 && c.doneAt !== null)
      .sort((a, b) => a.doneAt! - b.doneAt!)
      .flatMap((c) => {
        const w = writtenWeights(c, stable, gray);
        return w === null ? [] : [{ at: c.doneAt!, weights: { stable: w.stable, gray: w.gray } }];
      });
    const out: { stable: number; gray: number }[] = [];
    let last = "100/0";
    for (const c of written) {
      const key = `${c.weights.stable}/${c.weights.gray}`;
      if (key === last) continue;
      last = key;
      if (c.at >= since) out.push(c.weights);
    }
    return out;
  }

  /** Gray's weight in every write AWS accepted, in order (see albWeights). */
  grayTrail(since = 0): number[] {
    return this.albWeights(since).map((w) => w.gray);
  }

  /**
   * Gray's weight as the emulated ALB applied it (the data plane polls the rule), in order, without
   * repeats: must be the written trail or a part of it (a very short state may be missed).
   */
  seenTrail(): number[] {
    const out: number[] = [];
    let last = "100/0";
    for (const c of this.alb?.weights.changes ?? []) {
      const key = `${c.config.weights.stable}/${c.config.weights.gray}`;
      if (key === last) continue;
      last = key;
      out.push(c.config.weights.gray);
    }
    return out;
  }

  /** Everything a converged, ended rollout must leave, whatever happened on the way. */
  async converged(expect: { promoted: boolean; stableVersion?: string }): Promise<ConvergenceReport> {
    // Scale-in and the data plane's bookkeeping take a few polls: wait (bounded) for gray to empty.
    const deadline = Date.now() + 5000;
    let gray = await this.grayInstances();
    while (gray.length > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      gray = await this.grayInstances();
    }
    const stable = await group(this.w, this.w.fx.stable.asgName);
    const grayGroup = await group(this.w, this.w.fx.gray.asgName);
    return {
      templateVersions: await this.templateVersions(),
      weights: await forward(this.w),
      stable,
      gray: grayGroup,
      grayInstances: gray.map((i) => `${i.id}@v${i.version} ${i.state}`),
      activeRefreshes: await this.activeRefreshes(),
      phase: (await this.state())?.state.phase ?? null,
      expectedStable: {
        version: expect.stableVersion ?? (expect.promoted ? "2" : "1"),
        min: this.stableBefore.min,
        suspended: this.stableBefore.suspended,
      },
    };
  }

  /** Stops everything of this scenario (CLI processes still running are killed). */
  async close(): Promise<void> {
    try {
      for (const r of this.runs)
        if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill("SIGKILL");
      await Promise.all(this.runs.map((r) => r.done.catch(() => undefined)));
      await this.alb?.stop();
      await this.proxy.close();
      for (const p of this.#extraProxies) await p.close();
      this.aws.destroy();
      idleEmulators.push(this.emu);
      // Strict mode: this scenario's requests that real AWS would refuse fail it (the pooled
      // emulator is never stopped, so its stop() cannot), and its report line is written.
      this.emu.strict?.checkpoint();
    } finally {
      this.#release();
    }
  }
}

export interface ConvergenceReport {
  readonly templateVersions: number[];
  readonly weights: { stable: number; gray: number; stickiness: number | null };
  readonly stable: Awaited<ReturnType<typeof group>>;
  readonly gray: Awaited<ReturnType<typeof group>>;
  readonly grayInstances: string[];
  readonly activeRefreshes: string[];
  readonly phase: string | null;
  readonly expectedStable: { version: string; min: number; suspended: string[] };
}

/** Customers per second: enough for a verdict at 5% within a 2 s window, light on two cores. */
const RPS = 80;

/** test/aws's startDataPlane, with the test deciding what of its metrics reaches CloudWatch. */
async function startAlb(
  w: World,
  faults: (image: string) => InstanceFaults,
  rps: number,
  metrics: () => MetricsPolicy,
): Promise<EmulatedAlb> {
  await w.emu.configure({ newTargetsInitial: true, refreshStepSeconds: 0.2, refreshesPaused: false });
  // The data plane publishes through this client: the test decides what reaches CloudWatch, when.
  const cloudWatch = {
    send: async (command: unknown) => {
      if (!(command instanceof PutMetricDataCommand))
        throw new Error("data plane: unexpected CloudWatch call");
      const p = metrics();
      if (p.drop) return {};
      const data = (command.input.MetricData ?? []).filter((d) => p.keep?.(d) ?? true);
      if (data.length === 0) return {};
      const put = () =>
        w.aws.cloudWatch.send(
          new PutMetricDataCommand({ Namespace: command.input.Namespace, MetricData: data }),
        );
      if (p.lateMs) {
        setTimeout(() => void put().catch(() => undefined), p.lateMs);
        return {};
      }
      return put();
    },
  } as unknown as CloudWatchClient;
  const alb = new EmulatedAlb({
    emu: w.emu,
    aws: { ...w.aws, cloudWatch },
    fx: w.fx,
    periodMs: 1000,
    rps,
    faults,
  });
  await alb.start();
  await alb.waitHealthy("stable", 2);
  alb.startLoad();
  // Stable serves customers before the rollout begins, as in production (a period or so).
  await new Promise((r) => setTimeout(r, 700));
  return alb;
}

/** Starts a scenario (waits for a free slot first). Always `close()` it. */
export async function startScenario(o: ScenarioOptions = {}): Promise<Scenario> {
  const freeSlot = await slot();
  const slotGiven = slotTaken();
  const release = (): void => {
    slotGiven();
    freeSlot();
  };
  let emu: Emulator | undefined;
  let aws: AwsClients | undefined;
  let alb: EmulatedAlb | null = null;
  try {
    emu = await takeEmulator();
    aws = awsClients(emu.clientConfig());
    const w = await buildWorld(emu, aws);
    const releaseImage = w.release;
    let stableBefore: StableBefore = { min: 0, suspended: [] };
    if (o.stableSettings !== false) {
      await aws.autoScaling.send(
        new UpdateAutoScalingGroupCommand({ AutoScalingGroupName: w.fx.stable.asgName, MinSize: 1 }),
      );
      await aws.autoScaling.send(
        new SuspendProcessesCommand({
          AutoScalingGroupName: w.fx.stable.asgName,
          ScalingProcesses: ["AZRebalance"],
        }),
      );
      stableBefore = { min: 1, suspended: ["AZRebalance"] };
    }
    let policy = (): MetricsPolicy => ({});
    if (o.dataPlane !== false) {
      const faults: InstanceFaults = { ...NO_FAULTS, ...o.release };
      alb = await startAlb(
        w,
        (image) => (image === releaseImage ? faults : NO_FAULTS),
        o.rps ?? RPS,
        () => policy(),
      );
    }
    const proxy = new FaultProxy({ target: emu.endpoint, seed: o.seed ?? 1 });
    await proxy.start();
    const s = new Scenario(emu, aws, w, alb, proxy, stableBefore, release);
    policy = () => s.metrics;
    return s;
  } catch (e) {
    await alb?.stop().catch(() => undefined);
    aws?.destroy();
    await emu?.stop().catch(() => undefined);
    release();
    throw e;
  }
}
