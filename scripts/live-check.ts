/**
 * The real-account check of the runbook (docs/gray-deployment-runbook.md, "Live check"): from an
 * applied IaC/examples/existing-alb, with the sample gateway's images in ECR, it runs `plan`, a full
 * rollout of a good release, a bad release that must roll back, and an `abort` during a bake — the CLI
 * exactly as a pipeline runs it — while it watches the load balancer from outside (a traffic probe
 * through the listener) and CloudWatch, then prints each item of the runbook's real-AWS checklist with
 * what it observed.
 *
 * Run it with scripts/live-check.sh (which refuses without an explicit account id and a confirmation
 * flag). The same code runs in `npm test` against the AWS emulator with a fake account
 * (test/live-check/emulator.test.ts): only the world differs.
 *
 *   npx tsx scripts/live-check.ts --config gray-deploy.json --account-id 123456789012 \
 *     --url https://gatewaypix.sandbox.example.com --good-image … --bad-image … --next-image …
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { AutoScalingClient, DescribeInstanceRefreshesCommand } from "@aws-sdk/client-auto-scaling";
import { CloudWatchClient, GetMetricDataCommand } from "@aws-sdk/client-cloudwatch";
import { CreateLaunchTemplateVersionCommand, EC2Client } from "@aws-sdk/client-ec2";
import {
  DescribeRulesCommand,
  ElasticLoadBalancingV2Client,
} from "@aws-sdk/client-elastic-load-balancing-v2";
import { GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import { arnSuffix } from "../src/aws/metrics.js";
import type { Outcome } from "../src/contract/outcome.js";

const BIN = fileURLToPath(new URL("../bin/gray-deploy.mjs", import.meta.url));

/**
 * The runbook's real-AWS checklist: what the live check verifies or measures. The runbook names each
 * id (both languages; test/live-check checks it) so a person reading the output finds the item.
 */
export const LIVE_CHECKLIST = [
  { id: "identity", text: "The credentials belong to the account named with --account-id" },
  { id: "plan", text: "`plan` exits 0 against the applied example and names its target groups and groups" },
  {
    id: "rollout",
    text: "A good release is promoted: stable on the new launch template version, gray at 0, weights 100/0",
  },
  {
    id: "rollback",
    text: "A bad release is rolled back at its first step: weights 100/0, gray at 0, stable untouched",
  },
  {
    id: "sticky-after-rollback",
    text: "After the rollback a client holding gray's stickiness cookie reaches stable only",
  },
  {
    id: "abort",
    text: "`abort` from a second process during a bake ends the first with `aborted`, weights 100/0",
  },
  {
    id: "weight-propagation",
    text: "Delay from a verified weight write to the load balancer applying it (first request to gray; last one after the rollback)",
  },
  {
    id: "refresh-timing",
    text: "The instance refresh that promotes stable: how long it took, against --instance-warmup and the fleet size",
  },
  {
    id: "metric-lateness",
    text: "How late the per-target-group ALB metrics land in CloudWatch (the tool's --metrics-delay assumes 1 to 3 minutes)",
  },
  {
    id: "period-20",
    text: "Does GetMetricData accept Period 20? (the API reference lists 1, 5, 10, 20, 30; translations and the Terraform provider only 1, 5, 10, 30)",
  },
  {
    id: "alb-sub-minute-period",
    text: "What GetMetricData returns for an ALB (regular-resolution) metric with Period 10: an error, nothing, or 1-minute data",
  },
  {
    id: "user-data-16k",
    text: "Is the 16 KB user-data limit on the raw or the base64 text? (CreateLaunchTemplateVersion with DryRun, ~13 KB raw = ~17 KB base64)",
  },
] as const;

export type ChecklistId = (typeof LIVE_CHECKLIST)[number]["id"];

export interface ChecklistResult {
  readonly id: ChecklistId;
  /** ok: as expected; failed: not; observed: a measurement or an answer (no expectation); skipped. */
  readonly status: "ok" | "failed" | "observed" | "skipped";
  readonly observed: string;
}

