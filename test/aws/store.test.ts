/**
 * The DynamoDB rollout store and `bootstrap`, against the emulator's DynamoDB: the same contract as
 * the memory store (src/local/memory-store.ts), with real conditional writes and real concurrency.
 */

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  CreateTableCommand,
  DescribeContinuousBackupsCommand,
  DescribeTimeToLiveCommand,
  GetItemCommand,
} from "@aws-sdk/client-dynamodb";
import { describe, expect, it } from "vitest";
import { policyOf } from "../../src/app/requests.js";
import { resolveOptions } from "../../src/app/schema.js";
import { bootstrapStateTable } from "../../src/aws/bootstrap.js";
import { createAwsApi } from "../../src/aws/connection.js";
import { DynamoRolloutStore } from "../../src/aws/store.js";
import { PreflightError, StateError } from "../../src/contract/errors.js";
import { newRollout, type RolloutState, transition } from "../../src/core/state.js";
import type { OwnerInfo } from "../../src/ports/index.js";
import { useAwsEmulator } from "./support/hooks.js";
import { cli } from "./support/rollout.js";
import { STATE_TABLE, type World } from "./support/world.js";

const { emu, aws } = useAwsEmulator();
const SCOPE =
  "arn:aws:elasticloadbalancing:sa-east-1:123456789012:listener-rule/app/gatewaypix-alb/0123456789abcdef/0123456789abcdef/0123456789abcdef";

function bootstrapOptions(table = STATE_TABLE) {
  return resolveOptions(
    { target: "aws", region: emu().region, endpoint: emu().endpoint, stateTable: table },
    { verb: "bootstrap" },
  );
}

async function bootstrap(table = STATE_TABLE) {
  return bootstrapStateTable(bootstrapOptions(table), { credentials: async () => emu().credentials });
}

function connection() {
  return createAwsApi({ region: emu().region, endpoint: emu().endpoint, credentials: emu().credentials });
}

function rollout(id: string, now = 1_700_000_000_000): RolloutState {
  const o = resolveOptions({ target: "local" }, { verb: "plan", env: {} });
  return newRollout({
    id,
    scope: SCOPE,
    target: "aws",
    image: `registry.example.com/app:${id}`,
    commit: "abc123",
    startedBy: "ci",
    plan: policyOf(o),
    now,
  });
}

const owner = (id: string): OwnerInfo => ({ id, host: "runner-1", pid: 4242, verb: "deploy-gray" });

describe("bootstrap", () => {
  it("creates the table with the module's schema, TTL and recovery; a rerun changes nothing", async () => {
    const first = await bootstrap();
    expect(first).toMatchObject({
      created: true,
      table: STATE_TABLE,
      timeToLive: "enabled",
      pointInTimeRecovery: "enabled",
    });
    const ttl = await aws().dynamo.send(new DescribeTimeToLiveCommand({ TableName: STATE_TABLE }));
    expect(ttl.TimeToLiveDescription).toMatchObject({
      AttributeName: "expiresAt",
      TimeToLiveStatus: "ENABLED",
    });
    const pitr = await aws().dynamo.send(new DescribeContinuousBackupsCommand({ TableName: STATE_TABLE }));
    expect(pitr.ContinuousBackupsDescription?.PointInTimeRecoveryDescription?.PointInTimeRecoveryStatus).toBe(
      "ENABLED",
    );

    const again = await bootstrap();
    expect(again).toMatchObject({
      created: false,
      timeToLive: "already enabled",
      pointInTimeRecovery: "already enabled",
    });
    expect(again.message).toMatch(/already exists with the right key \(scope\)/);
  });

  it("refuses an existing table with another key, naming the difference", async () => {
    await aws().dynamo.send(
      new CreateTableCommand({
        TableName: "wrong-table",
        BillingMode: "PAY_PER_REQUEST",
        AttributeDefinitions: [
          { AttributeName: "pk", AttributeType: "S" },
          { AttributeName: "sk", AttributeType: "S" },
        ],
        KeySchema: [
          { AttributeName: "pk", KeyType: "HASH" },
          { AttributeName: "sk", KeyType: "RANGE" },
        ],
      }),
    );
    const err = await bootstrap("wrong-table").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PreflightError);
    expect((err as PreflightError).message).toBe(
      "the table wrong-table exists and has partition key pk (S) and sort key sk (S); gray-deploy needs partition key scope (S) and no sort key",
    );
  });

  it("runs from the CLI and prints what it did", async () => {
    const w = { emu: emu() } as World;
    const r = await cli(w, "bootstrap", {
      target: "aws",
      region: emu().region,
      endpoint: emu().endpoint,
      stateTable: "cli-made-table",
    });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ created: true, table: "cli-made-table" });
  });
});

