/**
 * The pure parts of the AWS adapters, table-driven: the image reference in user data, the weighted
 * forward action, the metric query plan and its summary, error mapping.
 */
import type { Action } from "@aws-sdk/client-elastic-load-balancing-v2";
import { describe, expect, it } from "vitest";
import { AwsCallError, mapAwsError, scrub } from "../../src/aws/errors.js";
import { ecrCoordinates, releaseDescription } from "../../src/aws/fleet.js";
import { desiredActions, forwardMatches, percent, readForward } from "../../src/aws/forward.js";
import { planMetricQueries, summarise } from "../../src/aws/metrics.js";
import { findImageReference, replaceImageReference } from "../../src/aws/user-data.js";
import { AbortedError, CredentialsError } from "../../src/contract/errors.js";

const REF = "123456789012.dkr.ecr.sa-east-1.amazonaws.com/gatewaypix:1.4.2";

describe("the image reference in user data", () => {
  const found: [string, string, string][] = [
    ["IMAGE= line", `#!/bin/bash\nIMAGE=${REF}\ndocker run "$IMAGE"\n`, REF],
    ["quoted export", `export APP_IMAGE="${REF}"\n`, REF],
    ["systemd Environment", `[Service]\nEnvironment="IMAGE=${REF}"\n`, REF],
    [
      "docker run literal",
      `#!/bin/sh\ndocker run -d --name app -p 8080:8080 -e MODE=prod ${REF} serve --port 8080\n`,
      REF,
    ],
    [
      "podman with digest",
      `podman run --rm ghcr.io/acme/gw@sha256:${"a".repeat(64)}\n`,
      `ghcr.io/acme/gw@sha256:${"a".repeat(64)}`,
    ],
    ["cloud-config runcmd", `#cloud-config\nruncmd:\n  - [ sh, -c, "docker run -d ${REF}" ]\n`, REF],
    [
      "IMAGE= wins over a sidecar",
      `IMAGE=${REF}\ndocker run -d fluent/fluent-bit:2.1\ndocker run "$IMAGE"\n`,
      REF,
    ],
  ];
  it.each(found)("finds it: %s", (_, script, ref) => {
    const r = findImageReference(script);
    expect(r.kind).toBe("found");
    if (r.kind === "found") expect(r.ref).toBe(ref);
  });

  it("replaces every occurrence of the one reference and nothing else", () => {
    const script = `#!/bin/bash\nIMAGE=${REF}\ndocker pull ${REF}\ndocker run -p 8080:8080 "$IMAGE"\n# ${REF}x stays\n`;
    const r = findImageReference(script);
    if (r.kind !== "found") throw new Error(r.kind);
    const next = replaceImageReference(script, r, "registry.example.com/gatewaypix:1.5.0");
    expect(next).toBe(
      "#!/bin/bash\nIMAGE=registry.example.com/gatewaypix:1.5.0\ndocker pull registry.example.com/gatewaypix:1.5.0\n" +
        `docker run -p 8080:8080 "$IMAGE"\n# ${REF}x stays\n`,
    );
  });

  const refused: [string, string, "none" | "ambiguous"][] = [
    ["no image at all", "#!/bin/bash\nsystemctl start gateway\n", "none"],
    ["only a variable", 'docker run "$IMAGE"\n', "none"],
    ["an untagged name", "docker run nginx\n", "none"],
    ["a port mapping is not an image", "docker run -p 8080:8080 $IMG\n", "none"],
    ["two IMAGE lines", `IMAGE=${REF}\nWORKER_IMAGE=registry.example.com/worker:3\n`, "ambiguous"],
    ["two docker runs", "docker run a.io/x:1\ndocker run b.io/y:2\n", "ambiguous"],
    ["gzip", "\x1f\x8b\x08compressed", "none"],
  ];
  it.each(refused)("refuses: %s", (_, script, kind) => {
    expect(findImageReference(script).kind).toBe(kind);
  });
});

