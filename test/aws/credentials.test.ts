/**
 * Credentials against the emulator with IAM enforcement on: credentials AWS does not know, and a
 * caller missing a permission (here: everything but the state table), each stop the CLI before
 * anything changes, with the contract's
 * CREDENTIALS error naming the call and the fix — and never printing the secret.
 */
import { describe, expect, it } from "vitest";
import { resolveOptions } from "../../src/app/schema.js";
import { bootstrapStateTable } from "../../src/aws/bootstrap.js";
import { createIamUser } from "../support/aws-fixture.js";
import { REAL_TIME_TEST_TIMEOUT_MS } from "../support/margins.js";
import { useAwsEmulator } from "./support/hooks.js";
import { cli } from "./support/rollout.js";
import { STATE_TABLE, type World } from "./support/world.js";

// Exactly the calls that create the admin user (user, policy, attachment, key) pass unauthenticated.
const { emu } = useAwsEmulator({ iamInitialNoAuthActionCount: 4 });

const LISTENER =
  "arn:aws:elasticloadbalancing:sa-east-1:123456789012:listener/app/gatewaypix-alb/0123456789abcdef/0123456789abcdef";
const allow = (actions: string[]) => ({
  Version: "2012-10-17",
  Statement: [{ Effect: "Allow", Action: actions, Resource: "*" }],
});

async function setUp(): Promise<void> {
  const admin = await createIamUser(emu().clientConfig(), "admin", allow(["*"]));
  const o = resolveOptions(
    { target: "aws", region: emu().region, endpoint: emu().endpoint, stateTable: STATE_TABLE },
    { verb: "bootstrap" },
  );
  await bootstrapStateTable(o, { credentials: async () => admin });
  const reader = await createIamUser(
    emu().clientConfig(admin),
    "state-only",
    allow(["dynamodb:DescribeTable", "dynamodb:GetItem"]),
  );
  users.reader = reader;
}
const users: { reader?: { accessKeyId: string; secretAccessKey: string } } = {};

const TG = "arn:aws:elasticloadbalancing:sa-east-1:123456789012:targetgroup/gatewaypix";
const plan = (keys: { accessKeyId: string; secretAccessKey: string }) =>
  cli(
    { emu: emu() } as World,
    "plan",
    {
      target: "aws",
      region: emu().region,
      endpoint: emu().endpoint,
      listenerArn: LISTENER,
      stateTable: STATE_TABLE,
      image: "123456789012.dkr.ecr.sa-east-1.amazonaws.com/gatewaypix:1.5.0",
      stableTargetGroupArn: `${TG}-stable/0123456789abcdef`,
      grayTargetGroupArn: `${TG}-gray/0123456789abcdef`,
      stableAsg: "gatewaypix-stable",
      grayAsg: "gatewaypix-gray",
      launchTemplate: "gatewaypix-app",
    },
    { AWS_ACCESS_KEY_ID: keys.accessKeyId, AWS_SECRET_ACCESS_KEY: keys.secretAccessKey },
  );

describe("credentials", { timeout: REAL_TIME_TEST_TIMEOUT_MS }, () => {
  it("unknown keys and a missing permission each stop the CLI with exit 2, naming the fix, never the secret", async () => {
    await setUp();
    const stranger = {
      accessKeyId: "AKIAUNKNOWN000000000",
      secretAccessKey: "do-not-print-this-secret-0000000000000000",
    };
    const unknown = await plan(stranger);
    expect(unknown.code, unknown.stderr).toBe(2);
    expect(unknown.outcome?.error).toMatchObject({ code: "CREDENTIALS" });
    // The emulator answers DynamoDB auth failures in XML, which the SDK cannot read: the status still says it.
    expect(unknown.outcome?.error?.message).toMatch(/dynamodb:DescribeTable was refused with HTTP 403/);
    expect(unknown.outcome?.error?.fix).toMatch(/standard chain or --role-arn/);

    const reader = users.reader!;
    const denied = await plan(reader);
    expect(denied.code, denied.stderr).toBe(2);
    expect(denied.outcome?.error).toMatchObject({ code: "CREDENTIALS" });
    expect(denied.outcome?.error?.message).toMatch(
      /elasticloadbalancing:Describe\w+ was denied \(AccessDenied\)/,
    );
    expect(denied.outcome?.error?.fix).toMatch(/pipeline policy/);

    for (const r of [unknown, denied]) {
      const all = r.stdout + r.stderr;
      expect(all).not.toContain(stranger.secretAccessKey);
      expect(all).not.toContain(reader.secretAccessKey);
      expect(all).not.toContain(stranger.accessKeyId);
      expect(all).not.toContain(reader.accessKeyId);
    }
  });
});