describe("credentials from an assumed role", () => {
  const ROLE = "arn:aws:iam::123456789012:role/gray-deploy-pipeline";

  it("assumes --role-arn with a web-identity token file (CI OIDC), and with the default chain", async () => {
    await bootstrap();
    const dir = mkdtempSync(join(tmpdir(), "gray-oidc-"));
    const tokenFile = join(dir, "token");
    writeFileSync(tokenFile, "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJyZXBvOmFjbWUvZ3cifQ.c2lnbmF0dXJl");
    const saved = { ...process.env };
    try {
      const oidc = createAwsApi({
        region: emu().region,
        endpoint: emu().endpoint,
        roleArn: ROLE,
        env: { AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile },
      });
      const table = await oidc.api.dynamo.describeTable({ TableName: STATE_TABLE });
      expect(table.Table?.TableName).toBe(STATE_TABLE);
      oidc.destroy();

      // Without a token file the role is assumed with the standard chain's credentials.
      process.env.AWS_ACCESS_KEY_ID = emu().credentials.accessKeyId;
      process.env.AWS_SECRET_ACCESS_KEY = emu().credentials.secretAccessKey;
      const chained = createAwsApi({
        region: emu().region,
        endpoint: emu().endpoint,
        roleArn: ROLE,
        env: {},
      });
      expect((await chained.api.dynamo.describeTable({ TableName: STATE_TABLE })).Table?.TableName).toBe(
        STATE_TABLE,
      );
      chained.destroy();
    } finally {
      process.env = saved;
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("the DynamoDB rollout store", () => {
  it("round-trips the state exactly, with owner, lease and revision", async () => {
    await bootstrap();
    const c = connection();
    try {
      const store = new DynamoRolloutStore({
        api: c.api,
        table: STATE_TABLE,
        context: { kind: "test", n: 1 },
      });
      const s = rollout("r1");
      const acquired = await store.acquire(s, owner("p1"), 120_000, 1_000);
      expect(acquired.kind).toBe("acquired");
      expect(acquired.stored).toEqual({ state: s, revision: 1, owner: owner("p1"), leaseUntil: 121_000 });

      const moved = transition(s, "preparing", 2_000, { warnings: ["ü ✓ unicode survives"] });
      const saved = await store.save(moved, 1, owner("p1"), 120_000, 2_000);
      expect(saved.revision).toBe(2);
      expect(await store.load(SCOPE)).toEqual({
        state: moved,
        revision: 2,
        owner: owner("p1"),
        leaseUntil: 122_000,
      });
      expect((await store.loadItem(SCOPE))?.context).toEqual({ kind: "test", n: 1 });

      // Pause: nobody owns it; the lease ends now.
      await store.save(moved, 2, null, 120_000, 3_000);
      expect(await store.load(SCOPE)).toMatchObject({ revision: 3, owner: null, leaseUntil: 3_000 });
    } finally {
      c.destroy();
    }
  });

  it("of five concurrent acquirers exactly one wins; the others see who holds it", async () => {
    await bootstrap();
    const c = connection();
    try {
      const stores = Array.from(
        { length: 5 },
        () => new DynamoRolloutStore({ api: c.api, table: STATE_TABLE }),
      );
      const results = await Promise.all(
        stores.map((store, i) => store.acquire(rollout(`race-${i}`), owner(`p${i}`), 60_000, 10)),
      );
      const won = results.filter((r) => r.kind === "acquired");
      expect(won).toHaveLength(1);
      const winner = won[0]!.stored.state.id;
      for (const r of results.filter((x) => x.kind === "held")) expect(r.stored.state.id).toBe(winner);
      expect((await stores[0]!.load(SCOPE))?.state.id).toBe(winner);
    } finally {
      c.destroy();
    }
  });

  it("of two concurrent writers on the same revision exactly one wins; the loser gets a StateError", async () => {
    await bootstrap();
    const c = connection();
    try {
      const store = new DynamoRolloutStore({ api: c.api, table: STATE_TABLE });
      const s = rollout("r2");
      await store.acquire(s, owner("p1"), 60_000, 0);
      const a = transition(s, "preparing", 1);
      const b = transition(s, "failed", 1);
      const results = await Promise.allSettled([
        store.save(a, 1, owner("p1"), 60_000, 1),
        store.save(b, 1, owner("p2"), 60_000, 1),
      ]);
      expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
      const lost = results.find((r) => r.status === "rejected") as PromiseRejectedResult;
      expect(lost.reason).toBeInstanceOf(StateError);
      expect((lost.reason as StateError).code).toBe("INVALID_STATE");
      // A stale revision never writes.
      await expect(store.save(a, 1, owner("p1"), 60_000, 2)).rejects.toBeInstanceOf(StateError);
    } finally {
      c.destroy();
    }
  });

  it("a live rollout holds the scope; once it ended a new one acquires it and it gets a TTL", async () => {
    await bootstrap();
    const c = connection();
    try {
      const store = new DynamoRolloutStore({ api: c.api, table: STATE_TABLE });
      const first = rollout("old");
      await store.acquire(first, owner("p1"), 60_000, 0);
      expect((await store.acquire(rollout("new"), owner("p2"), 60_000, 1)).kind).toBe("held");

      const ended = transition(first, "failed", 5_000);
      await store.save(ended, 1, null, 60_000, 5_000);
      const item = await aws().dynamo.send(
        new GetItemCommand({ TableName: STATE_TABLE, Key: { scope: { S: SCOPE } }, ConsistentRead: true }),
      );
      expect(Number(item.Item?.expiresAt?.N)).toBe(5 + 90 * 86_400);

      const next = await store.acquire(rollout("new"), owner("p2"), 60_000, 6_000);
      expect(next.kind).toBe("acquired");
      expect(next.stored.revision).toBe(3);
      const after = await aws().dynamo.send(
        new GetItemCommand({ TableName: STATE_TABLE, Key: { scope: { S: SCOPE } }, ConsistentRead: true }),
      );
      expect(after.Item?.expiresAt).toBeUndefined();
      expect(after.Item?.rolloutId?.S).toBe("new");
    } finally {
      c.destroy();
    }
  });

  it("says how to create a missing table", async () => {
    const c = connection();
    try {
      const store = new DynamoRolloutStore({ api: c.api, table: "missing-table" });
      const err = await store.load(SCOPE).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PreflightError);
      expect((err as PreflightError).fix).toContain(
        "gray-deploy bootstrap --target aws --state-table missing-table",
      );
    } finally {
      c.destroy();
    }
  });
});
