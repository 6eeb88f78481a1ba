/**
 * Starts gray-deploy's AWS API emulator (moto 5.2.4 + test/emulator/gray_emulator) as a child
 * process on loopback, for tests that drive the real AWS SDK v3 against a real AWS API server.
 *
 * One emulator per test FILE, on its own port, so vitest can run files in parallel:
 *
 * ```ts
 * import { afterAll, beforeAll, beforeEach } from "vitest";
 * import { type Emulator, startEmulator } from "../support/emulator.js";
 *
 * let emu: Emulator;
 * beforeAll(async () => { emu = await startEmulator(); }, EMULATOR_HOOK_TIMEOUT_MS); // ~1 s, once per file
 * beforeEach(async () => { await emu.reset(); });            // a few ms: empty AWS between tests
 * afterAll(async () => { await emu?.stop(); });
 *
 * const elb = new ElasticLoadBalancingV2Client(emu.clientConfig());
 * ```
 *
 * The emulator is never optional: when it is not installed or does not start, `startEmulator`
 * throws an Error that says how to fix it (`bash scripts/install-emulator.sh`), locally and in CI.
 * The child exits with its parent even on SIGKILL (it watches its stdin pipe and its parent pid).
 *
 * Start-up waits on readiness — the line the emulator prints once it listens — not on a clock: on a
 * busy machine a cold start (~1 s of CPU) can take tens of seconds of wall time, and a fixed 20 s
 * deadline failed correct runs. It gives up when the process exits, when it has used
 * `startCpuBudgetMs` of CPU without becoming ready (it is stuck, not starved), or after
 * `startTimeoutMs` of wall time (it is blocked); the error says what it waited for and what it saw.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { availableParallelism, loadavg } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { assertStrictOffAllowed, type StrictProxy, startStrictProxy } from "./strict/index.js";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const PYTHON = "/usr/bin/python3";
const SITE_PACKAGES = join(REPO, ".emulator/usr/lib/python3/dist-packages");
const SERVER = join(REPO, "test/emulator/server.py");
const FIX =
  "run `bash scripts/install-emulator.sh` from the repository root (it needs apt and the vendored debs)";
const READY = "GRAY_EMULATOR_READY ";

/** Default wall-clock cap on a start (see `StartEmulatorOptions.startTimeoutMs`). */
export const EMULATOR_START_TIMEOUT_MS = 150_000;
/** A vitest hook (or test) timeout for one that starts an emulator: above the start's own cap, so
 * the start's error, which says what it saw, is the one reported. */
export const EMULATOR_HOOK_TIMEOUT_MS = EMULATOR_START_TIMEOUT_MS + 30_000;

export type TargetHealthState =
  | "healthy"
  | "unhealthy"
  | "initial"
  | "draining"
  | "unused"
  | "unavailable"
  | "unhealthy.draining";

export interface TargetHealthReport {
  targetGroupArn: string;
  targetId: string;
  state: TargetHealthState;
  /** An ELB reason code such as `Target.ResponseCodeMismatch`; defaults to the state's usual one. */
  reason?: string;
  description?: string;
}

export interface FailNextInstanceRefresh {
  autoScalingGroupName: string;
  /** Fail once this many instances were replaced (default 1; 0 fails before any replacement). */
  afterInstances?: number;
  /** StatusReason of the failed refresh. */
  reason?: string;
}

export interface EmulatorConfig {
  /** Targets registered from now on report `initial` until `setTargetHealth` reports them. */
  newTargetsInitial?: boolean;
  /** Seconds per instance refresh step (Pending→InProgress, each batch launch, its warm-up). */
  refreshStepSeconds?: number;
  /** While true, no instance refresh advances; false lets each go on from where it stood. */
  refreshesPaused?: boolean;
}