describe("the weighted forward action", () => {
  const targets = { stableTargetGroupArn: "arn:tg/stable", grayTargetGroupArn: "arn:tg/gray" };
  const actions: Action[] = [
    {
      Type: "authenticate-oidc",
      Order: 1,
      AuthenticateOidcConfig: {
        Issuer: "https://idp",
        ClientId: "c",
        AuthorizationEndpoint: "a",
        TokenEndpoint: "t",
        UserInfoEndpoint: "u",
      },
    },
    {
      Type: "forward",
      Order: 2,
      ForwardConfig: {
        TargetGroups: [
          { TargetGroupArn: "arn:tg/stable", Weight: 100 },
          { TargetGroupArn: "arn:tg/gray", Weight: 0 },
        ],
        TargetGroupStickinessConfig: { Enabled: true, DurationSeconds: 300 },
      },
    },
  ];

  it("reads weights and stickiness, and changes only them", () => {
    const read = readForward(actions, targets);
    if (!read.ok) throw new Error(read.problem.kind);
    expect(read.forward).toMatchObject({
      index: 1,
      weights: { stable: 100, gray: 0 },
      stickinessSeconds: 300,
    });
    expect(forwardMatches(read.forward, { stable: 100, gray: 0 }, 300)).toBe(true);
    expect(forwardMatches(read.forward, { stable: 95, gray: 5 }, 300)).toBe(false);
    const next = desiredActions(actions, read.forward, targets, { stable: 95, gray: 5 }, null);
    expect(next[0]).toBe(actions[0]);
    expect(next[1]).toEqual({
      Type: "forward",
      Order: 2,
      ForwardConfig: {
        TargetGroups: [
          { TargetGroupArn: "arn:tg/stable", Weight: 95 },
          { TargetGroupArn: "arn:tg/gray", Weight: 5 },
        ],
        TargetGroupStickinessConfig: { Enabled: false },
      },
    });
  });

  it("refuses actions that are not a weighted forward over exactly the two groups", () => {
    expect(readForward([{ Type: "fixed-response" }], targets)).toMatchObject({
      ok: false,
      problem: { kind: "no-forward" },
    });
    expect(readForward([{ Type: "forward", TargetGroupArn: "arn:tg/stable" }], targets)).toMatchObject({
      ok: false,
      problem: { kind: "wrong-groups", found: ["arn:tg/stable"] },
    });
  });

  it.each([
    [
      { stable: 95, gray: 5 },
      { stable: 95, gray: 5 },
    ],
    [
      { stable: 1, gray: 1 },
      { stable: 50, gray: 50 },
    ],
    [
      { stable: 999, gray: 1 },
      { stable: 99, gray: 1 },
    ],
    [
      { stable: 0, gray: 7 },
      { stable: 0, gray: 100 },
    ],
  ])("relative ALB weights %j are %j in percent", (raw, pct) => {
    expect(percent(raw)).toEqual(pct);
  });
});

