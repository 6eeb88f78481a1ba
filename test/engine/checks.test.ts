/**
 * The payment-grade checks in the engine, against in-memory ports in virtual time: synthetic
 * transactions before the first customer and during steps, gating and notify-only lifecycle hooks,
 * the chosen-customers step and observe-only gates. The HTTP and Lambda callers themselves run
 * against real receivers elsewhere (test/hooks, test/aws/lambda-hooks.test.ts, test/local-e2e/checks).
 */
import { describe, expect, it } from "vitest";
import { deployRequest, policyOf } from "../../src/app/requests.js";
import { type RawOptions, resolveOptions } from "../../src/app/schema.js";
import type { HookAnswer, HookContext, HookSpec } from "../../src/core/hooks.js";
import type { EngineEvent } from "../../src/engine/events.js";
import { deployGray, type VerbContext } from "../../src/engine/verbs.js";
import type { HookCaller, Ports } from "../../src/ports/index.js";
import { renderReport } from "../../src/report/index.js";
import { MemoryWorld, OWNER, type Scenario } from "../support/memory-world.js";
import { VirtualClock } from "../support/virtual-clock.js";

const SECRET = "sk_sandbox_9f2c4e7a1b";

/** A hook caller that answers from a script per stage instance, and records every call. */
class ScriptedHooks implements HookCaller {
  readonly calls: HookContext[] = [];
  constructor(private readonly answer: (c: HookContext) => HookAnswer) {}
  async call(_hook: HookSpec, context: HookContext): Promise<HookAnswer> {
    this.calls.push(context);
    return this.answer(context);
  }
}

function setup(scenario: Scenario = {}, raw: RawOptions = {}, hooks?: HookCaller) {
  const clock = new VirtualClock();
  const world = new MemoryWorld(clock, scenario);
  const options = resolveOptions(
    { target: "local", image: "registry.example/gateway:2.0.0", ...raw },
    { verb: "deploy-gray" },
  );
  const events: EngineEvent[] = [];
  let n = 0;
  const ctx: VerbContext = {
    clock,
    owner: OWNER,
    newId: () => `rollout-${++n}`,
    onEvent: (e) => events.push(e),
    secret: (name) => (name === "PIX_SANDBOX_TOKEN" ? SECRET : undefined),
  };
  const ports: Ports = {
    router: world.router,
    fleet: world.fleet,
    metrics: world.metrics,
    store: world.store,
    ...(hooks ? { hooks } : {}),
  };
  return { clock, world, options, events, ctx, ports };
}

const declined = { status: 200, body: JSON.stringify({ status: "declined" }), pool: "gray" };

const hook = (stage: string, over: Record<string, unknown> = {}) =>
  JSON.stringify([
    { name: "risk-approval", stage, url: "https://risk.example/hook", secretEnv: "RISK_KEY", ...over },
  ]);