export interface StartEmulatorOptions {
  /** Enables moto's IAM enforcement: this many AWS calls pass unauthenticated, then every call is
   * checked against the caller's IAM policies. `reset()` restores the budget. */
  iamInitialNoAuthActionCount?: number;
  /** Extra environment for the emulator (e.g. GRAY_EMULATOR_REFRESH_STEP_SECONDS). */
  env?: Record<string, string>;
  /** Region the helper's clients use (the emulator serves every region). Default sa-east-1. */
  region?: string;
  /**
   * Wall-clock cap on the start, for a process that is blocked (using no CPU). Default
   * EMULATOR_START_TIMEOUT_MS (150 s); a cold start takes ~1 s on a quiet machine.
   */
  startTimeoutMs?: number;
  /**
   * Strict mode (test/support/strict): every AWS request is checked against AWS's API models and
   * documented rules before the emulator sees it; `stop()` throws listing any violation. On unless
   * false, which only the files STRICT_OFF names may pass (the emulator's own self-tests).
   */
  strict?: boolean;
  /**
   * CPU time the emulator may use before it is ready (Linux; read from /proc): a cold start uses
   * ~1 s, so one that used this much is stuck, however busy the machine. Default 30 s.
   */
  startCpuBudgetMs?: number;
}

export interface Emulator {
  /** `http://127.0.0.1:PORT`, for the SDK clients' `endpoint` (the strict proxy, in strict mode). */
  readonly endpoint: string;
  /** The emulator itself, behind no strict proxy (its control endpoints use it). */
  readonly directEndpoint: string;
  /** The strict proxy in front of the emulator, or null when strict mode is off. */
  readonly strict: StrictProxy | null;
  readonly port: number;
  /** Process id of the emulator (for tests of its lifecycle). */
  readonly pid: number;
  readonly region: string;
  /** Any credentials work unless IAM enforcement is on; these are the helper's defaults. */
  readonly credentials: { accessKeyId: string; secretAccessKey: string };
  /** What the Python side reported at start (moto version, patch count, start-up seconds). */
  readonly info: { moto: string; patches: number; startupSeconds: number };
  /** `{ endpoint, region, credentials }` for any `@aws-sdk/client-*` constructor. */
  clientConfig(credentials?: { accessKeyId: string; secretAccessKey: string }): {
    endpoint: string;
    region: string;
    credentials: { accessKeyId: string; secretAccessKey: string };
  };
  /** Empties every AWS service and the extension's state (and the IAM budget, when enabled). */
  reset(): Promise<void>;
  /**
   * Stops the process (this one only) and waits for it to exit. Idempotent. In strict mode it then
   * throws, once, listing every AWS request real AWS would have refused (so a test's afterAll fails).
   */
  stop(): Promise<void>;
  /** Reports what the load balancer's health checks see for one or more targets. */
  setTargetHealth(report: TargetHealthReport | TargetHealthReport[]): Promise<void>;
  /** Makes the next instance refresh of the group fail (then AutoRollback applies, if set). */
  failNextInstanceRefresh(spec: FailNextInstanceRefresh): Promise<void>;
  configure(config: EmulatorConfig): Promise<Required<EmulatorConfig>>;
  /**
   * A number that grows whenever what a load balancer's data plane reads (rules, groups and their
   * instances, target health, launch templates) may have changed: a write to ELBv2, Auto Scaling or
   * EC2, a control call, a reset, an instance refresh step. A data plane re-reads only when it moved.
   */
  generation(): Promise<number>;
  /** The last lines the emulator wrote to stderr, for failure messages. */
  logs(): string;
}

