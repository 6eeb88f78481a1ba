/** The local environment: load and fault injection of the embedded target (src/local). */
import { optionGroup, type Values } from "../contract/options/def.js";
import type { CheckOptions } from "../core/options/checks.js";
import type { PlanOptions } from "../core/options/plan.js";
import type { SignalOptions } from "../core/options/signal.js";
import type { ReleaseOptions } from "../engine/options/release.js";

export const localOptions = optionGroup({
  name: "local",
  target: "local",
  defs: {
    rps: {
      kind: "integer",
      default: 200,
      min: 1,
      max: 5000,
      unit: "requests/s",
      description: "Load generated through the local load balancer during the rollout.",
    },
    rpsRamp: {
      kind: "integer",
      min: 1,
      max: 5000,
      unit: "requests/s",
      description:
        "Rehearse a peak: the load climbs linearly from --rps to this rate over the forward steps' planned bake (steps × --bake), then stays there until the rollout ends.",
    },
    instanceCapacity: {
      kind: "integer",
      default: 200,
      min: 1,
      max: 100_000,
      unit: "requests/s",
      description:
        "Requests per second one local instance serves; above it requests queue and latency rises, as on a saturated machine. Stable's local autoscaling tracks 60% of it per instance, as a target-tracking policy on requests per instance would.",
    },
    instances: {
      kind: "integer",
      default: 4,
      min: 1,
      max: 32,
      description: "Local stable fleet size (processes); gray's size follows the capacity rule.",
    },
    grayErrorRate: {
      kind: "rate",
      default: "0%",
      description: "Fault injection: share of the new version's requests that answer 500.",
    },
    grayLatencyMs: {
      kind: "integer",
      default: 0,
      min: 0,
      max: 60_000,
      unit: "ms",
      description: "Fault injection: latency added to every request of the new version.",
    },
    grayCrash: {
      kind: "boolean",
      default: false,
      description: "Fault injection: the new version exits right after it starts.",
    },
    baselineErrorRate: {
      kind: "rate",
      default: "0%",
      description:
        "Share of requests that fail in both versions (the service's own baseline, not the release's fault).",
    },
    grayPaymentFault: {
      kind: "boolean",
      default: false,
      description:
        "Fault injection: the new version declines every payment (HTTP 200, status declined) while its health checks and GETs stay fine: only a synthetic charge or a business gate sees it.",
    },
    pilotShare: {
      kind: "rate",
      default: "10%",
      description:
        "With --pilot-header or --pilot-cookie: the share of the generated load sent by chosen customers (carrying the header or cookie).",
    },
  },
});

/**
 * The local target's default synthetic transaction: one PIX charge in the sample gateway's sandbox
 * (not counted in its business metrics), which a release with --gray-payment-fault declines.
 */
export const LOCAL_SYNTHETIC = JSON.stringify([
  {
    name: "pix-charge",
    method: "POST",
    path: "/v1/payments",
    body: {
      amount: 100,
      currency: "BRL",
      method: "pix",
      sandbox: true,
      description: "gray-deploy {rolloutId}",
    },
    expect: { status: 201, json: ['$.status == "approved"'] },
  },
]);

export type LocalOptions = Values<typeof localOptions.defs>;

/** What the local target reads: its environment, the plan's timings, the release's image. */
export type LocalTargetOptions = LocalOptions &
  PlanOptions &
  Partial<SignalOptions> &
  Pick<ReleaseOptions, "image"> &
  Partial<Pick<CheckOptions, "pilotHeader" | "pilotCookie">>;
