/**
 * An AWS read whose SDK attempts all failed with a retryable error is sent again (RETRY.awsRead); a
 * write is not (the engine retries its own writes where it knows they are idempotent). Proven with
 * the real SDK clients against a small real HTTP server that answers in DynamoDB's JSON protocol:
 * 500 InternalServerError for the first N requests, then the real answer.
 */
import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { createAwsApi } from "../../src/aws/connection.js";
import { AbortedError } from "../../src/contract/errors.js";

interface Fake {
  readonly url: string;
  readonly targets: string[];
}

let server: Server | null = null;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((r) => server?.close(r));
  server = null;
});

/** Answers 500 to the first `failures` requests, then DescribeTable/UpdateItem's real shapes. */
async function fake(failures: number): Promise<Fake> {
  const targets: string[] = [];
  let left = failures;
  server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      const target = String(req.headers["x-amz-target"] ?? "");
      targets.push(target.replace(/^DynamoDB_20120810\./, ""));
      res.setHeader("content-type", "application/x-amz-json-1.0");
      if (left > 0) {
        left--;
        res.statusCode = 500;
        res.end(
          JSON.stringify({ __type: "com.amazonaws.dynamodb.v20120810#InternalServerError", message: "boom" }),
        );
        return;
      }
      res.end(
        target.endsWith("DescribeTable")
          ? JSON.stringify({ Table: { TableName: "gray-deploy-state", TableStatus: "ACTIVE" } })
          : JSON.stringify({}),
      );
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, targets };
}

function api(url: string, log: string[]) {
  return createAwsApi({
    region: "sa-east-1",
    endpoint: url,
    credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "not-a-secret" },
    log: (l) => log.push(l),
  });
}

describe("AWS reads are sent again after the SDK's attempts run out; writes are not", () => {
  it("a read failing 7 times in a row (5 attempts, then 2 more) succeeds in its second round", async () => {
    const f = await fake(7);
    const log: string[] = [];
    const c = api(f.url, log);
    const out = await c.api.dynamo.describeTable({ TableName: "gray-deploy-state" });
    c.destroy();
    expect(out.Table?.TableStatus).toBe("ACTIVE");
    expect(f.targets).toEqual(Array(8).fill("DescribeTable"));
    expect(log.filter((l) => l.includes("sent again"))).toHaveLength(1);
    expect(log.filter((l) => /attempt \d\/5 failed/.test(l))).toHaveLength(7);
  });

  it("a read failing for good gives up after three rounds (15 requests), its error retryable", async () => {
    const f = await fake(1000);
    const log: string[] = [];
    const c = api(f.url, log);
    const e = await c.api.dynamo.describeTable({ TableName: "gray-deploy-state" }).catch((x: unknown) => x);
    c.destroy();
    expect(e).toMatchObject({ retryable: true });
    expect(String((e as Error).message)).toMatch(/dynamodb:DescribeTable/);
    expect(f.targets).toHaveLength(15);
  });

  it("a write failing 5 times is not sent again: exactly the SDK's 5 attempts", async () => {
    const f = await fake(5);
    const log: string[] = [];
    const c = api(f.url, log);
    const e = await c.api.dynamo
      .updateItem({ TableName: "gray-deploy-state", Key: { scope: { S: "x" } } })
      .catch((x: unknown) => x);
    c.destroy();
    expect(e).toMatchObject({ retryable: true });
    expect(f.targets).toEqual(Array(5).fill("UpdateItem"));
  });

  it("an abort during the pause between rounds ends the read at once as interrupted", async () => {
    const f = await fake(1000);
    const c = api(f.url, []);
    const ac = new AbortController();
    const pending = c.api.dynamo
      .describeTable({ TableName: "gray-deploy-state" }, ac.signal)
      .catch((x: unknown) => x);
    // Abort once the first round is over (5 requests seen), i.e. during the pause before round two.
    while (f.targets.length < 5) await new Promise((r) => setTimeout(r, 20));
    ac.abort();
    const e = await pending;
    c.destroy();
    expect(e).toBeInstanceOf(AbortedError);
    expect(f.targets.length).toBeLessThanOrEqual(6);
  });
});