describe("synthetic transactions", () => {
  it("a release whose health passes but whose PIX charge is declined is rolled back before any customer", async () => {
    const { world, options, ports, ctx } = setup({
      synthetic: (v) => (v.startsWith("v2") ? declined : undefined),
    });
    const outcome = await deployGray(deployRequest(options), ports, ctx);
    expect(outcome.outcome).toBe("rolled-back");
    expect(outcome.exitCode).toBe(3);
    expect(outcome.reason).toMatch(/synthetic:pix-charge failed before any customer reached gray/);
    // Gray never had a customer's share: every weight ever written kept it at 0.
    expect(world.maxGrayWeight()).toBe(0);
    expect(world.fleet.grayCapacity).toBe(0);
    expect(world.grayRequests.length).toBeGreaterThanOrEqual(1);
  });

  it("a release that starts declining at 25% is rolled back at that step, its gate failing", async () => {
    const { world, options, ports, ctx } = setup({
      synthetic: (v) => (v.startsWith("v2") && world.router.weights.gray >= 25 ? declined : undefined),
    });
    const outcome = await deployGray(deployRequest(options), ports, ctx);
    expect(outcome.outcome).toBe("rolled-back");
    expect(world.maxGrayWeight()).toBe(25);
    expect(world.router.weights).toEqual({ stable: 100, gray: 0 });
    const rollback = outcome.decisions.find((d) => d.kind === "rollback");
    expect(rollback?.evidence.find((g) => g.gate === "synthetic:pix-charge")?.verdict).toBe("fail");
  });

  it("secret headers are sent to gray and never appear in events, the outcome or the report", async () => {
    const synthetic = JSON.stringify([
      {
        name: "pix-charge",
        method: "POST",
        path: "/v1/payments",
        secretHeaders: { Authorization: { env: "PIX_SANDBOX_TOKEN", prefix: "Bearer " } },
        body: { amount: 100, sandbox: true, description: "gray {rolloutId}" },
        expect: { status: 201, json: ['$.status == "approved"'] },
      },
    ]);
    // The service echoes the header back in a declined answer: the detail must not quote it.
    const { world, options, ports, ctx, events } = setup(
      {
        synthetic: (v, _t, req) =>
          v.startsWith("v2") && world.router.weights.gray >= 50
            ? { status: 402, body: JSON.stringify({ auth: req.headers.Authorization }), pool: "gray" }
            : undefined,
      },
      { synthetic },
    );
    const outcome = await deployGray(deployRequest(options), ports, ctx);
    expect(outcome.outcome).toBe("rolled-back");
    expect(world.grayRequests[0]?.request.headers.Authorization).toBe(`Bearer ${SECRET}`);
    expect(world.grayRequests[0]?.request.body).toContain("gray rollout-1");
    const report = renderReport(outcome, events, {});
    for (const text of [JSON.stringify(events), JSON.stringify(outcome), report.markdown, report.json]) {
      expect(text).not.toContain(SECRET);
    }
  });

  it("an observe-only synthetic transaction that fails leaves the outcome promoted and shows in the report", async () => {
    const synthetic = JSON.stringify([
      {
        name: "decline-probe",
        method: "POST",
        path: "/v1/payments",
        body: { amount: 100, sandbox: true },
        expect: { status: 201, json: ['$.status == "approved"'] },
      },
    ]);
    const { options, ports, ctx, events } = setup(
      { synthetic: (v) => (v.startsWith("v2") ? declined : undefined) },
      { synthetic, observeGates: "synthetic:decline-probe" },
    );
    const outcome = await deployGray(deployRequest(options), ports, ctx);
    expect(outcome.outcome).toBe("promoted");
    const observed = outcome.decisions.flatMap((d) =>
      d.evidence.filter((g) => g.gate === "synthetic:decline-probe"),
    );
    expect(observed.some((g) => g.verdict === "fail" && g.observe === true)).toBe(true);
    const md = renderReport(outcome, events, {}).markdown;
    expect(md).toMatch(/Observe-only gates/);
    expect(md).toMatch(/synthetic:decline-probe/);
  });
});

describe("lifecycle hooks", () => {
  it("a before-step hook answering 'not yet' three times holds the step, then lets it go on", async () => {
    const asked = new Map<string, number>();
    const hooks = new ScriptedHooks((c) => {
      const n = (asked.get(c.instance) ?? 0) + 1;
      asked.set(c.instance, n);
      return n <= 3
        ? { kind: "not-yet", retryAfterMs: null, detail: "answered 423 (not yet)" }
        : { kind: "pass", detail: "answered 200" };
    });
    const { world, options, ports, ctx } = setup(
      {},
      { hooks: hook("before-step", { pollEvery: "5s" }) },
      hooks,
    );
    const outcome = await deployGray(deployRequest(options), ports, ctx);
    expect(outcome.outcome).toBe("promoted");
    // Asked four times before each forward step; the step did not start before the fourth answer.
    for (const w of [5, 25, 50, 100]) {
      const calls = hooks.calls.filter((c) => c.instance === `step:${w}`);
      expect(calls.map((c) => c.ask)).toEqual([1, 2, 3, 4]);
      const passedAt = Date.parse(calls[3]!.sentAt);
      const raised = world.weightLog.find((e) => e.weights.gray === w);
      expect(raised!.at).toBeGreaterThanOrEqual(passedAt);
      expect(passedAt - Date.parse(calls[0]!.sentAt)).toBeGreaterThanOrEqual(15_000);
    }
  });

  it("a failed before-promotion hook rolls back; with onFailure pause it pauses at 100%", async () => {
    const fail = () => new ScriptedHooks(() => ({ kind: "fail", detail: "answered 500: fraud spike" }));
    const a = setup({}, { hooks: hook("before-promotion", {}) }, fail());
    const rolled = await deployGray(deployRequest(a.options), a.ports, a.ctx);
    expect(rolled.outcome).toBe("rolled-back");
    expect(rolled.reason).toMatch(/risk-approval/);
    expect(rolled.reason).toMatch(/fraud spike/);
    expect(a.world.fleet.stableVersion).toBe("v1");
    expect(a.world.router.weights).toEqual({ stable: 100, gray: 0 });

    const b = setup({}, { hooks: hook("before-promotion", { onFailure: "pause" }) }, fail());
    const paused = await deployGray(deployRequest(b.options), b.ports, b.ctx);
    expect(paused.outcome).toBe("paused");
    expect(paused.exitCode).toBe(4);
    expect(b.world.fleet.stableVersion).toBe("v1");
  });

  it("hooks after promotion and on rollback notify only: their failure never changes the outcome", async () => {
    const lambda = (stage: string) =>
      JSON.stringify([
        { name: "notify-risk", stage, url: "https://risk.example/n", secretEnv: "RISK_KEY", retries: 0 },
      ]);
    const failing = new ScriptedHooks(() => ({ kind: "fail", detail: "answered 503" }));
    const a = setup({}, { hooks: lambda("after-promotion") }, failing);
    const promoted = await deployGray(deployRequest(a.options), a.ports, a.ctx);
    expect(promoted.outcome).toBe("promoted");
    expect(failing.calls.map((c) => c.stage)).toEqual(["after-promotion"]);
    expect(JSON.stringify(a.events)).toMatch(/notify-risk/);

    const throwing: HookCaller = {
      async call() {
        throw new Error("connection refused");
      },
    };
    const b = setup(
      { synthetic: (v) => (v.startsWith("v2") ? declined : undefined) },
      { hooks: lambda("on-rollback") },
      throwing,
    );
    const rolled = await deployGray(deployRequest(b.options), b.ports, b.ctx);
    expect(rolled.outcome).toBe("rolled-back");
    expect(rolled.exitCode).toBe(3);
    expect(rolled.reason).toMatch(/synthetic:pix-charge/);
  });
});

