/**
 * --signal alb|service: the options (per-target defaults, every bad input refused with its field and
 * why), the stored policy (the gates' period and lateness become the service's; the load balancer's
 * go to the guard) and the guard's window.
 */
import { describe, expect, it } from "vitest";
import { policyOf } from "../../src/app/requests.js";
import { type RawOptions, resolveOptions } from "../../src/app/schema.js";
import { InvalidInputError } from "../../src/contract/errors.js";
import { guardWindow, observationWindows } from "../../src/core/decide.js";
import { describeSignal } from "../../src/core/policy.js";

const AWS: RawOptions = {
  target: "aws",
  region: "sa-east-1",
  stateTable: "rollouts",
  listenerArn:
    "arn:aws:elasticloadbalancing:sa-east-1:123456789012:listener/app/gw/0123456789abcdef/0123456789abcdef",
  stableTargetGroupArn:
    "arn:aws:elasticloadbalancing:sa-east-1:123456789012:targetgroup/gw-stable/0123456789abcdef",
  grayTargetGroupArn:
    "arn:aws:elasticloadbalancing:sa-east-1:123456789012:targetgroup/gw-gray/0123456789abcdef",
  stableAsg: "gw-stable",
  grayAsg: "gw-gray",
  launchTemplate: "lt-0123456789abcdef0",
  image: "123456789012.dkr.ecr.sa-east-1.amazonaws.com/gw:2.0.0",
};

function issues(raw: RawOptions): { field: string; message: string }[] {
  try {
    resolveOptions(raw, { verb: "deploy-gray", env: {} });
    return [];
  } catch (e) {
    if (e instanceof InvalidInputError) return [...e.issues];
    throw e;
  }
}

