/**
 * deploy-gray, status, promote and abort with `--target aws`, called on the module class across
 * several calls as CI would make them: build and push (recorded), real STS and ECR on the AWS API
 * emulator, and the rollout on a world that outlives each call. The AWS adapters are another
 * issue's; here the target's ports are those of the local environment (real proxy, processes,
 * traffic) with one store shared by all calls, standing in for the ALB, the groups and DynamoDB.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resolveOptions } from "../../src/app/schema.js";
import type { TargetDeps, TargetRuntime } from "../../src/app/targets.js";
import type { Outcome } from "../../src/contract/outcome.js";
import { RolloutOutcomeError } from "../../src/dagger/outcome.js";
import { createLocalEnvironment, type LocalEnvironment } from "../../src/local/environment.js";
import { MemoryRolloutStore } from "../../src/local/memory-store.js";
import { EMULATOR_HOOK_TIMEOUT_MS, type Emulator, startEmulator } from "../support/emulator.js";
import { LATENCY_MARGINS, REAL_TIME_TEST_TIMEOUT_MS } from "../support/margins.js";
import { directory, invoke, moduleWith, secret, testServices } from "./harness.js";
import { type ScannedObject, scanModule } from "./scan.js";

const TIMINGS = {
  bake: "3s",
  maxBake: "8s",
  promotionWindow: "2s",
  rollbackWindow: "2s",
  metricsDelay: "1s",
  metricPeriod: "1s",
  interval: "500ms",
  returnBake: "3s",
  healthyTimeout: "30s",
  instanceWarmup: "0s",
  lockLease: "10s",
  ...LATENCY_MARGINS,
};

const AWS = {
  target: "aws",
  region: "sa-east-1",
  listenerArn:
    "arn:aws:elasticloadbalancing:sa-east-1:123456789012:listener/app/payments/0123456789abcdef/fedcba9876543210",
  stateTable: "gray-deploy-state",
  roleArn: "arn:aws:iam::123456789012:role/gray-deploy-pipeline",
};

const ROLLOUT = {
  ...AWS,
  stableTargetGroupArn:
    "arn:aws:elasticloadbalancing:sa-east-1:123456789012:targetgroup/payments-stable/0123456789abcdef",
  grayTargetGroupArn:
    "arn:aws:elasticloadbalancing:sa-east-1:123456789012:targetgroup/payments-gray/fedcba9876543210",
  stableAsg: "payments-stable",
  grayAsg: "payments-gray",
  launchTemplate: "lt-0123456789abcdef0",
  steps: "20,100",
  returnSteps: "100",
  minRequests: 30,
  ...TIMINGS,
};

let gray: ScannedObject;
let emu: Emulator;
let env: LocalEnvironment | null = null;
const store = new MemoryRolloutStore();
const opened: TargetDeps[] = [];

/** The world of every call: opened on first use with the release's image, kept until the file ends. */
async function world(o: { image?: string | undefined }, deps: TargetDeps): Promise<TargetRuntime> {
  opened.push(deps);
  if (env === null) {
    const local = resolveOptions(
      { target: "local", image: o.image, instances: 2, rps: 200, ...TIMINGS },
      { verb: "deploy-gray" },
    );
    env = await createLocalEnvironment(local);
    env.load.start(); // customers keep coming between CI jobs
  }
  return {
    ports: { router: env.router, fleet: env.fleet, metrics: env.metrics, store },
    description: "local environment standing in for AWS",
    identities: { stable: {}, gray: {} },
    dispose: async () => {},
  };
}

beforeAll(async () => {
  [gray, emu] = await Promise.all([scanModule().then((m) => m.objects.GrayDeploy!), startEmulator()]);
}, EMULATOR_HOOK_TIMEOUT_MS);
afterAll(async () => {
  await env?.dispose();
  await emu?.stop();
});