describe("chosen-customers step", () => {
  it("comes first, at gray weight 0, and a rollback switches the rule back to stable before the weights", async () => {
    const { world, options, ports, ctx } = setup(
      {
        pilotRule: true,
        // Declines once the chosen customers reach gray (the world has no customer traffic on the rule).
        synthetic: (v) => (v.startsWith("v2") && world.router.pilot ? declined : undefined),
      },
      { pilotHeader: "X-Tenant: acme" },
    );
    const outcome = await deployGray(deployRequest(options), ports, ctx);
    expect(outcome.outcome).toBe("rolled-back");
    expect(outcome.steps[0]?.kind).toBe("pilot");
    expect(world.maxGrayWeight()).toBe(0);
    expect(world.pilotLog.map((e) => e.enabled)).toEqual([true, false]);
    expect(world.router.pilot).toBe(false);
    const off = world.calls.indexOf("router.setPilot false");
    const weights = world.calls.findIndex((c, i) => i > off && c.startsWith("router.setWeights"));
    expect(off).toBeGreaterThan(world.calls.indexOf("router.setPilot true"));
    expect(weights === -1 || weights > off).toBe(true);
  });
});

describe("the report of the checks", () => {
  it("report.md lists every hook call; timeline.svg draws one diamond per call and keeps each panel title clear of its legend", async () => {
    let n = 0;
    const hooks = new ScriptedHooks((c) =>
      c.instance === "step:25" && ++n === 1
        ? { kind: "not-yet", retryAfterMs: null, detail: "answered 423 (not yet)" }
        : { kind: "pass", detail: "answered 200" },
    );
    // Latency far below the rollback limit puts that limit off scale: it once lengthened the title.
    const { options, ports, ctx, events } = setup(
      { latency: () => ({ p95: 20, p99: 40 }) },
      { hooks: hook("before-step", { pollEvery: "5s" }) },
      hooks,
    );
    const outcome = await deployGray(deployRequest(options), ports, ctx);
    expect(outcome.outcome).toBe("promoted");
    const { markdown, svg } = renderReport(outcome, events, { plan: policyOf(options) });
    expect(markdown).toMatch(/### Lifecycle hooks/);
    expect(markdown.match(/risk-approval/g)?.length ?? 0).toBeGreaterThanOrEqual(hooks.calls.length);
    expect(svg.match(/<g class="hook"/g)?.length).toBe(hooks.calls.length);
    expect(svg).toMatch(/limits off scale/);
    // Each panel: the bold title's width (≤ 7.4 px per character at 12 px) ends before the legend.
    const panels = [...svg.matchAll(/<g class="panel" data-panel="([a-z-]+)">(.*?)<\/g>/g)];
    expect(panels.map((p) => p[1])).toEqual(["weight", "error-rate", "latency"]);
    for (const [, key, body] of panels) {
      const title = /<text x="([\d.]+)"[^>]*font-weight="bold"[^>]*>([^<]*)<\/text>/.exec(body!)!;
      const legendStart = Math.min(...[...body!.matchAll(/<line x1="([\d.]+)"/g)].map((m) => Number(m[1])));
      const chars = title[2]!.replace(/&[a-z#0-9]+;/g, "x").length;
      expect(Number(title[1]) + chars * 7.4, key).toBeLessThan(legendStart);
    }
  });
});