describe("--signal", () => {
  it("defaults to the load balancer's metrics, with nothing stored about a service", () => {
    const p = policyOf(resolveOptions(AWS, { verb: "deploy-gray", env: {} }));
    expect(p.signal).toBeUndefined();
    expect([p.metricPeriodMs, p.metricsDelayMs]).toEqual([60_000, 120_000]);
  });

  it("service on AWS: 10 s periods 15 s late for the gates, the ALB's 60 s / 2 min for the guard", () => {
    const o = resolveOptions({ ...AWS, signal: "service" }, { verb: "deploy-gray", env: {} });
    const p = policyOf(o);
    expect([p.metricPeriodMs, p.metricsDelayMs]).toEqual([10_000, 15_000]);
    expect(p.signal).toEqual({
      kind: "service",
      metrics: {
        namespace: "GrayDeploy/Service",
        requests: "Requests",
        errors: "Errors",
        latency: "Latency",
        latencyUnit: "milliseconds",
        dimensions: { AutoScalingGroupName: "{asg}" },
      },
      guard: { periodMs: 60_000, delayMs: 120_000 },
    });
    expect(describeSignal(p)).toMatch(
      /service's metrics GrayDeploy\/Service Requests\/Errors\/Latency \(AutoScalingGroupName=\{asg\}\) at 10s periods, complete 15s late; the load balancer's 5xx guard them \(1m periods, 2m late\)/,
    );
  });

  it("service locally: 1 s periods, 1 s late (the local bake of 13 s still covers its windows)", () => {
    const p = policyOf(resolveOptions({ signal: "service" }, { verb: "deploy-gray", env: {} }));
    expect([p.metricPeriodMs, p.metricsDelayMs]).toEqual([1000, 1000]);
    expect(p.signal?.guard).toEqual({ periodMs: 1000, delayMs: 1000 });
  });

  it("names, unit and dimensions as given", () => {
    const p = policyOf(
      resolveOptions(
        {
          ...AWS,
          signal: "service",
          serviceNamespace: "Payments/Gateway",
          serviceRequests: "http.requests",
          serviceErrors: "http.5xx",
          serviceLatency: "http.latency",
          serviceLatencyUnit: "seconds",
          serviceDimensions: "Service=gateway,Version={version}",
          servicePeriod: "5s",
          serviceDelay: "20s",
        },
        { verb: "deploy-gray", env: {} },
      ),
    );
    expect(p.signal?.metrics).toMatchObject({
      namespace: "Payments/Gateway",
      requests: "http.requests",
      latencyUnit: "seconds",
      dimensions: { Service: "gateway", Version: "{version}" },
    });
    expect([p.metricPeriodMs, p.metricsDelayMs]).toEqual([5000, 20_000]);
  });

  const bad: [string, RawOptions, string, RegExp][] = [
    ["an unknown signal", { signal: "prometheus" }, "signal", /alb, service/],
    [
      "a period CloudWatch does not serve",
      { servicePeriod: "15s" },
      "servicePeriod",
      /1s, 5s, 10s, 20s, 30s or a multiple of 60s/,
    ],
    [
      "a period that does not divide the ALB's",
      { servicePeriod: "120s", rollbackWindow: "10m", promotionWindow: "10m" },
      "servicePeriod",
      /does not divide --metric-period 1m/,
    ],
    [
      "a window that is not whole periods",
      { servicePeriod: "20s", rollbackWindow: "5m10s" },
      "rollbackWindow",
      /whole number of service periods/,
    ],
    [
      "a bake shorter than the promotion window and the service's delay",
      { bake: "10m", metricsDelay: "0s", serviceDelay: "30s" },
      "bake",
      /promotion window plus the service's delay/,
    ],
    ["an AWS namespace", { serviceNamespace: "AWS/ApplicationELB" }, "serviceNamespace", /not AWS/],
    ["a metric name with a quote", { serviceErrors: 'Errors"' }, "serviceErrors", /CloudWatch metric name/],
    [
      "dimensions that do not tell the pools apart",
      { serviceDimensions: "Service=gateway" },
      "serviceDimensions",
      /no dimension tells stable from gray/,
    ],
    [
      "an unknown placeholder",
      { serviceDimensions: "AutoScalingGroupName={group}" },
      "serviceDimensions",
      /\{group\} .* is not a placeholder/,
    ],
    [
      "a pair without =",
      { serviceDimensions: "AutoScalingGroupName" },
      "serviceDimensions",
      /is not Name=value/,
    ],
    ["a dimension twice", { serviceDimensions: "A={asg},A={version}" }, "serviceDimensions", /given twice/],
  ];
  for (const [name, extra, field, message] of bad) {
    it(`refuses ${name}, naming --${field.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`, () => {
      const found = issues({ ...AWS, signal: "service", ...extra });
      expect(
        found
          .filter((i) => i.field === field)
          .map((i) => i.message)
          .join("\n"),
      ).toMatch(message);
    });
  }

  it("leaves the service options alone with --signal alb", () => {
    expect(issues({ ...AWS, servicePeriod: "15s", serviceDimensions: "Service=gateway" })).toEqual([]);
  });
});

describe("the guard's window", () => {
  it("is the rollback window's length on the ALB's periods and lateness, older than the gates' windows", () => {
    const p = policyOf(resolveOptions({ ...AWS, signal: "service" }, { verb: "deploy-gray", env: {} }));
    const now = Date.UTC(2026, 0, 5, 10, 7, 43, 500);
    expect(observationWindows(p, now).rollback).toEqual({
      start: Date.UTC(2026, 0, 5, 10, 2, 20),
      end: Date.UTC(2026, 0, 5, 10, 7, 20),
    });
    expect(guardWindow(p, now)).toEqual({
      start: Date.UTC(2026, 0, 5, 10, 0),
      end: Date.UTC(2026, 0, 5, 10, 5),
    });
    expect(guardWindow(policyOf(resolveOptions(AWS, { verb: "deploy-gray", env: {} })), now)).toBeNull();
  });
});