describe("a rollout on AWS across CI jobs", { timeout: REAL_TIME_TEST_TIMEOUT_MS }, () => {
  const creds = () => ({
    awsAccessKeyId: secret("AKIAGRAYTEST000000"),
    awsSecretAccessKey: secret("not-a-real-secret"),
  });
  const endpoint = () => ({ endpoint: emu.endpoint });
  let image = "";

  it("deploy-gray builds, pushes, deploys the digest and pauses at the manual gate", async () => {
    const { services, recorded, text } = testServices({ openTarget: world });
    const json = await invoke<Promise<string>>(gray, moduleWith(services), "deployGray", {
      ...ROLLOUT,
      ...endpoint(),
      ...creds(),
      approveBefore: ["100"],
      source: directory("payments"),
      repository: "payments/gateway",
      commit: "89abcdef0123456789abcdef0123456789abcdef",
      startedBy: "octocat",
    });
    const outcome = JSON.parse(json) as Outcome;
    expect(recorded.pushes.map((p) => p.ref)).toEqual([
      "123456789012.dkr.ecr.sa-east-1.amazonaws.com/payments/gateway:89abcdef0123",
    ]);
    image = outcome.release.image!;
    expect(image).toMatch(
      /^123456789012\.dkr\.ecr\.sa-east-1\.amazonaws\.com\/payments\/gateway@sha256:[0-9a-f]{64}$/,
    );
    expect(outcome.outcome).toBe("paused");
    expect(outcome.pause).toMatchObject({ reason: "awaiting-approval", gate: "step:100" });
    expect(outcome.weights).toEqual({ stable: 80, gray: 20 });
    // The role was assumed (STS on the emulator) and its credentials handed to the target.
    expect(text()).toContain("assumed-role/gray-deploy-pipeline/gray-deploy-octocat");
    expect(opened.at(-1)?.credentials).toBeTypeOf("function");
    expect((await opened.at(-1)!.credentials!()).accessKeyId).not.toBe("AKIAGRAYTEST000000");
    expect(text()).not.toContain("not-a-real-secret");
  });

  it("status answers the paused rollout's Outcome as JSON", async () => {
    const { services } = testServices({ openTarget: world });
    const json = await invoke<Promise<string>>(gray, moduleWith(services), "status", {
      ...AWS,
      ...endpoint(),
      ...creds(),
    });
    expect(JSON.parse(json)).toMatchObject({ outcome: "paused", release: { image }, phase: "paused" });
  });

  it("deploy-gray of the same image again reports the pause instead of starting over", async () => {
    const { services, recorded } = testServices({ openTarget: world });
    const json = await invoke<Promise<string>>(gray, moduleWith(services), "deployGray", {
      ...ROLLOUT,
      ...endpoint(),
      ...creds(),
      image,
    });
    expect(JSON.parse(json)).toMatchObject({ outcome: "paused" });
    expect(recorded.builds).toEqual([]); // --image given: nothing built
  });

  it("promote passes the gate and the rollout ends promoted", async () => {
    const { services } = testServices({ openTarget: world });
    const json = await invoke<Promise<string>>(gray, moduleWith(services), "promote", {
      ...AWS,
      ...endpoint(),
      ...creds(),
      startedBy: "release-manager",
      reason: "dashboards look fine",
    });
    const outcome = JSON.parse(json) as Outcome;
    expect(outcome.outcome).toBe("promoted");
    expect(outcome.release.approvals).toMatchObject([
      { gate: "step:100", by: "release-manager", reason: "dashboards look fine" },
    ]);
    expect(outcome.weights).toEqual({ stable: 100, gray: 0 });
  });

  it("report renders the stored rollout's report files into a directory", async () => {
    const { services, recorded } = testServices({ openTarget: world });
    await invoke<Promise<unknown>>(gray, moduleWith(services), "report", {
      ...AWS,
      ...endpoint(),
      ...creds(),
    });
    const files = recorded.directories[0]!;
    expect(Object.keys(files).sort()).toEqual(["report.json", "report.md", "timeline.svg"]);
    expect(files["report.md"]).toContain("promoted");
    expect(JSON.parse(files["report.json"]!)).toBeTypeOf("object");
    expect(files["timeline.svg"]).toMatch(/^<svg|<\?xml/);
  });

  it("abort of a finished rollout fails the call as refused, with the reason", async () => {
    const { services } = testServices({ openTarget: world });
    const err = await invoke<Promise<string>>(gray, moduleWith(services), "abort", {
      ...AWS,
      ...endpoint(),
      ...creds(),
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RolloutOutcomeError);
    expect((err as RolloutOutcomeError).kind).toBe("refused");
    expect((err as Error).message).toMatch(/already ended \(promoted\)/);
  });
});
