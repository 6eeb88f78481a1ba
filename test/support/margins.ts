/**
 * Latency limits for tests whose subject is not latency, in the options they pass (as a user would),
 * well above what a busy 2-core machine produces. On one, the sample service's p95 reached 557–721 ms
 * (the default --promote-p95 is 500 ms: correct rollouts paused as inconclusive), and a freshly
 * started gray's p95 was 139–218 ms against stable's 20–39 ms (the relative gate's default allowance
 * is ×1.5 + 50 ms: correct rollouts were rolled back). The product judged what it measured; the tests
 * measured a busy machine. Tests about latency (a release that adds latency, the gates' arithmetic)
 * keep the defaults or set their own.
 */
import type { RawOptions } from "../../src/contract/options/def.js";

export const LATENCY_MARGINS = {
  promoteP95: "5s",
  rollbackP99: "10s",
  latencySlack: "2s",
} as const satisfies RawOptions;

/** The same as CLI flags. */
export const LATENCY_MARGIN_FLAGS: readonly string[] = [
  "--promote-p95",
  LATENCY_MARGINS.promoteP95,
  "--rollback-p99",
  LATENCY_MARGINS.rollbackP99,
  "--latency-slack",
  LATENCY_MARGINS.latencySlack,
];

/**
 * The timeout of a test that drives real processes in real time (a rollout, CLI runs, a world in the
 * emulator). Only a failure bound: these tests wait on readiness and end as soon as they are done
 * (20–60 s on a quiet machine), but a rollout took over 90 s on a machine whose two cores were
 * oversubscribed several times over, and a clock must not turn slowness into a failure.
 */
export const REAL_TIME_TEST_TIMEOUT_MS = 300_000;