describe("the CloudWatch query plan", () => {
  const o = {
    loadBalancerArn:
      "arn:aws:elasticloadbalancing:sa-east-1:123456789012:loadbalancer/app/gw/0123456789abcdef",
    stableTargetGroupArn:
      "arn:aws:elasticloadbalancing:sa-east-1:123456789012:targetgroup/gw-stable/0123456789abcdef",
    grayTargetGroupArn:
      "arn:aws:elasticloadbalancing:sa-east-1:123456789012:targetgroup/gw-gray/fedcba9876543210",
    periodMs: 60_000,
  };
  const end = Date.UTC(2026, 0, 1, 12, 0);

  it("puts every window of both groups in one request, each percentile over its whole window", () => {
    const plan = planMetricQueries(
      [
        { start: end - 300_000, end },
        { start: end - 600_000, end },
      ],
      o,
    );
    expect(plan.exact).toBe(true);
    expect(plan.startTime.getTime()).toBe(end - 600_000);
    expect(plan.endTime.getTime()).toBe(end);
    const byId = Object.fromEntries(plan.queries.map((q) => [q.Id, q.MetricStat!]));
    expect(byId.gray_p99_w0).toMatchObject({ Period: 300, Stat: "p99" });
    expect(byId.gray_p95_w1).toMatchObject({ Period: 600, Stat: "p95" });
    expect(byId.stable_req).toMatchObject({ Period: 60, Stat: "Sum" });
    expect(byId.gray_req?.Metric?.Dimensions).toEqual([
      { Name: "LoadBalancer", Value: "app/gw/0123456789abcdef" },
      { Name: "TargetGroup", Value: "targetgroup/gw-gray/fedcba9876543210" },
    ]);
    expect(byId.lb_e5xx?.Metric?.Dimensions).toEqual([
      { Name: "LoadBalancer", Value: "app/gw/0123456789abcdef" },
    ]);
    expect(plan.queries).toHaveLength(2 * (5 + 4) + 1);
  });

  it("starts at the lcm of the windows so every window is whole periods of its own", () => {
    const plan = planMetricQueries(
      [
        { start: end - 10_000, end },
        { start: end - 12_000, end },
      ],
      { ...o, periodMs: 1000 },
    );
    expect(plan.startTime.getTime()).toBe(end - 60_000);
  });

  it("sums counts over complete periods, treats absent counts as 0, converts seconds to ms", () => {
    const t = (s: number) => new Date(end - s * 1000);
    const stats = summarise(
      [
        { start: end - 120_000, end },
        { start: end - 240_000, end },
      ],
      [
        { Id: "gray_req", Timestamps: [t(240), t(120), t(60)], Values: [10, 20, 30] },
        { Id: "gray_e5xx", Timestamps: [t(60)], Values: [2] },
        { Id: "gray_p99_w0", Timestamps: [t(120)], Values: [0.25] },
        { Id: "gray_p95_w1", Timestamps: [t(240)], Values: [0.2] },
        { Id: "stable_req", Timestamps: [], Values: [] },
        { Id: "lb_e5xx", Timestamps: [t(60)], Values: [4] },
      ],
      60_000,
    );
    expect(stats[0]!.gray).toMatchObject({ requests: 50, errors: 2, p99Ms: 250, p95Ms: null, hasData: true });
    expect(stats[1]!.gray).toMatchObject({ requests: 60, errors: 2, p95Ms: 200 });
    expect(stats[0]!.stable).toMatchObject({ requests: 0, errors: 0, p95Ms: null, hasData: false });
    expect(stats[0]!.lbErrors).toBe(4);
  });
});

describe("errors and identities", () => {
  it("maps credential errors to CredentialsError and keeps access key ids out of messages", () => {
    const denied = mapAwsError(
      {
        name: "AccessDenied",
        message: "User AKIAABCDEFGHIJKLMNOP is not authorized",
        $metadata: { httpStatusCode: 403 },
      },
      "elasticloadbalancing:ModifyRule",
    );
    expect(denied).toBeInstanceOf(CredentialsError);
    expect(denied.message).not.toContain("AKIAABCDEFGHIJKLMNOP");
    expect(
      mapAwsError({ name: "ExpiredTokenException", $metadata: { httpStatusCode: 400 } }, "x:Y"),
    ).toBeInstanceOf(CredentialsError);
    expect(scrub("key ASIAABCDEFGHIJKLMNOP here")).toBe("key [access key id] here");
  });

  it("keeps the AWS code, and marks throttling and 5xx retryable but client errors not", () => {
    const throttled = mapAwsError({ name: "ThrottlingException", $metadata: { httpStatusCode: 400 } }, "x:Y");
    expect(throttled).toBeInstanceOf(AwsCallError);
    expect(throttled.retryable).toBe(true);
    const server = mapAwsError(
      { name: "InternalFailure", $fault: "server", $metadata: { httpStatusCode: 500 } },
      "x:Y",
    );
    expect(server.retryable).toBe(true);
    const client = mapAwsError(
      { name: "ValidationError", $fault: "client", $metadata: { httpStatusCode: 400 } },
      "x:Y",
    );
    expect(client.retryable).toBe(false);
    expect((client as AwsCallError).awsCode).toBe("ValidationError");
    const ac = new AbortController();
    ac.abort();
    expect(mapAwsError({ name: "AbortError" }, "x:Y", ac.signal)).toBeInstanceOf(AbortedError);
  });

  it("names release versions by image and source, and recognises ECR images", () => {
    expect(releaseDescription({ image: REF }, "7")).toBe(`gray-deploy ${REF} from v7`);
    expect(releaseDescription({ image: `${"a".repeat(250)}:1` }, "7")).toMatch(
      /^gray-deploy release [0-9a-f]{40} from v7$/,
    );
    expect(ecrCoordinates(REF)).toEqual({
      registryId: "123456789012",
      region: "sa-east-1",
      repository: "gatewaypix",
      tag: "1.4.2",
    });
    expect(ecrCoordinates("ghcr.io/acme/gw:1")).toBeNull();
  });
});
