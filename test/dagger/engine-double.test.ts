/**
 * The engine double refuses what the engine refuses: a query its schema rejects, a request without the
 * session token, an ID of the wrong type; and a field it does not serve fails the query instead of
 * answering something made up. Without these, the rehearsal's clean protocol would prove nothing.
 */
import { afterEach, describe, expect, it } from "vitest";
import { EngineDouble } from "./engine/double.js";

let double: EngineDouble | undefined;

afterEach(async () => {
  await double?.stop();
  double = undefined;
});

async function post(
  body: unknown,
  token?: string,
): Promise<{ status: number; json: { data?: unknown; errors?: { message: string }[] } }> {
  double ??= new EngineDouble("gray-deploy");
  const { port, token: valid } = await double.start();
  const res = await fetch(`http://127.0.0.1:${port}/query`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      authorization: `Basic ${Buffer.from(`${token ?? valid}:`).toString("base64")}`,
    },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as never };
}

describe("the engine double", () => {
  it("answers the current call as the engine encodes it", async () => {
    double = new EngineDouble("gray-deploy");
    double.setCall({ parentName: "GrayDeploy", name: "status", parent: {}, inputArgs: { target: '"aws"' } });
    const { json } = await post({
      query:
        "{ currentModule { name } currentFunctionCall { parentName name parent inputArgs { name value } } }",
    });
    expect(json.errors).toBeUndefined();
    expect(json.data).toEqual({
      currentModule: { name: "gray-deploy" },
      currentFunctionCall: {
        parentName: "GrayDeploy",
        name: "status",
        parent: "{}",
        inputArgs: [{ name: "target", value: '"aws"' }],
      },
    });
  });

  it("rejects a query the schema does not validate, and records it", async () => {
    const { json } = await post({ query: "{ currentFunctionCall { nosuchField } }" });
    expect(json.errors?.[0]?.message).toMatch(/Cannot query field "nosuchField" on type "FunctionCall"/);
    expect(double!.rejected).toHaveLength(1);
  });

  it("rejects a request without the session token", async () => {
    const { status } = await post({ query: "{ currentModule { name } }" }, "not-the-token");
    expect(status).toBe(401);
    expect(double!.queries).toEqual([]);
  });

  it("refuses an ID of another type than the argument's @expectedType", async () => {
    double = new EngineDouble("gray-deploy");
    const secret = double.secret("s", "value");
    const { json } = await post({ query: `{ module { withObject(object: "${secret}") { id } } }` });
    expect(json.errors?.[0]?.message).toMatch(/is a Secret, expected a TypeDef/);
  });

  it("fails a valid query on a field it does not serve, naming it", async () => {
    const { json } = await post({ query: "{ container { id } }" });
    expect(json.errors?.[0]?.message).toBe("the engine double does not serve Query.container");
    expect(double!.unimplemented).toEqual(["Query.container"]);
  });
});
