/**
 * One local instance of the sample payment gateway: a real child process started with the running
 * Node (`process.execPath`), the local twin of an EC2 instance in an Auto Scaling group.
 *
 * No instance outlives the run that started it: the child gets EXIT_WITH_PARENT=1 and a stdin pipe the
 * parent never closes, so when the parent dies (even by SIGKILL) the kernel closes the pipe and the
 * child exits. `stop()` is the graceful path (SIGTERM: finish in-flight, exit), `kill()` the sudden one.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { Pool } from "../core/types.js";
import { type EmfDatum, parseEmf } from "./emf.js";

/** Fault knobs of a version (see examples/sample-gateway/server.mjs). */
export interface InstanceFaults {
  /** Fraction of /v1 requests answering 500: the release's fault. */
  readonly errorRate: number;
  /** Fraction of /v1 requests answering 500 in every version. */
  readonly baselineErrorRate: number;
  /** Added to every /v1 request. */
  readonly latencyMs: number;
  /** Exit(1) right after start, before listening. */
  readonly crash: boolean;
  /** Fraction of valid payments declined that should be approved (HTTP 200, `declined`): a business fault. */
  readonly declineRate?: number;
  /** Fraction of valid payments declined in every version (the issuers' normal declines). */
  readonly baselineDeclineRate?: number;
  /** Every payment declined, sandbox ones included, while health and reads stay fine: a broken release. */
  readonly paymentFault?: boolean;
}

export const NO_FAULTS: InstanceFaults = Object.freeze({
  errorRate: 0,
  baselineErrorRate: 0,
  latencyMs: 0,
  crash: false,
});

export interface InstanceSpec {
  /** Unique within a run, e.g. "gray-3"; becomes the proxy's target id. */
  readonly id: string;
  readonly pool: Pool;
  readonly version: string;
  readonly faults: InstanceFaults;
  /** Default: the repository's examples/sample-gateway/server.mjs. */
  readonly serverPath?: string;
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** Receives the child's stderr lines (start-up failures); nothing is logged per request. */
  readonly log?: (line: string) => void;
  /** Requests per second the instance serves before it queues (the service's CAPACITY_RPS); 0: unbounded. */
  readonly capacityRps?: number;
  /**
   * The service publishes its own metrics (Embedded Metric Format on stdout, one document per
   * period): how, and who receives each document's data as it is written (a CloudWatch agent).
   */
  readonly emf?: InstanceMetrics;
}

/** How an instance publishes its own metrics (examples/sample-gateway/server.mjs, METRICS_*). */
export interface InstanceMetrics {
  readonly periodMs: number;
  readonly namespace: string;
  readonly dimensions: Readonly<Record<string, string>>;
  readonly receive: (data: readonly EmfDatum[]) => void;
}

export interface ExitInfo {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** The sample service shipped in this repository. */
export function sampleServerPath(): string {
  return fileURLToPath(new URL("../../examples/sample-gateway/server.mjs", import.meta.url));
}

export class ServiceInstance {
  readonly id: string;
  readonly pool: Pool;
  readonly version: string;
  readonly host: string;
  readonly pid: number;
  /** Resolves with the port once listening; rejects if the process ends (or fails to spawn) first. */
  readonly listening: Promise<number>;
  /** Resolves when the process has ended. */
  readonly exited: Promise<ExitInfo>;
  #port: number | null = null;
  #exit: ExitInfo | null = null;
  readonly #child: ChildProcess;
  readonly #stderr: string[] = [];
  #spawnError: Error | null = null;

