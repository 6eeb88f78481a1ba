/**
 * The module's functions called directly on the class, as the Dagger runtime calls them: real option
 * resolution, real rollouts on the local environment, real STS and ECR on the AWS API emulator; only
 * the container build and push are recorded instead of run (no engine here).
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InvalidInputError } from "../../src/contract/errors.js";
import type { Outcome } from "../../src/contract/outcome.js";
import { RolloutOutcomeError } from "../../src/dagger/outcome.js";
import { EMULATOR_HOOK_TIMEOUT_MS, type Emulator, startEmulator } from "../support/emulator.js";
import { LATENCY_MARGINS, REAL_TIME_TEST_TIMEOUT_MS } from "../support/margins.js";
import { directory, file, invoke, moduleWith, secret, testServices } from "./harness.js";
import { type ScannedObject, scanModule } from "./scan.js";

let gray: ScannedObject;
let emu: Emulator;

beforeAll(async () => {
  [gray, emu] = await Promise.all([scanModule().then((m) => m.objects.GrayDeploy!), startEmulator()]);
}, EMULATOR_HOOK_TIMEOUT_MS);
afterAll(async () => {
  await emu?.stop();
});

/** A short local rollout: two steps and one return step of a few seconds each (the defaults take ~90 s). */
const SHORT_LOCAL_YAML = `
# the same keys as the CLI's --config
instances: 2
rps: 200
steps: "20,100"
bake: 3s
maxBake: 8s
promotionWindow: 2s
rollbackWindow: 2s
metricsDelay: 1s
metricPeriod: 1s
interval: 500ms
returnSteps: "100"
returnBake: 3s
# latency limits well above a busy machine's (test/support/margins.ts): latency is not under test
promoteP95: ${LATENCY_MARGINS.promoteP95}
rollbackP99: ${LATENCY_MARGINS.rollbackP99}
latencySlack: ${LATENCY_MARGINS.latencySlack}
`;