export interface LiveCheckOptions {
  /** The account the run must be in (compared with sts:GetCallerIdentity before anything else). */
  readonly accountId: string;
  /** gray-deploy's --config file (terraform output -json gray_deploy_config). */
  readonly config: string;
  readonly images: { readonly good: string; readonly bad: string; readonly next: string };
  /** The service through the load balancer, e.g. https://gatewaypix.sandbox.example.com (GET /health). */
  readonly url: string;
  /** Environment of the CLI child processes (credentials from the standard chain). */
  readonly env: Record<string, string | undefined>;
  /** Credentials for the check's own reads; default: the SDK's chain. */
  readonly credentials?: { accessKeyId: string; secretAccessKey: string };
  /** Extra flags per run (the emulator's fast timings); none against AWS. */
  readonly flags?: {
    readonly all?: Record<string, string>;
    /** The bad release's run (after `all`). */
    readonly rollbackRun?: Record<string, string>;
    readonly abortRun?: Record<string, string>;
  };
  /** Traffic probe requests per second (default 5). */
  readonly probeRps?: number;
  /** CloudWatch lateness poll interval (default 15 s). */
  readonly metricPollMs?: number;
  /** Wait after the abort run's first verified weight before `abort` (default 30 s). */
  readonly abortAfterMs?: number;
  /** The questions to AWS (period-20, alb-sub-minute-period, user-data-16k): real AWS only. */
  readonly askAws?: boolean;
  readonly log?: (line: string) => void;
}

export interface LiveCheckResult {
  /** In the checklist's order (they are printed as they are observed). */
  readonly items: readonly ChecklistResult[];
  /** What the traffic probe saw: requests per client and status. */
  readonly probe: Readonly<Record<string, number>>;
  readonly outcomes: Readonly<Record<"rollout" | "rollback" | "abort", Outcome | null>>;
}

export class LiveCheckRefused extends Error {}

// ── the CLI as a pipeline runs it ───────────────────────────────────────────────────────────────

interface CliResult {
  readonly code: number | null;
  readonly outcome: Outcome | null;
  readonly stderr: string;
  readonly endedAt: number;
}

class Cli {
  readonly done: Promise<CliResult>;
  stderr = "";
  #waiters: { re: RegExp; resolve: (at: number) => void }[] = [];