export async function startEmulator(opts: StartEmulatorOptions = {}): Promise<Emulator> {
  if (!existsSync(PYTHON)) {
    throw new Error(`AWS emulator: ${PYTHON} not found (Debian's python3 is required); ${FIX}`);
  }
  if (!existsSync(join(SITE_PACKAGES, "moto"))) {
    throw new Error(`AWS emulator is not installed (no ${SITE_PACKAGES}/moto): ${FIX}`);
  }
  const region = opts.region ?? "sa-east-1";
  const env: Record<string, string> = {
    PATH: process.env["PATH"] ?? "/usr/bin:/bin",
    HOME: process.env["HOME"] ?? "/tmp",
    LANG: "C.UTF-8",
    PYTHONPATH: SITE_PACKAGES,
    PYTHONDONTWRITEBYTECODE: "1",
    // moto must not pick up the developer's AWS profile or real credentials.
    AWS_ACCESS_KEY_ID: "emulator",
    AWS_SECRET_ACCESS_KEY: "emulator",
    AWS_DEFAULT_REGION: region,
    // moto loads ~1300 public AMIs into every new EC2 backend (and again on each reset): ~100 ms
    // per reset that no gray-deploy test needs. Pass MOTO_EC2_LOAD_DEFAULT_AMIS=true in `env` to get them.
    MOTO_EC2_LOAD_DEFAULT_AMIS: "false",
    ...(opts.iamInitialNoAuthActionCount === undefined
      ? {}
      : { INITIAL_NO_AUTH_ACTION_COUNT: String(opts.iamInitialNoAuthActionCount) }),
    ...opts.env,
  };
  const child = spawn(PYTHON, [SERVER, "--port", "0"], { env, stdio: ["pipe", "pipe", "pipe"] });
  const stderr = new RingBuffer(64 * 1024);
  child.stderr.setEncoding("utf8").on("data", (s: string) => stderr.push(s));
  // Killing the child on our exit covers a clean exit; the child's stdin/ppid watch covers SIGKILL.
  const onExit = (): void => {
    child.kill("SIGKILL");
  };
  process.once("exit", onExit);

  let info: { port: number; moto: string; patches: number; startupSeconds: number };
  try {
    info = await waitForReady(child, stderr, {
      timeoutMs: opts.startTimeoutMs ?? EMULATOR_START_TIMEOUT_MS,
      cpuBudgetMs: opts.startCpuBudgetMs ?? 30_000,
    });
  } catch (e) {
    process.removeListener("exit", onExit);
    child.kill("SIGKILL");
    throw e;
  }
  // The emulator must not keep a test process alive on its own; its handles are unref'd.
  child.unref();
  for (const stream of [child.stdin, child.stdout, child.stderr])
    (stream as unknown as { unref?: () => void })?.unref?.();
  const directEndpoint = `http://127.0.0.1:${info.port}`;
  // ── strict mode: a validating proxy in front of the emulator (test/support/strict) ──
  let strict: StrictProxy | null = null;
  try {
    if (opts.strict === false) await assertStrictOffAllowed();
    else strict = await startStrictProxy(directEndpoint);
  } catch (e) {
    process.removeListener("exit", onExit);
    child.kill("SIGKILL");
    throw e;
  }
  const endpoint = strict?.url ?? directEndpoint;
  const credentials = { accessKeyId: "AKIAGRAYEMULATOR0000", secretAccessKey: "gray-emulator-secret" };
  let stopped: Promise<void> | undefined;

  const control = async (method: "GET" | "POST", path: string, body?: unknown): Promise<unknown> => {
    const res = await fetch(`${directEndpoint}${path}`, {
      method,
      headers: { "content-type": "application/json" },
      ...(body === undefined ? {} : { body: typeof body === "string" ? body : JSON.stringify(body) }),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`AWS emulator ${method} ${path} answered ${res.status}: ${text}`);
    return text ? JSON.parse(text) : undefined;
  };

  const emulator: Emulator = {
    endpoint,
    directEndpoint,
    strict,
    port: info.port,
    pid: child.pid!,
    region,
    credentials,
    info: { moto: info.moto, patches: info.patches, startupSeconds: info.startupSeconds },
    clientConfig: (creds = credentials) => ({ endpoint, region, credentials: creds }),
    async reset() {
      const res = await fetch(`${directEndpoint}/moto-api/reset`, { method: "POST" });
      if (!res.ok) throw new Error(`AWS emulator reset failed: ${res.status} ${await res.text()}`);
      if (opts.iamInitialNoAuthActionCount !== undefined) {
        // moto's reset keeps its count of unauthenticated calls; without this, a reset emulator
        // with IAM enforcement has no budget left to create the next test's user.
        const auth = await fetch(`${directEndpoint}/moto-api/reset-auth`, {
          method: "POST",
          body: String(opts.iamInitialNoAuthActionCount),
        });
        if (!auth.ok) throw new Error(`AWS emulator reset-auth failed: ${auth.status} ${await auth.text()}`);
      }
    },
    stop() {
      stopped ??= new Promise<void>((done) => {
        process.removeListener("exit", onExit);
        if (child.exitCode !== null || child.signalCode !== null) return done();
        const timer = setTimeout(() => child.kill("SIGKILL"), 3_000);
        child.once("exit", () => {
          clearTimeout(timer);
          done();
        });
        child.kill("SIGTERM");
      }).then(async () => {
        // Strict mode: the proxy goes with the emulator, and its violations fail the caller.
        await strict?.close();
        strict?.assertClean();
      });
      return stopped;
    },
    async setTargetHealth(report) {
      await control("POST", "/_gray/target-health", report);
    },
    async failNextInstanceRefresh(spec) {
      await control("POST", "/_gray/instance-refresh/fail-next", { region, ...spec });
    },
    async configure(config) {
      return (await control("POST", "/_gray/config", config)) as Required<EmulatorConfig>;
    },
    async generation() {
      return ((await control("GET", "/_gray/generation")) as { generation: number }).generation;
    },
    logs: () => stderr.text(),
  };
  return emulator;
}

function waitForReady(
  child: ChildProcess,
  stderr: RingBuffer,
  limits: { timeoutMs: number; cpuBudgetMs: number },
): Promise<{ port: number; moto: string; patches: number; startupSeconds: number }> {
  const started = performance.now();
  return new Promise((resolvePromise, reject) => {
    let out = "";
    const fail = (why: string): void => {
      cleanup();
      const log = stderr.text().trim();
      const cpu = cpuMs(child.pid);
      const seen = [
        `after ${Math.round(performance.now() - started)} ms`,
        cpu === null ? null : `the process used ${cpu} ms of CPU`,
        `machine load ${loadavg()[0]!.toFixed(1)} on ${availableParallelism()} CPUs`,
        `stdout ${out === "" ? "empty" : JSON.stringify(out.slice(-300))}`,
      ].filter((x) => x !== null);
      reject(
        new Error(
          `AWS emulator did not start: ${why}. Waited for the "${READY.trim()}" line on its stdout; saw: ${seen.join("; ")}.${log ? `\n--- emulator stderr ---\n${log}` : ""}\nFix: ${FIX}`,
        ),
      );
    };
    const onData = (chunk: string): void => {
      out += chunk;
      const line = out.split("\n").find((l) => l.startsWith(READY));
      if (line) {
        cleanup();
        resolvePromise(JSON.parse(line.slice(READY.length)));
      }
    };
    const onExit = (code: number | null, signal: string | null): void =>
      fail(`the process exited (code ${code}, signal ${signal})`);
    const onError = (e: Error): void => fail(`could not spawn ${PYTHON}: ${e.message}`);
    const timer = setTimeout(
      () => fail(`not ready within ${limits.timeoutMs} ms of wall time`),
      limits.timeoutMs,
    );
    // A busy machine stretches the start; only a process burning CPU without getting ready is stuck.
    const cpuWatch = setInterval(() => {
      const cpu = cpuMs(child.pid);
      if (cpu !== null && cpu > limits.cpuBudgetMs)
        fail(`not ready after ${limits.cpuBudgetMs} ms of its own CPU time`);
    }, 500);
    const cleanup = (): void => {
      clearTimeout(timer);
      clearInterval(cpuWatch);
      child.stdout?.removeListener("data", onData);
      child.removeListener("exit", onExit);
      child.removeListener("error", onError);
      // Keep draining stdout so the child never blocks on a full pipe.
      child.stdout?.resume();
    };
    child.stdout?.setEncoding("utf8").on("data", onData);
    child.once("exit", onExit);
    child.once("error", onError);
  });
}

/** CPU time (user + system) a process has used, in ms; null where /proc cannot tell (not Linux). */
function cpuMs(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    // Fields after the command name (which may hold spaces): state is the 1st, utime the 12th.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(fields[11]) + Number(fields[12]);
    return Number.isFinite(ticks) ? Math.round((ticks * 1000) / CLOCK_TICKS) : null;
  } catch {
    return null;
  }
}

/** USER_HZ: 100 on every Linux architecture Node runs on. */
const CLOCK_TICKS = 100;

class RingBuffer {
  private parts: string[] = [];
  private size = 0;
  constructor(private readonly max: number) {}
  push(s: string): void {
    this.parts.push(s);
    this.size += s.length;
    while (this.size > this.max && this.parts.length > 1) this.size -= this.parts.shift()!.length;
  }
  text(): string {
    return this.parts.join("");
  }
}