/** A webhook receiver on loopback that records the JSON bodies it gets. */
async function webhookServer(): Promise<{
  url: string;
  received: Record<string, unknown>[];
  close(): Promise<void>;
}> {
  const received: Record<string, unknown>[] = [];
  const server: Server = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => {
      body += c.toString("utf8");
    });
    req.on("end", () => {
      received.push(JSON.parse(body) as Record<string, unknown>);
      res.writeHead(200).end("ok");
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

async function failure(p: Promise<unknown>): Promise<RolloutOutcomeError> {
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(RolloutOutcomeError);
  return e as RolloutOutcomeError;
}

describe("build", () => {
  it("hands the source, Dockerfile, platform, build args and stage to the engine's dockerBuild", () => {
    const { services, recorded } = testServices();
    const src = directory("service");
    const ctr = invoke(gray, moduleWith(services), "build", {
      source: src,
      dockerfile: "deploy/Dockerfile",
      platform: "linux/arm64",
      buildArgs: ["NODE_ENV=production", "VERSION=1.2.3"],
      buildTarget: "runtime",
    });
    expect(recorded.builds).toEqual([
      {
        source: src,
        spec: {
          dockerfile: "deploy/Dockerfile",
          platform: "linux/arm64",
          buildArgs: ["NODE_ENV=production", "VERSION=1.2.3"],
          target: "runtime",
        },
      },
    ]);
    expect(ctr).toMatchObject({ builtFrom: src });
  });

  it("uses ./Dockerfile when none is named, and refuses build args that are not NAME=value", () => {
    const { services, recorded } = testServices();
    invoke(gray, moduleWith(services), "build", { source: directory("s") });
    expect(recorded.builds[0]!.spec).toMatchObject({ dockerfile: "Dockerfile", buildArgs: [] });
    expect(() =>
      invoke(gray, moduleWith(services), "build", { source: directory("s"), buildArgs: ["oops"] }),
    ).toThrow(InvalidInputError);
  });
});

describe("publish", () => {
  it("logs in to ECR with GetAuthorizationToken and pushes to the account's registry, answering the digest", async () => {
    const { services, recorded, text } = testServices();
    const ref = await invoke<Promise<string>>(gray, moduleWith(services), "publish", {
      repository: "payments/gateway",
      source: directory("service"),
      commit: "0123456789abcdef0123456789abcdef01234567",
      region: "sa-east-1",
      endpoint: emu.endpoint,
      awsAccessKeyId: secret(emu.credentials.accessKeyId),
      awsSecretAccessKey: secret(emu.credentials.secretAccessKey),
    });
    const registry = "123456789012.dkr.ecr.sa-east-1.amazonaws.com";
    expect(recorded.pushes).toHaveLength(1);
    const push = recorded.pushes[0]!;
    expect(push.ref).toBe(`${registry}/payments/gateway:0123456789ab`);
    expect(push.auth.address).toBe(registry); // proxyEndpoint without https://
    expect(push.auth.username).toBe("AWS");
    expect(push.auth.password.length).toBeGreaterThan(0);
    expect(push.container).toMatchObject({ spec: { dockerfile: "Dockerfile" } });
    expect(ref).toMatch(new RegExp(`^${registry}/payments/gateway@sha256:[0-9a-f]{64}$`));
    expect(text()).not.toContain(emu.credentials.secretAccessKey);
    expect(text()).not.toContain(push.auth.password);
  });

  it("fails without a region or credentials, before building anything", async () => {
    const { services, recorded } = testServices();
    const mod = moduleWith(services);
    const noRegion = await failure(
      invoke(gray, mod, "publish", { repository: "payments/gateway", source: directory("s") }),
    );
    expect(noRegion.outcome.error?.field).toBe("region");
    const noCreds = await failure(
      invoke(gray, mod, "publish", {
        repository: "payments/gateway",
        source: directory("s"),
        region: "sa-east-1",
        endpoint: emu.endpoint,
      }),
    );
    expect(noCreds.outcome.error?.code).toBe("CREDENTIALS");
    expect(recorded.builds).toEqual([]);
  });
});

describe("--endpoint-service", () => {
  /** A Dagger Service as the SDK hands it over: its endpoint is what the engine's tunnel answers. */
  const service = (url: string) => {
    const asked: unknown[] = [];
    return {
      asked,
      endpoint: async (opts?: unknown) => {
        asked.push(opts);
        return url;
      },
    };
  };

  it("sends every AWS call to the Service's HTTP endpoint", async () => {
    const { services, recorded, text } = testServices();
    const endpointService = service(emu.endpoint);
    await invoke<Promise<string>>(gray, moduleWith(services), "publish", {
      repository: "payments/gateway",
      source: directory("service"),
      region: "sa-east-1",
      endpointService,
      awsAccessKeyId: secret(emu.credentials.accessKeyId),
      awsSecretAccessKey: secret(emu.credentials.secretAccessKey),
    });
    expect(endpointService.asked).toEqual([{ scheme: "http" }]);
    expect(recorded.pushes).toHaveLength(1);
    expect(text()).toContain(`via ${emu.endpoint}`);
  });

  it("is refused together with --endpoint, naming both and the fix, before any AWS call", async () => {
    const { services, recorded } = testServices();
    const err = await failure(
      invoke(gray, moduleWith(services), "status", {
        target: "aws",
        region: "sa-east-1",
        endpoint: emu.endpoint,
        endpointService: service(emu.endpoint),
      }),
    );
    expect(err.kind).toBe("refused");
    expect(err.outcome.error?.field).toBe("endpointService");
    expect(err.message).toContain("--endpoint-service tcp://localhost:PORT");
    expect(recorded.sessions).toBe(0);
  });
});

describe("deploy-gray --target local", { timeout: REAL_TIME_TEST_TIMEOUT_MS }, () => {
  it("runs the local rollout, notifies the webhook and returns the promoted Outcome as JSON", async () => {
    const { services, recorded, text } = testServices();
    const hook = await webhookServer();
    const json = await invoke<Promise<string>>(gray, moduleWith(services), "deployGray", {
      notifyWebhook: secret(`${hook.url}/hooks/T000/B000/secret-path`),
      target: "local",
      config: file("gray-deploy.yaml", SHORT_LOCAL_YAML),
      minRequests: 30,
      startedBy: "octocat",
      commit: "0123456789abcdef0123456789abcdef01234567",
      source: directory("ignored locally"),
    });
    const outcome = JSON.parse(json) as Outcome;
    expect(outcome.outcome).toBe("promoted");
    expect(outcome.exitCode).toBe(0);
    expect(outcome.target).toBe("local");
    expect(outcome.release).toMatchObject({ image: "gray-deploy/sample-gateway:next", startedBy: "octocat" });
    // The config file's plan ran: forward 20 and 100, one return step.
    expect(outcome.steps.map((s) => `${s.kind}:${s.weight}:${s.verdict}`)).toEqual([
      "forward:20:pass",
      "forward:100:pass",
      "return:100:pass",
    ]);
    expect(outcome.weights).toEqual({ stable: 100, gray: 0 });
    expect(recorded.builds).toEqual([]); // nothing is built for the local target
    expect(recorded.sessions).toBe(0); // nor any AWS credential asked for
    // Progress went to the function's log as plain lines (no terminal control characters).
    expect(text()).toMatch(/phase .* → promoted/);
    expect(text().includes("\u001b") || text().includes("\r")).toBe(false);
    // Each phase change and the outcome were POSTed; the URL (a secret) was never printed.
    await hook.close();
    expect(hook.received.map((m) => m.event)).toContain("phase");
    expect(hook.received.at(-1)).toMatchObject({ event: "outcome", outcome: "promoted" });
    expect(text()).not.toContain("secret-path");
  });

  it("fails the call with outcome rolled-back when the new version errs (gray error rate 20%)", async () => {
    const { services } = testServices();
    const err = await failure(
      invoke(gray, moduleWith(services), "deployGray", {
        target: "local",
        config: file("gray-deploy.yaml", SHORT_LOCAL_YAML),
        grayErrorRate: "0.2",
      }),
    );
    expect(err.kind).toBe("rolled-back");
    expect(err.exitCode).toBe(3);
    expect(err.message).toMatch(/^rolled-back \(exit 3\): /);
    expect(err.outcome.weights).toEqual({ stable: 100, gray: 0 });
  });
});

describe("refusals: nothing runs, the call fails with the outcome and the fix", () => {
  it("refuses invalid options, naming each", async () => {
    const { services, recorded } = testServices();
    const err = await failure(
      invoke(gray, moduleWith(services), "deployGray", { target: "local", bake: "5", steps: "50,25" }),
    );
    expect(err.kind).toBe("refused");
    expect(err.exitCode).toBe(2);
    expect(err.message).toContain("--bake");
    expect(err.message).toContain("--steps");
    expect(recorded.builds).toEqual([]);
  });

  it("takes one config file for every verb: keys of other verbs, targets or the CLI are left out, unknown keys refused", async () => {
    const { services } = testServices();
    const shared = file(
      "gray-deploy.json",
      JSON.stringify({
        json: true,
        reportDir: "reports",
        full: true,
        stableAsg: "payments-stable",
        steps: "10,100",
      }),
    );
    const json = await invoke<Promise<string>>(gray, moduleWith(services), "plan", {
      config: shared,
      instances: 1,
    });
    expect((JSON.parse(json) as { steps: { weight: number }[] }).steps.map((s) => s.weight)).toEqual([
      10, 100,
    ]);
    const typo = await failure(
      invoke(gray, moduleWith(services), "plan", { config: file("c.yaml", "bakee: 5m\n") }),
    );
    expect(typo.message).toMatch(/unknown option "bakee"; did you mean bake/);
  }, 60_000);

  it("applies the module's options as the verb's own: one the target does not take is refused, one the verb does not take is left out", async () => {
    const { services, recorded } = testServices();
    const err = await failure(
      invoke(gray, moduleWith(services), "deployGray", {
        target: "aws",
        region: "sa-east-1",
        grayErrorRate: "5%",
        image: "123456789012.dkr.ecr.sa-east-1.amazonaws.com/gateway@sha256:" + "a".repeat(64),
      }),
    );
    expect(err.kind).toBe("refused");
    expect(err.message).toContain("--gray-error-rate");
    expect(recorded.builds).toEqual([]);
    // --reason and --full are promote's/abort's: plan leaves --reason out; --full is not the module's.
    const json = await invoke<Promise<string>>(gray, moduleWith(services), "plan", {
      target: "local",
      reason: "not plan's",
      steps: "10,100",
    });
    expect((JSON.parse(json) as { steps: { weight: number }[] }).steps.map((s) => s.weight)).toEqual([
      10, 100,
    ]);
    expect(() => invoke(gray, moduleWith(services), "plan", { target: "local", full: true })).toThrow(
      /has no argument\(s\) full/,
    );
  }, 60_000);

  it("needs --image or --repository on AWS, before any credential or build", async () => {
    const { services, recorded } = testServices();
    const err = await failure(
      invoke(gray, moduleWith(services), "deployGray", { target: "aws", region: "sa-east-1" }),
    );
    expect(err.outcome.error?.field).toBe("image");
    expect(recorded.sessions).toBe(0);
    expect(recorded.builds).toEqual([]);
  });

  it("needs --source to build without --image, before any credential or build", async () => {
    const { services, recorded } = testServices();
    const err = await failure(
      invoke(gray, moduleWith(services), "deployGray", {
        target: "aws",
        region: "sa-east-1",
        repository: "payments/gateway",
      }),
    );
    expect(err.outcome.error?.field).toBe("source");
    expect(err.message).toContain("--source");
    expect(recorded.sessions).toBe(0);
    expect(recorded.builds).toEqual([]);
  });

  it.each(["status", "promote", "abort", "bootstrap"])("%s refuses the local target", async (fn) => {
    const { services } = testServices();
    const err = await failure(invoke(gray, moduleWith(services), fn, {}));
    expect(err.kind).toBe("refused");
    expect(err.outcome.error?.field).toBe("target");
  });
});

describe("plan --target local", () => {
  it("returns the plan's JSON and changes nothing", async () => {
    const { services } = testServices();
    const json = await invoke<Promise<string>>(gray, moduleWith(services), "plan", {
      target: "local",
      instances: 2,
      steps: "10,50,100",
    });
    const report = JSON.parse(json) as { steps: { weight: number }[]; blockers: string[]; target: string };
    expect(report.target).toBe("local");
    expect(report.steps.map((s) => s.weight)).toEqual([10, 50, 100]);
    expect(report.blockers).toEqual([]);
  }, 60_000);

  it("reads the secrets the checks name from --check-secrets (NAME=value lines): refused without them, planned with them", async () => {
    const { services } = testServices();
    const hooks = JSON.stringify([
      {
        name: "risk-approval",
        stage: "before-step",
        url: "https://risk.example/h",
        secretEnv: "RISK_HOOK_SECRET",
      },
    ]);
    const refused = await failure(invoke(gray, moduleWith(services), "plan", { target: "local", hooks }));
    expect(refused.kind).toBe("refused");
    expect(refused.outcome.error?.field).toBe("hooks[0].secretEnv");
    expect(refused.message).toMatch(/RISK_HOOK_SECRET=… line in --check-secrets/);
    const json = await invoke<Promise<string>>(gray, moduleWith(services), "plan", {
      target: "local",
      hooks,
      checkSecrets: secret("# signing keys\nRISK_HOOK_SECRET=hk-5f0c9e2a71\n"),
    });
    expect(json).not.toContain("hk-5f0c9e2a71");
    const report = JSON.parse(json) as { checks: string[] };
    expect(report.checks.some((c) => c.includes("risk-approval"))).toBe(true);
    expect(report.checks.some((c) => c.startsWith("synthetic:pix-charge"))).toBe(true);
  }, 60_000);
});
