/** Helpers for the local environment's tests: real processes, real HTTP, no fakes. */
import { setTimeout as sleep } from "node:timers/promises";
import { Pool as UndiciPool } from "undici";
import { type Options, type RawOptions, resolveOptions } from "../../src/app/schema.js";
import type { Pool } from "../../src/core/types.js";
import { type InstanceFaults, NO_FAULTS, ServiceInstance } from "../../src/local/instance.js";
import { POOL_HEADER, type TargetSpec } from "../../src/local/proxy.js";

export function localOptions(raw: RawOptions = {}): Options {
  return resolveOptions({ target: "local", ...raw }, { verb: "deploy-gray" });
}

let seq = 0;
/** Starts sample-service processes and waits until they listen. */
export async function startInstances(
  n: number,
  pool: Pool,
  version: string,
  faults: Partial<InstanceFaults> = {},
): Promise<ServiceInstance[]> {
  const list = Array.from(
    { length: n },
    () =>
      new ServiceInstance({ id: `${pool}-t${++seq}`, pool, version, faults: { ...NO_FAULTS, ...faults } }),
  );
  await Promise.all(list.map((i) => i.listening));
  return list;
}

export function targetsOf(instances: readonly ServiceInstance[]): TargetSpec[] {
  return instances.map((i) => ({ id: i.id, host: i.host, port: i.port as number }));
}

export interface Answer {
  readonly status: number;
  readonly pool: string | undefined;
  readonly version: string | undefined;
  readonly setCookie: string | undefined;
}

/** Sends `n` GETs through `url` with bounded concurrency; resolves with every answer. */
export async function send(
  url: string,
  n: number,
  options: { path?: string; headers?: Record<string, string>; concurrency?: number } = {},
): Promise<Answer[]> {
  const concurrency = options.concurrency ?? 16;
  const client = new UndiciPool(url, { connections: concurrency });
  const answers: Answer[] = [];
  let next = 0;
  const worker = async () => {
    while (next < n) {
      next++;
      const res = await client.request({
        path: options.path ?? "/v1/payments/pay_abcdefgh",
        method: "GET",
        headers: options.headers ?? {},
      });
      await res.body.dump();
      const h = (name: string) => {
        const v = res.headers[name];
        return Array.isArray(v) ? v.join(", ") : v;
      };
      answers.push({
        status: res.statusCode,
        pool: h(POOL_HEADER),
        version: h("x-service-version"),
        setCookie: h("set-cookie"),
      });
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
  } finally {
    await client.destroy();
  }
  return answers;
}

export function countBy<T>(items: readonly T[], key: (t: T) => string | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const i of items) {
    const k = key(i) ?? "undefined";
    out[k] = (out[k] ?? 0) + 1;
  }
  return out;
}

/** Polls `cond` until it holds; fails with `what` after a generous functional deadline. */
export async function waitFor(what: string, cond: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

/** Whether a process with this pid exists (zombies of our own children are reaped by Node). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}
