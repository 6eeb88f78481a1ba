/**
 * The service's own metrics as the local target reads them (--signal service): EMF parsed the way
 * CloudWatch Logs extracts it, a real sample-gateway process publishing exactly what its clients saw
 * (every answer, every 5xx), read back per window after the ingestion delay, and the preflight that
 * names a metric nobody publishes.
 */
import { request } from "undici";
import { afterAll, describe, expect, it } from "vitest";
import { PreflightError } from "../../src/contract/errors.js";
import type { ServiceMetrics } from "../../src/core/policy.js";
import { type EmfDatum, parseEmf } from "../../src/local/emf.js";
import { NO_FAULTS, ServiceInstance } from "../../src/local/instance.js";
import { LOCAL_INGEST_DELAY_MS, LocalServiceMetrics } from "../../src/local/service-metrics.js";
import type { Clock } from "../../src/ports/index.js";

const METRICS: ServiceMetrics = {
  namespace: "GrayDeploy/Service",
  requests: "Requests",
  errors: "Errors",
  latency: "Latency",
  latencyUnit: "milliseconds",
  dimensions: { AutoScalingGroupName: "{asg}" },
};

describe("parseEmf", () => {
  const doc = (extra: object, metrics: object[], dims: string[][] = [["Service"]]) =>
    JSON.stringify({
      _aws: {
        Timestamp: 1_767_607_200_000,
        CloudWatchMetrics: [{ Namespace: "NS", Dimensions: dims, Metrics: metrics }],
      },
      Service: "gw",
      ...extra,
    });

  it("reads numbers, arrays and histograms, one datum per metric and dimension set", () => {
    const data = parseEmf(
      doc(
        {
          Requests: 12,
          Sizes: [1, 2, 2],
          Latency: { Values: [10.5, 21], Counts: [3, 1], Max: 22, Min: 10, Count: 4, Sum: 53 },
        },
        [
          { Name: "Requests", Unit: "Count", StorageResolution: 1 },
          { Name: "Sizes" },
          { Name: "Latency", Unit: "Milliseconds", StorageResolution: 1 },
        ],
        [["Service"], []],
      ),
    )!;
    const brief = (d: EmfDatum) => [
      d.name,
      Object.keys(d.dimensions).join(),
      d.storageResolution,
      d.values,
      d.counts,
    ];
    expect(data.map(brief)).toEqual([
      ["Requests", "Service", 1, [12], [1]],
      ["Sizes", "Service", 60, [1, 2, 2], [1, 1, 1]],
      ["Latency", "Service", 1, [10.5, 21], [3, 1]],
      ["Requests", "", 1, [12], [1]],
      ["Sizes", "", 60, [1, 2, 2], [1, 1, 1]],
      ["Latency", "", 1, [10.5, 21], [3, 1]],
    ]);
    expect(data[0]).toMatchObject({ namespace: "NS", timestamp: 1_767_607_200_000, unit: "Count" });
  });

  it("drops a dimension set whose member is missing, and is null for anything that is not EMF", () => {
    expect(parseEmf(doc({ Requests: 1 }, [{ Name: "Requests" }], [["Missing"]]))).toEqual([]);
    expect(parseEmf('{"event":"listening","port":8080}')).toBeNull();
    expect(parseEmf("not json")).toBeNull();
    expect(parseEmf('{"_aws":{"CloudWatchMetrics":[]}}')).toBeNull();
  });
});

/** A clock the test moves by hand (and that preflight's sleeps move). */
class HandClock implements Clock {
  constructor(public t: number) {}
  now(): number {
    return this.t;
  }
  async sleep(ms: number): Promise<void> {
    this.t += ms;
  }
}

