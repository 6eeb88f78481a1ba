/**
 * End to end against the AWS emulator with real traffic, through the CLI as a pipeline runs it: a
 * release whose health checks and GETs pass but which declines every payment is caught by a
 * synthetic PIX charge sent through the load balancer's smoke rule, before the first customer reaches
 * gray. The data plane's proxy counts by route: gray answered the header route only, never a
 * customer's request. The charge's secret header is read from the environment and appears nowhere.
 */

import { describe, expect, it } from "vitest";
import { NO_FAULTS } from "../../src/local/instance.js";
import { POOL_HEADER } from "../../src/local/proxy.js";
import { REAL_TIME_TEST_TIMEOUT_MS } from "../support/margins.js";
import { useAwsEmulator } from "./support/hooks.js";
import { cli, forward, group, startDataPlane } from "./support/rollout.js";
import { buildWorld, createSmokeRule, rawOptions } from "./support/world.js";

const { emu, aws } = useAwsEmulator();
const TOKEN = "sbx_tok_71c3e9a2f0";

describe("a release that declines every payment on AWS", () => {
  it(
    "is rolled back by its synthetic PIX charge before any customer reaches gray",
    async () => {
      const w = await buildWorld(emu(), aws());
      const alb = await startDataPlane(w, {
        faults: (image) => (image === w.release ? { ...NO_FAULTS, paymentFault: true } : NO_FAULTS),
      });
      try {
        await createSmokeRule(w, POOL_HEADER, "gray");
        const synthetic = JSON.stringify([
          {
            name: "pix-charge",
            method: "POST",
            path: "/v1/payments",
            headers: { "Idempotency-Key": "gray-{rolloutId}-{n}" },
            secretHeaders: { Authorization: { env: "PIX_SANDBOX_TOKEN", prefix: "Bearer " } },
            body: { amount: 100, currency: "BRL", method: "pix", sandbox: true },
            expect: { status: 201, json: ['$.status == "approved"'] },
          },
        ]);
        const run = await cli(
          w,
          "deploy-gray",
          rawOptions(w, "deploy-gray", {
            smokeHeader: `${POOL_HEADER}: gray`,
            smokeUrl: alb.url,
            smokePaths: "/health,/v1/payments/pay_smoke0001",
            synthetic,
          }),
          { PIX_SANDBOX_TOKEN: TOKEN },
        );
        expect(run.outcome?.outcome, `${run.outcome?.reason}\n${run.stderr}`).toBe("rolled-back");
        expect(run.code).toBe(3);
        expect(run.outcome?.reason).toMatch(
          /synthetic:pix-charge failed before any customer reached gray: POST \/v1\/payments → 200, expected 201 \(\$\.status = "declined"\)/,
        );
        expect(run.outcome?.steps).toEqual([]);
        // The smoke checks passed (health and GETs are fine): only the charge caught it.
        expect(run.stderr).toMatch(/smoke test passed/);
        // Gray never had weight, and the proxy served it nothing but the header route.
        expect(alb.weights.changes.every((c) => c.config.weights.gray === 0)).toBe(true);
        const routes = alb.proxy.stats().routes;
        expect(routes.header?.gray ?? 0).toBeGreaterThanOrEqual(3);
        expect(routes.weighted?.gray ?? 0).toBe(0);
        expect(routes.sticky?.gray ?? 0).toBe(0);
        expect(routes.weighted?.stable ?? 0).toBeGreaterThan(0);
        expect(await forward(w)).toMatchObject({ stable: 100, gray: 0 });
        expect(await group(w, w.fx.gray.asgName)).toMatchObject({ desired: 0 });
        expect(`${run.stdout}${run.stderr}`).not.toContain(TOKEN);
        expect(alb.errors).toEqual([]);
      } finally {
        await alb.stop();
      }
    },
    REAL_TIME_TEST_TIMEOUT_MS,
  );
});
