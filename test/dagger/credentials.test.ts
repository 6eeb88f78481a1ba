/**
 * The Dagger module's AWS credentials: which inputs make which mode, how long they last with
 * refreshes, and the preflight (STS GetCallerIdentity, AssumeRole, AssumeRoleWithWebIdentity)
 * against the AWS API emulator, with the real SDK providers.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CredentialsError, InvalidInputError } from "../../src/contract/errors.js";
import {
  type AwsCredentialInput,
  credentialMode,
  lastExpiry,
  openAwsSession,
  REFRESH_BEFORE_MS,
  refreshing,
  sessionSeconds,
  tokenExpiry,
} from "../../src/dagger/credentials.js";
import type { AwsCredentials } from "../../src/engine/targets.js";
import { EMULATOR_HOOK_TIMEOUT_MS, type Emulator, startEmulator } from "../support/emulator.js";

const ROLE = "arn:aws:iam::123456789012:role/gray-deploy-pipeline";
const H = 3_600_000;

/** An unsigned JWT whose only meaningful claim is `exp` (the module reads it, STS verifies it). */
function jwt(expEpochMs: number): string {
  const part = (o: object) => Buffer.from(JSON.stringify(o)).toString("base64url");
  return `${part({ alg: "RS256", typ: "JWT" })}.${part({ sub: "repo:acme/payments:ref:refs/heads/main", exp: Math.floor(expEpochMs / 1000) })}.c2ln`;
}

