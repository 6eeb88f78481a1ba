/**
 * The AWS target as src/app/registry.ts registers it. Plain data and lazy loaders: importing this
 * file loads no AWS SDK (a local run never does).
 */
import type { TargetDefinition } from "../engine/targets.js";
import { awsOptions, awsScope } from "./options.js";
import type { AwsTargetOptions } from "./target.js";

/** ALB weights, Auto Scaling groups and CloudWatch, with the rollout state in DynamoDB. */
export const awsTarget = {
  name: "aws",
  summary: "drives an ALB, Auto Scaling groups and CloudWatch",
  options: awsOptions,
  defaults: {
    interval: "30s",
    bake: "12m",
    maxBake: "30m",
    rollbackWindow: "5m",
    promotionWindow: "10m",
    metricPeriod: "60s",
    metricsDelay: "2m",
    servicePeriod: "10s",
    serviceDelay: "15s",
    returnBake: "7m",
    healthyTimeout: "10m",
    instanceWarmup: "5m",
    lockLease: "2m",
    syntheticInterval: "30s",
    followLoadDelay: "1m",
  },
  required: { image: ["deploy-gray", "plan"] },
  storedRollouts: true,
  ownGateSource: "cloudwatch",
  hookKinds: ["lambda"],
  // An instance refresh replaces instances one warm-up at a time: at least an hour.
  minPromotionTimeoutMs: 3_600_000,
  scopeOf: awsScope,
  async open(o, deps) {
    const { openAwsTarget } = await import("./target.js");
    return openAwsTarget(o, deps);
  },
  async bootstrap(o, deps) {
    const { bootstrapStateTable } = await import("./bootstrap.js");
    return bootstrapStateTable(o, {
      ...(deps.log ? { log: deps.log } : {}),
      ...(deps.credentials ? { credentials: deps.credentials } : {}),
    });
  },
} satisfies TargetDefinition<AwsTargetOptions>;