describe("the local service signal's lateness", () => {
  it("serves a datum only once it is ingested, and only for periods entirely inside the window", async () => {
    const clock = new HandClock(Date.UTC(2026, 0, 5, 10, 0, 0));
    const signal = new LocalServiceMetrics({ metrics: METRICS, periodMs: 1000, clock, retentionMs: 60_000 });
    const t = clock.t;
    const datum = (name: string, value: number, at: number): EmfDatum => ({
      namespace: METRICS.namespace,
      name,
      unit: "Count",
      storageResolution: 1,
      timestamp: at,
      dimensions: { AutoScalingGroupName: "local-stable" },
      values: [value],
      counts: [1],
    });
    clock.t = t + 1005; // the process writes period [t, t+1s) as it ends
    signal.receive([datum("Requests", 40, t), datum("Errors", 1, t)]);
    const read = async (now: number, w = { start: t, end: t + 1000 }) => {
      clock.t = now;
      return (await signal.read([w], undefined, { gates: [], versions: { stable: "v1", gray: null } }))[0]!;
    };
    expect((await read(t + 1005 + LOCAL_INGEST_DELAY_MS - 1)).stable.hasData).toBe(false);
    expect((await read(t + 1005 + LOCAL_INGEST_DELAY_MS)).stable).toMatchObject({ requests: 40, errors: 1 });
    expect((await read(t + 5000, { start: t + 500, end: t + 2000 })).stable.hasData).toBe(false);
  });
});

describe("a sample gateway's own metrics, read back", () => {
  const started: ServiceInstance[] = [];
  afterAll(async () => {
    await Promise.all(started.map((i) => i.stop(1000)));
  });

  it("counts exactly the answers and 5xx its clients got, once ingested", async () => {
    // Real time, which the preflight's waits move ahead instead of sleeping.
    let ahead = 0;
    const clock: Clock = {
      now: () => Date.now() + ahead,
      sleep: async (ms) => {
        ahead += ms;
      },
    };
    const signal = new LocalServiceMetrics({ metrics: METRICS, periodMs: 1000, clock, retentionMs: 600_000 });
    const instance = new ServiceInstance({
      id: "gray-1",
      pool: "gray",
      version: "v2",
      faults: { ...NO_FAULTS, errorRate: 0.2 },
      emf: {
        periodMs: 1000,
        namespace: METRICS.namespace,
        dimensions: signal.dimensionsOf("gray", "v2"),
        receive: (data) => signal.receive(data),
      },
    });
    started.push(instance);
    const port = await instance.listening;
    const first = Date.now();
    const statuses: number[] = [];
    for (let i = 0; i < 60; i++) {
      const res = await request(`http://127.0.0.1:${port}/v1/payments`, {
        method: "POST",
        body: JSON.stringify({ amount: 100 + i, method: "pix" }),
      });
      await res.body.dump();
      statuses.push(res.statusCode);
    }
    // Health checks and the business counters are not customer requests.
    await (await request(`http://127.0.0.1:${port}/health`)).body.dump();
    await (await request(`http://127.0.0.1:${port}/metrics`)).body.dump();
    const last = Date.now();
    // Wait (real time) until the process wrote the period holding the last request.
    const window = { start: Math.floor(first / 1000) * 1000, end: Math.ceil((last + 1) / 1000) * 1000 };
    while (Date.now() < window.end + 300 + LOCAL_INGEST_DELAY_MS) await new Promise((r) => setTimeout(r, 50));

    const versions = { stable: "v1", gray: "v2" };
    const [w] = await signal.read([window], undefined, { gates: [], versions });
    expect(w!.gray).toMatchObject({
      requests: 60,
      errors: statuses.filter((s) => s >= 500).length,
      hasData: true,
    });
    expect(w!.gray.p95Ms).toBeGreaterThan(0);
    expect(w!.stable).toMatchObject({ requests: 0, hasData: false });

    // Preflight: stable publishes nothing here, and the refusal says what does exist.
    const preflight = signal.preflight("v1");
    await expect(preflight).rejects.toBeInstanceOf(PreflightError);
    await expect(preflight).rejects.toThrow(
      /no datapoint of GrayDeploy\/Service Requests, Errors for the local stable pool \(AutoScalingGroupName=local-stable\); Requests exists with AutoScalingGroupName=local-gray/,
    );
  }, 30_000);
});