describe("credentialMode", () => {
  const region = "sa-east-1";
  it.each<[string, Partial<AwsCredentialInput>, string]>([
    ["keys alone", { accessKeyId: "AKID", secretAccessKey: "s" }, "keys"],
    ["keys with a role", { accessKeyId: "AKID", secretAccessKey: "s", roleArn: ROLE }, "assume-role"],
    ["a web identity token with a role", { webIdentityToken: "t", roleArn: ROLE }, "web-identity"],
  ])("%s → %s", (_, input, mode) => {
    expect(credentialMode({ region, ...input })).toBe(mode);
  });

  it.each<[string, Partial<AwsCredentialInput>, new (...a: never[]) => Error, string]>([
    ["nothing", {}, CredentialsError, ""],
    ["a token without a role", { webIdentityToken: "t" }, InvalidInputError, "roleArn"],
    [
      "a token and keys",
      { webIdentityToken: "t", roleArn: ROLE, accessKeyId: "A", secretAccessKey: "s" },
      InvalidInputError,
      "webIdentityToken",
    ],
    ["half a key", { accessKeyId: "AKID" }, InvalidInputError, "awsSecretAccessKey"],
    ["the other half", { secretAccessKey: "s" }, InvalidInputError, "awsAccessKeyId"],
  ])("refuses %s", (_, input, type, field) => {
    let thrown: unknown;
    try {
      credentialMode({ region, ...input });
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(type);
    if (field) expect((thrown as InvalidInputError).field).toBe(field);
  });
});

describe("session lengths and lifetimes", () => {
  it("asks for the run plus a refresh margin, within STS's 15 min to 12 h", () => {
    expect(sessionSeconds(0)).toBe(900);
    expect(sessionSeconds(2 * H)).toBe(2 * 3600 + 900);
    expect(sessionSeconds(20 * H)).toBe(43_200);
  });

  it("re-assumes until the token expires, then lasts one more session", () => {
    const t0 = 1_000_000_000_000;
    // First session ends at t0+1h; refreshes happen 5 min before expiry while the token is valid.
    expect(lastExpiry(t0 + H, t0 + 5 * 60_000, H)).toBe(t0 + H); // token dead before the first refresh
    expect(lastExpiry(t0 + H, t0 + H, H)).toBe(t0 + 2 * H - REFRESH_BEFORE_MS);
    expect(lastExpiry(t0 + H, t0 + 10 * H, H)).toBeGreaterThan(t0 + 10 * H);
    expect(lastExpiry(t0 + H, t0 + 10 * H, 60_000)).toBe(t0 + H); // sessions too short to refresh
  });

  it("reads a JWT's expiry without verifying it, and nothing from other tokens", () => {
    expect(tokenExpiry(jwt(1_700_000_000_000))).toBe(1_700_000_000_000);
    expect(tokenExpiry("opaque-token")).toBeNull();
    expect(tokenExpiry("a.!!!.c")).toBeNull();
  });
});

describe("refreshing", () => {
  it("shares credentials until shortly before they expire, then fetches new ones once", async () => {
    let now = 0;
    let calls = 0;
    const source = async (): Promise<AwsCredentials> => {
      calls++;
      return { accessKeyId: `K${calls}`, secretAccessKey: "s", expiration: new Date(now + H) };
    };
    const provider = refreshing(source, () => now);
    const [a, b] = await Promise.all([provider(), provider()]);
    expect(calls).toBe(1);
    expect(a).toBe(b);
    now = H - REFRESH_BEFORE_MS - 1;
    expect((await provider()).accessKeyId).toBe("K1");
    now = H - REFRESH_BEFORE_MS + 1;
    expect((await provider()).accessKeyId).toBe("K2");
    expect(calls).toBe(2);
  });

  it("keeps serving still-valid credentials when a refresh fails, and fails once they expired", async () => {
    let now = 0;
    let fail = false;
    const source = async (): Promise<AwsCredentials> => {
      if (fail) throw new Error("STS is down");
      return { accessKeyId: "K", secretAccessKey: "s", expiration: new Date(now + H) };
    };
    const provider = refreshing(source, () => now);
    await provider();
    fail = true;
    now = H - 60_000;
    expect((await provider()).accessKeyId).toBe("K");
    now = H + 1;
    await expect(provider()).rejects.toThrow("STS is down");
  });
});

describe("openAwsSession against the AWS API emulator", () => {
  let emu: Emulator;
  let base: { region: string; endpoint: string };
  beforeAll(async () => {
    emu = await startEmulator();
    base = { region: "sa-east-1", endpoint: emu.endpoint };
  }, EMULATOR_HOOK_TIMEOUT_MS);
  afterAll(async () => {
    await emu?.stop();
  });
  const now = () => Date.now();

  it("proves static keys with GetCallerIdentity; long-lived keys need no refresh", async () => {
    const s = await openAwsSession({ ...base, ...emu.credentials }, { forMs: 6 * H }, { now });
    expect(s.mode).toBe("keys");
    expect(s.identity.account).toMatch(/^\d{12}$/);
    expect(s.lastsUntil).toBeNull();
    expect(s.warnings).toEqual([]);
    expect(await s.credentials()).toMatchObject({ accessKeyId: emu.credentials.accessKeyId });
  });

  it("warns that temporary keys cannot be refreshed", async () => {
    const s = await openAwsSession(
      { ...base, ...emu.credentials, sessionToken: "FQoGZXIvYXdzE" },
      { forMs: H },
      { now },
    );
    expect(s.warnings.join(" ")).toMatch(/cannot be refreshed/);
  });

  it("assumes the role with the keys as master credentials, sized to the run", async () => {
    const s = await openAwsSession({ ...base, ...emu.credentials, roleArn: ROLE }, { forMs: 2 * H }, { now });
    expect(s.mode).toBe("assume-role");
    expect(s.identity.arn).toContain("assumed-role/gray-deploy-pipeline/");
    const creds = await s.credentials();
    expect(creds.accessKeyId).not.toBe(emu.credentials.accessKeyId);
    expect(creds.expiration!.getTime()).toBeGreaterThan(Date.now() + 2 * H);
    expect(s.lastsUntil).toBeNull(); // the long-lived master keys assume it again whenever needed
  });

  it("exchanges a web identity token for the role and knows how long that lasts", async () => {
    const token = jwt(Date.now() + 5 * 60_000); // CI tokens are short-lived
    const s = await openAwsSession(
      { ...base, webIdentityToken: token, roleArn: ROLE, sessionName: "gray-deploy-octocat" },
      { forMs: 3 * H },
      { now },
    );
    expect(s.mode).toBe("web-identity");
    expect(s.identity.arn).toContain("assumed-role/gray-deploy-pipeline/gray-deploy-octocat");
    expect(s.lastsUntil).toBeGreaterThan(Date.now() + 3 * H);
  });

  it("refuses credentials that would expire half-way through the run, before anything changes", async () => {
    const token = jwt(Date.now() + 5 * 60_000);
    const run = openAwsSession(
      { ...base, webIdentityToken: token, roleArn: ROLE },
      { forMs: 14 * H },
      { now },
    );
    await expect(run).rejects.toBeInstanceOf(CredentialsError);
    await expect(run).rejects.toMatchObject({
      code: "CREDENTIALS",
      fix: expect.stringMatching(/MaxSessionDuration/),
    });
  });

  it("turns an STS refusal into a CredentialsError that carries no secret", async () => {
    const secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    const run = openAwsSession(
      {
        region: "sa-east-1",
        endpoint: "http://127.0.0.1:9",
        accessKeyId: "AKIAEXAMPLE",
        secretAccessKey: secret,
      },
      { forMs: H },
      { now },
    );
    const err = await run.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CredentialsError);
    expect(JSON.stringify((err as CredentialsError).toJSON())).not.toContain(secret);
    expect((err as Error).message).not.toContain(secret);
  });
});