  constructor(verb: string, args: string[], env: Record<string, string | undefined>) {
    const child = spawn(process.execPath, [BIN, verb, "--json", ...args], {
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    child.stdout.setEncoding("utf8").on("data", (s: string) => {
      stdout += s;
    });
    child.stderr.setEncoding("utf8").on("data", (s: string) => {
      this.stderr += s;
      for (const w of [...this.#waiters]) {
        if (w.re.test(this.stderr)) {
          this.#waiters = this.#waiters.filter((x) => x !== w);
          w.resolve(Date.now());
        }
      }
    });
    this.done = new Promise((resolve) => {
      child.on("close", (code) => {
        let outcome: Outcome | null = null;
        try {
          outcome = JSON.parse(stdout) as Outcome;
        } catch {
          outcome = null;
        }
        resolve({ code, outcome, stderr: this.stderr, endedAt: Date.now() });
      });
    });
  }

  /** Resolves with the time stderr first matches `re`. */
  waitFor(re: RegExp): Promise<number> {
    if (re.test(this.stderr)) return Promise.resolve(Date.now());
    return new Promise((resolve) => this.#waiters.push({ re, resolve }));
  }
}

function args(config: string, extra: Record<string, string> = {}): string[] {
  const out = ["--config", config];
  for (const [k, v] of Object.entries(extra))
    out.push(`--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`, v);
  return out;
}

// ── watching from outside ───────────────────────────────────────────────────────────────────────

interface Sample {
  /** When the request was sent: an answer that took long is counted where the load balancer routed it. */
  readonly at: number;
  readonly version: string | null;
  readonly status: number;
  readonly sticky: boolean;
  /** How long the answer took (ms), or until the request failed. */
  readonly ms: number;
  /** Why no answer came (status 0): the error's name and cause code, e.g. TimeoutError, ECONNRESET. */
  readonly error?: string;
}

/**
 * Requests through the load balancer, as customers make them: a fresh client each time (no cookie)
 * and one sticky client that keeps every cookie it is given (the target group stickiness cookie).
 * `pinToNew` makes the sticky client adopt the cookies of the first fresh answer from a version not
 * seen before: a customer the load balancer pinned to the new release.
 */
class Probe {
  readonly samples: Sample[] = [];
  #timer: NodeJS.Timeout | null = null;
  #jar = new Map<string, string>();
  #pinFrom: ReadonlySet<string | null> | null = null;
  /** The version the sticky client was pinned to by `pinToNew`, once it was. */
  pinned: { version: string; at: number } | null = null;

  constructor(
    readonly url: string,
    readonly rps: number,
  ) {}

  start(): void {
    this.#timer = setInterval(() => {
      void this.#one(false);
      void this.#one(true);
    }, 1000 / this.rps);
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
  }

  pinToNew(seen: ReadonlySet<string | null>): void {
    this.#pinFrom = seen;
    this.pinned = null;
  }

  /**
   * Fresh clients one after another, `concurrency` at a time, until `pinToNew` has pinned the sticky
   * client, `over` settles or `max` were sent: customers arriving while the new release has its first
   * weight, so that one of them is answered by it, instead of leaving that to the timer's few requests
   * in the release's first seconds (a busy machine's event loop sent too few of them).
   */
  async pinFresh(over: Promise<unknown>, max: number, concurrency: number): Promise<void> {
    let ended = false;
    void over.then(
      () => (ended = true),
      () => (ended = true),
    );
    let sent = 0;
    const client = async (): Promise<void> => {
      while (!ended && this.#pinFrom !== null && sent < max) {
        sent++;
        await this.#one(false);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, client));
  }

  /** What the probe got: answers out of requests, the slowest answer, and why the others failed. */
  describe(): string {
    const answered = this.samples.filter((x) => x.status !== 0);
    const errors: Record<string, number> = {};
    for (const x of this.samples) {
      if (x.status === 0) errors[x.error ?? "?"] = (errors[x.error ?? "?"] ?? 0) + 1;
    }
    const slowest = answered.reduce((m, x) => Math.max(m, x.ms), 0);
    return `probe: ${answered.length} answers of ${this.samples.length} requests (slowest ${seconds(slowest)}); failed: ${JSON.stringify(errors)}`;
  }

  versions(since = 0): Set<string | null> {
    return new Set(this.samples.filter((s) => s.at >= since && s.version !== null).map((s) => s.version));
  }

  async #one(sticky: boolean): Promise<void> {
    const sent = Date.now();
    const headers: Record<string, string> = {};
    if (sticky && this.#jar.size > 0) headers.cookie = [...this.#jar].map(([k, v]) => `${k}=${v}`).join("; ");
    try {
      // A bound, not a clock: the sample is timed when sent, so a late answer still counts where the
      // load balancer routed it; the load generator's customers wait 30 s too.
      const res = await fetch(`${this.url.replace(/\/$/, "")}/health`, {
        headers,
        signal: AbortSignal.timeout(30_000),
      });
      await res.arrayBuffer();
      const version = res.headers.get("x-service-version");
      const cookies = res.headers.getSetCookie();
      const pin =
        !sticky &&
        this.#pinFrom !== null &&
        version !== null &&
        !this.#pinFrom.has(version) &&
        cookies.length > 0;
      if (sticky || pin) {
        for (const c of cookies) {
          const [kv] = c.split(";");
          const i = kv!.indexOf("=");
          if (i > 0) this.#jar.set(kv!.slice(0, i).trim(), kv!.slice(i + 1).trim());
        }
      }
      if (pin) {
        this.#pinFrom = null;
        this.pinned = { version: version!, at: Date.now() };
      }
      this.samples.push({ at: sent, version, status: res.status, sticky, ms: Date.now() - sent });
    } catch (e) {
      const err = e as { name?: string; cause?: { code?: string; name?: string } };
      const error = [err.name, err.cause?.code ?? err.cause?.name].filter(Boolean).join(":") || "error";
      this.samples.push({ at: sent, version: null, status: 0, sticky, ms: Date.now() - sent, error });
    }
  }
}

/** Gray's RequestCount (Sum) from `start` to `end` at `period` seconds: one GetMetricData call. */
function requestCount(
  lb: string,
  tg: string,
  period: number,
  start: number,
  end: number,
): GetMetricDataCommand {
  return new GetMetricDataCommand({
    StartTime: new Date(start),
    EndTime: new Date(end),
    MetricDataQueries: [
      {
        Id: "req",
        MetricStat: {
          Metric: {
            Namespace: "AWS/ApplicationELB",
            MetricName: "RequestCount",
            Dimensions: [
              { Name: "LoadBalancer", Value: lb },
              { Name: "TargetGroup", Value: tg },
            ],
          },
          Period: period,
          Stat: "Sum",
        },
      },
    ],
  });
}

/** For each metric period of gray's RequestCount: when CloudWatch first had it, after the period ended. */
class Lateness {
  readonly firstSeen = new Map<number, number>();
  #timer: NodeJS.Timeout | null = null;

  constructor(
    readonly cw: CloudWatchClient,
    readonly lb: string,
    readonly tg: string,
    readonly periodS: number,
    readonly pollMs: number,
  ) {}

  start(): void {
    this.#timer = setInterval(() => void this.poll().catch(() => undefined), this.pollMs);
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
  }

  async poll(): Promise<void> {
    const now = Date.now();
    const end = Math.floor(now / (this.periodS * 1000)) * this.periodS * 1000;
    const out = await this.cw.send(
      requestCount(this.lb, this.tg, this.periodS, end - 20 * this.periodS * 1000, end),
    );
    for (const t of out.MetricDataResults?.[0]?.Timestamps ?? []) {
      const k = t.getTime();
      if (!this.firstSeen.has(k)) this.firstSeen.set(k, now);
    }
  }

  /** Lateness per period seen after the watch began (earlier ones were already there). */
  latenessMs(since: number): number[] {
    return [...this.firstSeen]
      .filter(([start]) => start >= since)
      .map(([start, seen]) => seen - (start + this.periodS * 1000))
      .sort((a, b) => a - b);
  }
}

const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

// ── the check ─────────────────────────────────────────────────────────────────────────────────────

export async function runLiveCheck(o: LiveCheckOptions): Promise<LiveCheckResult> {
  const log = o.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const cfg = JSON.parse(readFileSync(o.config, "utf8")) as Record<string, string | undefined>;
  const region = cfg.region ?? o.env.AWS_REGION ?? "";
  const clientConfig = {
    region,
    maxAttempts: 3,
    ...(cfg.endpoint ? { endpoint: cfg.endpoint } : {}),
    ...(o.credentials ? { credentials: o.credentials } : {}),
  };
  const items: ChecklistResult[] = [];
  const item = (id: ChecklistId, status: ChecklistResult["status"], observed: string): void => {
    items.push({ id, status, observed });
    const mark = { ok: "✔", failed: "✘", observed: "•", skipped: "-" }[status];
    const text = LIVE_CHECKLIST.find((c) => c.id === id)!.text;
    log(`LIVE-CHECK ${mark} [${id}] ${text}\n             observed: ${observed}`);
  };
  const outcomes: Record<"rollout" | "rollback" | "abort", Outcome | null> = {
    rollout: null,
    rollback: null,
    abort: null,
  };

  // Nothing happens before the account is the one named on the command line.
  const sts = new STSClient(clientConfig);
  const identity = await sts.send(new GetCallerIdentityCommand({})).finally(() => sts.destroy());
  if (identity.Account !== o.accountId) {
    throw new LiveCheckRefused(
      `the credentials are of account ${identity.Account} (${identity.Arn}), not ${o.accountId}: refusing to change anything`,
    );
  }
  item("identity", "ok", `${identity.Arn} in account ${identity.Account}`);

  const elb = new ElasticLoadBalancingV2Client(clientConfig);
  const asg = new AutoScalingClient(clientConfig);
  const cw = new CloudWatchClient(clientConfig);
  const ec2 = new EC2Client(clientConfig);
  const flags = o.flags?.all ?? {};
  const probe = new Probe(o.url, o.probeRps ?? 5);
  const periodS = Math.max(1, Math.round(parseDurationS(flags.metricPeriod ?? cfg.metricPeriod ?? "60s")));
  const lateness = new Lateness(
    cw,
    arnSuffix(cfg.listenerArn!.replace(":listener/", ":loadbalancer/").replace(/\/[0-9a-f]+$/, "")),
    arnSuffix(cfg.grayTargetGroupArn!),
    periodS,
    o.metricPollMs ?? 15_000,
  );
  const watchFrom = Date.now();
  probe.start();
  lateness.start();
  try {
    // ── plan ──
    const plan = await new Cli("plan", args(o.config, { ...flags, image: o.images.good }), o.env).done;
    item(
      "plan",
      plan.code === 0 ? "ok" : "failed",
      plan.code === 0
        ? `exit 0; ${plan.outcome?.reason ?? "plan printed"}`
        : `exit ${plan.code}: ${tail(plan.stderr)}`,
    );
    // Versions answering before any rollout: stable's.
    await until(() => probe.samples.some((s) => s.version !== null), 30_000);
    if (!probe.samples.some((s) => s.version !== null)) {
      log(`LIVE-CHECK no answer through ${o.url} after 30 s: ${probe.describe()}`);
    }
    const before = new Set(probe.samples.filter((s) => s.version !== null).map((s) => s.version));

    // ── a good release, promoted ──
    const rolloutStart = Date.now();
    const rollout = await new Cli("deploy-gray", args(o.config, { ...flags, image: o.images.good }), o.env)
      .done;
    outcomes.rollout = rollout.outcome;
    const weights = await readWeights(elb, cfg);
    const promoted = rollout.outcome?.outcome === "promoted" && weights.gray === 0;
    item(
      "rollout",
      promoted ? "ok" : "failed",
      `${rollout.outcome?.outcome ?? `exit ${rollout.code}`} in ${seconds(rollout.endedAt - rolloutStart)}; steps ${steps(rollout.outcome)}; weights now ${weights.stable}/${weights.gray}${promoted ? "" : `; ${rollout.outcome?.reason ?? tail(rollout.stderr)}`}`,
    );
    const firstWrite = firstGrayWrite(rollout.outcome);
    const firstNew = probe.samples.find(
      (s) => s.at >= rolloutStart && s.version !== null && !before.has(s.version),
    );
    const propagationIn = firstWrite !== null && firstNew ? firstNew.at - firstWrite : null;

    const refreshes = await asg.send(
      new DescribeInstanceRefreshesCommand({ AutoScalingGroupName: cfg.stableAsg, MaxRecords: 1 }),
    );
    const r = refreshes.InstanceRefreshes?.[0];
    if (r?.StartTime && r.EndTime && r.StartTime.getTime() >= rolloutStart - 60_000) {
      item(
        "refresh-timing",
        r.Status === "Successful" ? "observed" : "failed",
        `${r.Status} in ${seconds(r.EndTime.getTime() - r.StartTime.getTime())} (${r.PercentageComplete ?? "?"}%, instance warm-up ${r.Preferences?.InstanceWarmup ?? "default"} s, min healthy ${r.Preferences?.MinHealthyPercentage ?? "default"}%)`,
      );
    } else {
      item(
        "refresh-timing",
        "failed",
        r ? `no finished refresh from this run (latest: ${r.Status})` : "no instance refresh found",
      );
    }

    // ── a bad release, rolled back ──
    const rollbackStart = Date.now();
    const seenBefore = probe.versions();
    probe.pinToNew(seenBefore);
    const rollbackRun = new Cli(
      "deploy-gray",
      args(o.config, { ...flags, ...o.flags?.rollbackRun, image: o.images.bad }),
      o.env,
    );
    // A customer on the bad release before its rollback: from gray's first verified weight, fresh
    // clients until one is answered by the release (with the stickiness cookie the sticky client keeps).
    const pinning = Promise.race([
      rollbackRun.waitFor(/forward step: stable \d+% \/ gray [1-9]\d*% \(verified\)/),
      rollbackRun.done.then(() => null),
    ]).then((verified) => (verified === null ? undefined : probe.pinFresh(rollbackRun.done, 200, 4)));
    const rollback = await rollbackRun.done;
    await pinning;
    outcomes.rollback = rollback.outcome;
    const after = await readWeights(elb, cfg);
    const rolledBack =
      rollback.outcome?.outcome === "rolled-back" && after.gray === 0 && after.stable === 100;
    const first = rollback.outcome?.steps.find((s) => s.kind === "forward");
    item(
      "rollback",
      rolledBack ? "ok" : "failed",
      `${rollback.outcome?.outcome ?? `exit ${rollback.code}`} in ${seconds(rollback.endedAt - rollbackStart)} at gray ${first?.weight ?? "?"}% (${rollback.outcome?.reason ?? tail(rollback.stderr)}); weights now ${after.stable}/${after.gray}`,
    );
    const rollbackAt = rollbackDecidedAt(rollback.outcome);
    // The bad release's answers: versions first seen during this run.
    const badVersions = [...probe.versions(rollbackStart)].filter((v) => !seenBefore.has(v));
    const isBad = (x: Sample) => x.version !== null && badVersions.includes(x.version);
    const lastBad = probe.samples.filter((x) => !x.sticky && x.at >= rollbackStart && isBad(x)).at(-1);
    const propagationOut = rollbackAt !== null && lastBad ? Math.max(0, lastBad.at - rollbackAt) : null;
    item(
      "weight-propagation",
      propagationIn === null && propagationOut === null ? "failed" : "observed",
      `first request to the release ${propagationIn === null ? "never seen" : `${seconds(propagationIn)} after the first verified gray weight`}; last request (without a cookie) to the bad release ${propagationOut === null ? "not seen" : `${seconds(propagationOut)} after the rollback decision`} (probe: ${o.probeRps ?? 5} rps)`,
    );
    // The pinned customer: on the bad release before the rollback, on stable only after it — after
    // the rollback's verified write (deploy-gray has ended) and as long again as the load balancer took
    // to stop sending fresh clients to the bad release. The decision comes before the write, and a
    // fresh client reaches gray only at gray's weight, so counting from the decision plus the fresh
    // clients' propagation judged requests sent before the write had propagated.
    const settled = Date.now() + (propagationOut ?? 0) + 1000;
    // Answers only: a request that failed reached no release, so it proves nothing either way.
    const answeredSticky = (x: Sample) => x.sticky && x.version !== null && x.at > settled;
    await until(() => probe.samples.filter(answeredSticky).length >= 5, 60_000);
    const pinned = probe.pinned;
    const stickyBefore = probe.samples.filter(
      (x) => x.sticky && pinned !== null && x.at > pinned.at && rollbackAt !== null && x.at < rollbackAt,
    );
    const stickyAfter = probe.samples.filter(answeredSticky);
    const stickyOnBad = stickyAfter.filter(isBad);
    item(
      "sticky-after-rollback",
      pinned !== null && stickyAfter.length > 0 && stickyOnBad.length === 0 ? "ok" : "failed",
      pinned === null
        ? `no answer of the bad release set a cookie: the rule's stickiness is off, or the release was never reached (${probe.describe()})`
        : `a client pinned to ${pinned.version}: ${stickyBefore.filter(isBad).length} of its ${stickyBefore.length} requests before the rollback reached the bad release, ${stickyOnBad.length} of its ${stickyAfter.length} answered after it`,
    );

    // ── abort during a bake ──
    const abortRun = new Cli(
      "deploy-gray",
      args(o.config, { ...flags, ...o.flags?.abortRun, image: o.images.next, startedBy: "live-check" }),
      o.env,
    );
    await Promise.race([
      abortRun.waitFor(/forward step: stable \d+% \/ gray [1-9]\d*% \(verified\)/),
      abortRun.done,
    ]);
    await new Promise((res) => setTimeout(res, o.abortAfterMs ?? 30_000));
    const abortStart = Date.now();
    const abort = await new Cli(
      "abort",
      args(o.config, { ...flags, startedBy: "live-check-operator", reason: "live check" }),
      o.env,
    ).done;
    const firstEnd = await abortRun.done;
    outcomes.abort = firstEnd.outcome;
    const afterAbort = await readWeights(elb, cfg);
    // `abort` reports the rollout it ended: exit 5, outcome aborted.
    const aborted = firstEnd.outcome?.outcome === "aborted" && abort.code === 5 && afterAbort.gray === 0;
    item(
      "abort",
      aborted ? "ok" : "failed",
      `abort exit ${abort.code} in ${seconds(abort.endedAt - abortStart)}; the baking process ended ${firstEnd.outcome?.outcome ?? `exit ${firstEnd.code}`} ${seconds(firstEnd.endedAt - abortStart)} after the abort began; weights now ${afterAbort.stable}/${afterAbort.gray}`,
    );

    // ── CloudWatch: how late the metrics land ──
    await lateness.poll().catch(() => undefined);
    const late = lateness.latenessMs(watchFrom);
    item(
      "metric-lateness",
      late.length > 0 ? "observed" : "failed",
      late.length > 0
        ? `${late.length} periods of ${periodS} s: lateness median ${seconds(late[Math.floor(late.length / 2)]!)}, max ${seconds(late.at(-1)!)} (polled every ${seconds(o.metricPollMs ?? 15_000)})`
        : "no period of gray's RequestCount appeared while the check ran",
    );

    // ── questions only real AWS answers ──
    if (o.askAws) {
      item("period-20", "observed", await answer(() => metricRead(cw, lateness, 20)));
      item("alb-sub-minute-period", "observed", await answer(() => metricRead(cw, lateness, 10)));
      item("user-data-16k", "observed", await answer(() => userDataDryRun(ec2, cfg.launchTemplate!)));
    } else {
      for (const id of ["period-20", "alb-sub-minute-period", "user-data-16k"] as const) {
        item(
          id,
          "skipped",
          "asked of real AWS only (--ask-aws): the emulator's answer would be our own model's",
        );
      }
    }
  } finally {
    probe.stop();
    lateness.stop();
    for (const c of [elb, asg, cw, ec2]) c.destroy();
  }
  const probeSummary: Record<string, number> = {};
  for (const p of probe.samples) {
    const k = `${p.sticky ? "sticky" : "fresh"}:${p.status}:${p.version ?? "-"}`;
    probeSummary[k] = (probeSummary[k] ?? 0) + 1;
  }
  const order = LIVE_CHECKLIST.map((c) => c.id as string);
  items.sort((a, b) => order.indexOf(a.id) - order.indexOf(b.id));
  return { items, outcomes, probe: probeSummary };
}

async function answer(f: () => Promise<string>): Promise<string> {
  try {
    return await f();
  } catch (e) {
    const err = e as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
    return `refused: ${err.name} (${err.$metadata?.httpStatusCode ?? "?"}) ${err.message ?? ""}`;
  }
}

async function metricRead(cw: CloudWatchClient, l: Lateness, period: number): Promise<string> {
  const end = Math.floor(Date.now() / 60_000) * 60_000;
  const out = await cw.send(requestCount(l.lb, l.tg, period, end - 15 * 60_000, end));
  const ts = (out.MetricDataResults?.[0]?.Timestamps ?? []).map((t) => t.getTime()).sort((a, b) => a - b);
  const gaps = ts.slice(1).map((t, i) => t - ts[i]!);
  return `accepted: ${ts.length} datapoints over 15 min${gaps.length > 0 ? `, at least ${Math.min(...gaps) / 1000} s apart` : ""}`;
}

async function userDataDryRun(ec2: EC2Client, launchTemplate: string): Promise<string> {
  // ~13 KB raw is ~17.3 KB base64: over 16 KB only when the limit is on the base64 text.
  const raw = `#!/bin/sh\n# live-check ${"x".repeat(13_000)}\n`;
  const userData = Buffer.from(raw).toString("base64");
  try {
    await ec2.send(
      new CreateLaunchTemplateVersionCommand({
        DryRun: true,
        ...(launchTemplate.startsWith("lt-")
          ? { LaunchTemplateId: launchTemplate }
          : { LaunchTemplateName: launchTemplate }),
        LaunchTemplateData: { UserData: userData },
      }),
    );
    return `no error without DryRun semantics?! (${raw.length} raw / ${userData.length} base64 bytes)`;
  } catch (e) {
    const err = e as { name?: string; message?: string };
    if (err.name === "DryRunOperation") {
      return `accepted (DryRunOperation) at ${raw.length} raw / ${userData.length} base64 bytes: the limit is on the raw bytes`;
    }
    return `refused at ${raw.length} raw / ${userData.length} base64 bytes: ${err.name}: ${err.message}`;
  }
}

async function readWeights(elb: ElasticLoadBalancingV2Client, cfg: Record<string, string | undefined>) {
  const out = await elb.send(new DescribeRulesCommand({ RuleArns: [cfg.ruleArn!] }));
  const f = out.Rules?.[0]?.Actions?.find((a) => a.Type === "forward")?.ForwardConfig;
  const w = (arn?: string) => f?.TargetGroups?.find((t) => t.TargetGroupArn === arn)?.Weight ?? -1;
  return { stable: w(cfg.stableTargetGroupArn), gray: w(cfg.grayTargetGroupArn) };
}

/** When the tool verified gray's first weight above 0 (its decision log). */
function firstGrayWrite(o: Outcome | null): number | null {
  const d = o?.decisions.find((x) => (x.weights?.gray ?? 0) > 0);
  return d ? Date.parse(d.at) : null;
}

/** When the tool decided to roll back (its verified stable 100 / gray 0 write follows at once). */
function rollbackDecidedAt(o: Outcome | null): number | null {
  const d = o?.decisions.findLast((x) => x.kind === "rollback");
  return d ? Date.parse(d.at) : null;
}

function steps(o: Outcome | null): string {
  return (
    o?.steps.map((s) => `${s.kind === "return" ? "stable " : ""}${s.weight}%:${s.verdict}`).join(" → ") ??
    "none"
  );
}

function tail(s: string): string {
  return s.trim().split("\n").slice(-3).join(" | ");
}

function parseDurationS(s: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(s.trim());
  if (!m) return 60;
  const n = Number(m[1]);
  return { ms: n / 1000, s: n, m: n * 60, h: n * 3600 }[m[2] ?? "s"]!;
}

async function until(f: () => boolean, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!f() && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
}

// ── command line (scripts/live-check.sh runs this) ──────────────────────────────────────────────

async function main(): Promise<void> {
  const a = process.argv.slice(2);
  const opt = (name: string): string | undefined => {
    const i = a.indexOf(`--${name}`);
    return i >= 0 ? a[i + 1] : undefined;
  };
  const need = (name: string): string => {
    const v = opt(name);
    if (!v) {
      console.error(`live-check: --${name} is required (see scripts/live-check.sh --help)`);
      process.exit(2);
    }
    return v;
  };
  const o: LiveCheckOptions = {
    accountId: need("account-id"),
    config: need("config"),
    url: need("url"),
    images: { good: need("good-image"), bad: need("bad-image"), next: need("next-image") },
    env: process.env,
    askAws: a.includes("--ask-aws"),
  };
  try {
    const r = await runLiveCheck(o);
    const failed = r.items.filter((i) => i.status === "failed");
    console.log(JSON.stringify(r.items, null, 2));
    process.exit(failed.length === 0 ? 0 : 1);
  } catch (e) {
    console.error(`live-check: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(e instanceof LiveCheckRefused ? 3 : 1);
  }
}

if (process.argv[1] && import.meta.url === `file://${process.argv[1]}`) {
  await main();
}
