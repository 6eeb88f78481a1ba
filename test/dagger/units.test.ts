/** The small pure parts of the Dagger layer: ECR tokens, image references, tags, budgets, defaults. */
import { describe, expect, it } from "vitest";
import { configFor } from "../../src/app/config.js";
import { resolveCall } from "../../src/app/resolve.js";
import { resolveOptions } from "../../src/app/schema.js";
import { InvalidInputError, ProviderError, StateError } from "../../src/contract/errors.js";
import { runBudgetMs, SHORT_CALL_MS } from "../../src/dagger/budget.js";
import { givenOptions } from "../../src/dagger/options.js";
import { failureOutcome, outcomeMessage, RolloutOutcomeError, settle } from "../../src/dagger/outcome.js";
import { imageReference, parseAuthorization } from "../../src/dagger/registry.js";
import { defaultTag } from "../../src/dagger/service.js";

const REGISTRY = "123456789012.dkr.ecr.sa-east-1.amazonaws.com";

describe("ECR authorization", () => {
  it("decodes AWS:password and strips the scheme from the proxy endpoint", () => {
    const token = Buffer.from("AWS:eyJwYXlsb2FkIjoi").toString("base64");
    expect(parseAuthorization(token, `https://${REGISTRY}`)).toEqual({
      address: REGISTRY,
      username: "AWS",
      password: "eyJwYXlsb2FkIjoi",
    });
  });

  it("refuses authorization data without a token or an endpoint", () => {
    expect(() => parseAuthorization(undefined, `https://${REGISTRY}`)).toThrow(ProviderError);
    expect(() => parseAuthorization(Buffer.from("AWS:x").toString("base64"), undefined)).toThrow(
      ProviderError,
    );
  });
});

describe("image references", () => {
  it.each([
    ["payments/gateway", `${REGISTRY}/payments/gateway:abc123`],
    [`${REGISTRY}/payments/gateway`, `${REGISTRY}/payments/gateway:abc123`],
    ["localhost:5000/gw", "localhost:5000/gw:abc123"],
  ])("%s → %s", (repo, ref) => {
    expect(imageReference(repo, REGISTRY, "abc123")).toBe(ref);
  });

  it.each(["Payments/Gateway", "payments/gateway:1.0", "payments/gateway@sha256:00"])(
    "refuses %s",
    (repo) => {
      expect(() => imageReference(repo, REGISTRY, "abc123")).toThrow(InvalidInputError);
    },
  );

  it("tags with the commit when it is one, else with the build time", () => {
    expect(defaultTag("0123456789ABCDEF0123", 0)).toBe("0123456789ab");
    expect(defaultTag(undefined, Date.UTC(2026, 10, 26, 4, 5, 6))).toBe("build-20261126-040506");
    expect(defaultTag("release/1.0", Date.UTC(2026, 0, 1))).toBe("build-20260101-000000");
  });
});

describe("an argument given counts as given, even at its default (issue 18)", () => {
  it("keeps every value handed over, as typed; drops only undefined and null", () => {
    expect(
      givenOptions({
        steps: "5,25,50,100",
        bake: "5m",
        minGrayCapacity: 1,
        alarms: [],
        grayCrash: false,
        smokePaths: ["/health"],
        image: undefined,
        commit: null,
      }),
    ).toEqual({
      steps: "5,25,50,100",
      bake: "5m",
      minGrayCapacity: 1,
      alarms: [],
      grayCrash: false,
      smokePaths: ["/health"],
    });
  });

  it("a value equal to the default overrides a config file that says otherwise", () => {
    const o = resolveCall({
      verb: "deploy-gray",
      frontEnd: "dagger",
      given: givenOptions({ target: "local", rollbackErrorRate: "2%" }),
      config: { rollbackErrorRate: "5%" },
    });
    expect(o.rollbackErrorRate).toBe(0.02);
  });

  it("refuses names that are not options", () => {
    expect(() => givenOptions({ bakee: "5m" } as never)).toThrow(InvalidInputError);
  });

  it("leaves config keys of other verbs, targets and the CLI out", () => {
    expect(
      configFor(
        { stableAsg: "a", listenerArn: "arn", reportDir: "r", json: true, reason: "x", nope: 1 },
        "status",
        "aws",
        "dagger",
      ),
    ).toEqual({ listenerArn: "arn", nope: 1 });
  });
});

describe("run budgets (how long credentials must last)", () => {
  it("bounds deploy-gray by its plan: every step at max bake, promotion, return steps, a revert", () => {
    const o = resolveOptions(
      {
        target: "aws",
        region: "sa-east-1",
        listenerArn:
          "arn:aws:elasticloadbalancing:sa-east-1:123456789012:listener/app/gw/0123456789abcdef/0123456789abcdef",
        stableTargetGroupArn:
          "arn:aws:elasticloadbalancing:sa-east-1:123456789012:targetgroup/s/0123456789abcdef",
        grayTargetGroupArn:
          "arn:aws:elasticloadbalancing:sa-east-1:123456789012:targetgroup/g/0123456789abcdef",
        stableAsg: "s",
        grayAsg: "g",
        launchTemplate: "lt-0123456789abcdef0",
        image: "gw:1",
        stateTable: "gray-deploy-state",
      },
      { verb: "deploy-gray" },
    );
    const m = 60_000;
    // 4 × (30m max bake + 10m healthy) + promotion + 2 × 30m + a revert (another promotion) + 2m lease,
    // where a promotion may take max(3 × 10m healthy, 20 × 5m warm-up, 1h) = 100m, as the engine allows.
    expect(runBudgetMs("deploy-gray", o)).toBe(4 * 40 * m + 100 * m + 2 * 30 * m + 100 * m + 2 * m);
    expect(runBudgetMs("promote")).toBe(runBudgetMs("deploy-gray", o)); // AWS defaults
    expect(runBudgetMs("status", o)).toBe(SHORT_CALL_MS);
    expect(runBudgetMs("abort")).toBe(SHORT_CALL_MS + 100 * m);
  });
});

describe("how a call answers", () => {
  it("returns promoted and paused outcomes as JSON and throws the rest with outcome and reason", () => {
    const refused = failureOutcome(new StateError("no rollout is recorded for local"), { target: "aws" });
    expect(refused.outcome).toBe("refused");
    expect(() => settle(refused)).toThrow(RolloutOutcomeError);
    expect(outcomeMessage(refused)).toBe("refused (exit 2): no rollout is recorded for local");
    const promoted = { ...refused, outcome: "promoted" as const, exitCode: 0 as const, error: null };
    expect(JSON.parse(settle(promoted))).toMatchObject({ outcome: "promoted" });
    const failed = failureOutcome(new Error("boom"), { target: "local" });
    expect([failed.outcome, failed.exitCode]).toEqual(["failed", 1]);
  });
});