  constructor(spec: InstanceSpec) {
    this.id = spec.id;
    this.pool = spec.pool;
    this.version = spec.version;
    this.host = spec.host ?? "127.0.0.1";
    const f = spec.faults;
    // A clean environment: nothing of the parent's (NODE_OPTIONS loaders, test runner hooks) leaks
    // into the service, and the knobs are the whole configuration.
    const env: Record<string, string> = {
      PORT: "0",
      HOST: this.host,
      SERVICE_VERSION: spec.version,
      ERROR_RATE: String(f.errorRate),
      BASELINE_ERROR_RATE: String(f.baselineErrorRate),
      LATENCY_MS: String(f.latencyMs),
      CRASH: f.crash ? "1" : "0",
      DECLINE_RATE: String(f.declineRate ?? 0),
      BASELINE_DECLINE_RATE: String(f.baselineDeclineRate ?? 0),
      PAYMENT_FAULT: f.paymentFault ? "1" : "0",
      EXIT_WITH_PARENT: "1",
      CAPACITY_RPS: String(spec.capacityRps ?? 0),
    };
    if (spec.emf !== undefined) {
      env.METRICS_EMF = "1";
      env.METRICS_PERIOD_MS = String(spec.emf.periodMs);
      env.METRICS_NAMESPACE = spec.emf.namespace;
      env.METRICS_DIMENSIONS = JSON.stringify(spec.emf.dimensions);
    }
    if (process.env.PATH !== undefined) env.PATH = process.env.PATH;
    const child = spawn(process.execPath, [spec.serverPath ?? sampleServerPath()], {
      env,
      stdio: ["pipe", "pipe", "pipe"],
      windowsHide: true,
    });
    this.#child = child;
    this.pid = child.pid ?? -1;

    this.exited = new Promise<ExitInfo>((resolve) => {
      // `on`, not `once`: a failed kill() also emits "error", and an unheard one would crash the parent.
      child.on("error", (e) => {
        this.#spawnError ??= e;
        if (child.pid === undefined && this.#exit === null) {
          this.#exit = { code: null, signal: null };
          resolve(this.#exit);
        }
      });
      child.once("exit", (code, signal) => {
        this.#exit = { code, signal };
        resolve(this.#exit);
      });
    });

    let line = "";
    const log = spec.log;
    child.stderr?.setEncoding("utf8");
    child.stderr?.on("data", (chunk: string) => {
      line += chunk;
      let nl = line.indexOf("\n");
      while (nl !== -1) {
        const text = line.slice(0, nl);
        line = line.slice(nl + 1);
        this.#stderr.push(text);
        if (this.#stderr.length > 20) this.#stderr.shift();
        log?.(`[${this.id} ${this.version}] ${text}`);
        nl = line.indexOf("\n");
      }
    });

    const emf = spec.emf;
    if (emf !== undefined) {
      // The CloudWatch agent's side: every EMF document the service writes, as it is written.
      let pending = "";
      child.stdout?.setEncoding("utf8");
      child.stdout?.on("data", (chunk: string) => {
        pending += chunk;
        for (let nl = pending.indexOf("\n"); nl !== -1; nl = pending.indexOf("\n")) {
          const data = parseEmf(pending.slice(0, nl));
          pending = pending.slice(nl + 1);
          if (data !== null && data.length > 0) emf.receive(data);
        }
      });
    }

    this.listening = new Promise<number>((resolve, reject) => {
      let out = "";
      const onData = (chunk: string) => {
        out += chunk;
        for (let nl = out.indexOf("\n"); nl !== -1; nl = out.indexOf("\n")) {
          const text = out.slice(0, nl);
          out = out.slice(nl + 1);
          try {
            const msg = JSON.parse(text) as { event?: unknown; port?: unknown };
            if (msg.event === "listening" && typeof msg.port === "number") {
              this.#port = msg.port;
              child.stdout?.off("data", onData);
              // Keep reading so a chatty service can never block on a full pipe.
              child.stdout?.resume();
              resolve(msg.port);
              return;
            }
          } catch {
            // Not our JSON line: ignore.
          }
        }
      };
      child.stdout?.setEncoding("utf8");
      child.stdout?.on("data", onData);
      void this.exited.then(() => reject(new Error(`instance ${this.id} ${this.describeExit()}`)));
    });
    // Callers may look only at `exited`; an unobserved rejection must not crash the process.
    this.listening.catch(() => undefined);
  }

  /** The port, once listening. */
  get port(): number | null {
    return this.#port;
  }

  /** How the process ended, or null while it runs. */
  get exit(): ExitInfo | null {
    return this.#exit;
  }

  get alive(): boolean {
    return this.#exit === null;
  }

  /** "exited with code 1 before listening: <last stderr line>" and the like. */
  describeExit(): string {
    if (this.#spawnError !== null && this.#port === null)
      return `could not start: ${this.#spawnError.message}`;
    const e = this.#exit;
    if (e === null) return "is running";
    const how = e.signal !== null ? `was killed by ${e.signal}` : `exited with code ${e.code}`;
    const when = this.#port === null ? " before listening" : "";
    const last = this.#stderr.at(-1);
    return `${how}${when}${last ? `: ${last}` : ""}`;
  }

  /** Graceful stop: SIGTERM (the service finishes in-flight requests), SIGKILL after `graceMs`. */
  async stop(graceMs = 5000): Promise<ExitInfo> {
    if (this.#exit !== null) return this.#exit;
    this.#child.kill("SIGTERM");
    const timer = setTimeout(() => this.kill(), graceMs);
    const info = await this.exited;
    clearTimeout(timer);
    return info;
  }

  /** Immediate SIGKILL, synchronous: usable from a process 'exit' handler. */
  kill(): void {
    if (this.#exit === null && this.pid > 0) {
      try {
        this.#child.kill("SIGKILL");
      } catch {
        // Already gone.
      }
    }
  }
}
