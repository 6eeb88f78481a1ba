#!/usr/bin/env node
/**
 * sample-gateway: a small payment-gateway HTTP service, the workload gray-deploy ships in its demos
 * and tests. Plain Node ESM with no dependencies, so it starts in ~50 ms as a local process and builds
 * into a tiny container image (see Dockerfile).
 *
 * Environment:
 *   PORT                 port to listen on; 0 picks a free one (default 8080)
 *   HOST                 address to bind (default 127.0.0.1; the container sets 0.0.0.0)
 *   SERVICE_VERSION      label returned in the `x-service-version` header and in bodies (default "dev")
 *   ERROR_RATE           fraction of /v1 requests answering 500: the release's own fault (default 0)
 *   BASELINE_ERROR_RATE  fraction of /v1 requests answering 500 in every version: the service's normal
 *                        background failures (default 0). Drawn independently of ERROR_RATE, so a
 *                        request fails with probability 1 - (1 - ERROR_RATE) * (1 - BASELINE_ERROR_RATE).
 *                        Kept separate so logs and tests can tell "the release is bad" from "the
 *                        service always fails a little".
 *   LATENCY_MS           milliseconds added to every /v1 request (default 0)
 *   DECLINE_RATE         fraction of valid payments (POST /v1/payments) DECLINED that should have been
 *                        approved: the release's business fault. The answer is still a success (HTTP
 *                        200, `"status": "declined"`), so HTTP error rates and latency cannot see it;
 *                        only the business counters below can (default 0)
 *   BASELINE_DECLINE_RATE fraction of valid payments declined in every version: the issuers' normal
 *                        declines (default 0), drawn independently of DECLINE_RATE
 *   PAYMENT_FAULT        "1"/"true": the release declines EVERY payment, sandbox ones included (HTTP
 *                        200, `"status": "declined"`, reason processor_rejected), while /health and
 *                        GETs stay fine: the bug a health check cannot see and a synthetic charge can
 *   CAPACITY_RPS         requests per second this instance serves (default 0: unbounded). An instance
 *                        is one server working through a FIFO queue, each /v1 request taking
 *                        1/CAPACITY_RPS s of it: below capacity a request waits little, above it the
 *                        queue and every request's latency grow for as long as the excess lasts, as
 *                        on a saturated machine. /health and /metrics are not queued.
 *   MAX_QUEUE_MS         a request that would wait longer than this in the queue is refused at once
 *                        with 503 (default 3000), as a gateway sheds what it cannot serve in time;
 *                        an overload cannot grow the queue without bound
 *   CRASH                "1"/"true": exit(1) right after start, before listening (a release that
 *                        cannot boot)
 *   EXIT_WITH_PARENT     "1"/"true": exit when stdin closes. The parent keeps a pipe open on our stdin;
 *                        when it dies for any reason (even SIGKILL) the kernel closes the pipe, so no
 *                        instance outlives the run that started it. Off by default because a container
 *                        usually has no stdin at all.
 *   METRICS_EMF          "1"/"true": publish this instance's own metrics as CloudWatch Embedded Metric
 *                        Format documents, one JSON line on stdout per period (what the CloudWatch
 *                        agent or a log driver ships; gray-deploy's --signal service reads them back
 *                        from CloudWatch). Per period, at StorageResolution 1: Requests (every answered
 *                        request but /health and /metrics), Errors (its 5xx, published also when 0) and
 *                        Latency (milliseconds, as a histogram: Values/Counts in 10% buckets, at most
 *                        100 per document). Off by default.
 *   METRICS_PERIOD_MS    the period (default 10000), aligned to the epoch; a period is written when it
 *                        ends, and the current one on SIGTERM.
 *   METRICS_NAMESPACE    default "GrayDeploy/Service"
 *   METRICS_DIMENSIONS   a JSON object of dimensions, e.g. {"AutoScalingGroupName":"gateway-gray"}
 *                        (default: none)
 *
 * When ready it prints one JSON line on stdout: {"event":"listening","port":N,"pid":P,"version":V}.
 * Sandbox: a POST /v1/payments with `"sandbox": true` is a test charge (what synthetic transactions
 * send): it never reaches an issuer, so DECLINE_RATE and BASELINE_DECLINE_RATE do not apply (only a
 * broken release — PAYMENT_FAULT, or ERROR_RATE — fails it), it is not counted in /metrics, and the
 * answer says `"sandbox": true`.
 * Endpoints: GET /health (never faulted, no added latency), POST /v1/payments, GET /v1/payments/:id,
 * GET /metrics (never faulted): this process's business counters since it started, as JSON —
 * {"version", "payments": {"attempted", "approved", "declined", "byMethod": {"pix": {...}, "card":
 * {...}}}}; `attempted` counts valid payment requests (each approved or declined), the numbers a
 * business-metric gate divides (declined ÷ attempted); with CAPACITY_RPS, also "capacity": {"rps",
 * "served", "refused", "maxWaitMs", "peakRps", "sustainedRps"}: the longest a request waited in the
 * queue, and the highest rate at which requests arrived over any two seconds (peakRps) and over any
 * five (sustainedRps). Above "rps", the instance was offered more than it serves: overloaded. A pause
 * of the machine bunches requests and so lengthens a queue's waits as an overload does, but a pause of
 * p seconds raises these rates by at most p/2 (p/5) of themselves: the longer window tells a lasting
 * overload from a busy machine's bunching.
 * SIGTERM/SIGINT: stops accepting, finishes in-flight requests, exits 0.
 * Nothing is logged per request: a synchronous write per request would cost more than the request.
 */
import { randomBytes } from "node:crypto";
import { createServer } from "node:http";
import { performance } from "node:perf_hooks";

const env = process.env;
const version = env.SERVICE_VERSION || "dev";
const errorRate = rate("ERROR_RATE");
const baselineErrorRate = rate("BASELINE_ERROR_RATE");
const latencyMs = Math.max(0, Number(env.LATENCY_MS || 0)) || 0;
const capacityRps = Math.max(0, Number(env.CAPACITY_RPS || 0)) || 0;
const maxQueueMs = Math.max(0, Number(env.MAX_QUEUE_MS || 3000)) || 3000;
const declineRate = rate("DECLINE_RATE");
const baselineDeclineRate = rate("BASELINE_DECLINE_RATE");
const flag = (name) => env[name] === "1" || env[name] === "true";
const paymentFault = flag("PAYMENT_FAULT");

function rate(name) {
  const raw = env[name];
  if (raw === undefined || raw === "") return 0;
  const value = raw.endsWith("%") ? Number(raw.slice(0, -1)) / 100 : Number(raw);
  if (!Number.isFinite(value) || value < 0 || value > 1) {
    process.stderr.write(
      `sample-gateway: ${name}=${raw} is not a fraction between 0 and 1 (or a percentage)\n`,
    );
    process.exit(2);
  }
  return value;
}

if (flag("EXIT_WITH_PARENT")) {
  process.stdin.on("end", () => process.exit(0));
  process.stdin.on("close", () => process.exit(0));
  process.stdin.on("error", () => process.exit(0));
  process.stdin.resume();
}

if (flag("CRASH")) {
  process.stderr.write(`sample-gateway ${version}: CRASH is set, exiting before listening\n`);
  process.exit(1);
}

const JSON_HEADERS = { "content-type": "application/json", "x-service-version": version };
const HEALTH_HEADERS = { "content-type": "text/plain", "content-length": "2", "x-service-version": version };
const MAX_BODY = 64 * 1024;
/** Payments this instance created; bounded so a long load test cannot grow it without limit. */
const payments = new Map();
const MAX_PAYMENTS = 10_000;
/** Business counters of this process (GET /metrics). */
const tally = () => ({ attempted: 0, approved: 0, declined: 0 });
const counters = { ...tally(), byMethod: { pix: tally(), card: tally() } };

/**
 * The service's own metrics in CloudWatch's Embedded Metric Format: per epoch-aligned period, the
 * requests it answered, their 5xx and their response times, written as one JSON line when the period
 * ends. Response times are bucketed as aws-embedded-metrics does for histograms (10% wide), so a
 * document holds a few dozen Values/Counts, not one value per request.
 */
const emf = flag("METRICS_EMF") ? emfPublisher() : null;

function emfPublisher() {
  const periodMs = Math.max(1000, Number(env.METRICS_PERIOD_MS || 10_000) || 10_000);
  const namespace = env.METRICS_NAMESPACE || "GrayDeploy/Service";
  let dimensions = {};
  try {
    dimensions = JSON.parse(env.METRICS_DIMENSIONS || "{}");
  } catch {
    process.stderr.write("sample-gateway: METRICS_DIMENSIONS is not a JSON object\n");
    process.exit(2);
  }
  const BIN = Math.log(1.1);
  const round = (x) => Number(x.toPrecision(6));
  const fresh = (start) => ({
    start,
    requests: 0,
    errors: 0,
    buckets: new Map(),
    sum: 0,
    min: Infinity,
    max: 0,
  });
  const periodOf = (t) => Math.floor(t / periodMs) * periodMs;
  let current = fresh(periodOf(Date.now()));

  function write(p) {
    const metrics = [
      { Name: "Requests", Unit: "Count", StorageResolution: 1 },
      { Name: "Errors", Unit: "Count", StorageResolution: 1 },
    ];
    const base = { ...dimensions, Requests: p.requests, Errors: p.errors };
    const bins = [...p.buckets];
    const doc = (extra, ms) => ({
      _aws: {
        Timestamp: p.start,
        CloudWatchMetrics: [{ Namespace: namespace, Dimensions: [Object.keys(dimensions)], Metrics: ms }],
      },
      ...extra,
    });
    const lines = [];
    if (bins.length === 0) lines.push(doc(base, metrics));
    // At most 100 values per histogram: a busy period is split over several documents.
    for (let i = 0; i < bins.length; i += 100) {
      const part = bins.slice(i, i + 100);
      const count = part.reduce((a, [, c]) => a + c, 0);
      const latency = {
        Values: part.map(([v]) => v),
        Counts: part.map(([, c]) => c),
        Max: round(i === 0 ? p.max : Math.max(...part.map(([v]) => v))),
        Min: round(i === 0 ? p.min : Math.min(...part.map(([v]) => v))),
        Count: count,
        Sum: round(i === 0 ? p.sum : part.reduce((a, [v, c]) => a + v * c, 0)),
      };
      const latencyMetric = { Name: "Latency", Unit: "Milliseconds", StorageResolution: 1 };
      lines.push(
        i === 0
          ? doc({ ...base, Latency: latency }, [...metrics, latencyMetric])
          : doc({ ...dimensions, Latency: latency }, [latencyMetric]),
      );
    }
    process.stdout.write(`${lines.map((l) => JSON.stringify(l)).join("\n")}\n`);
  }

  function roll(now) {
    while (now >= current.start + periodMs) {
      write(current);
      current = fresh(current.start + periodMs);
    }
  }

  function tick() {
    roll(Date.now());
    setTimeout(tick, current.start + periodMs - Date.now() + 5).unref();
  }
  setTimeout(tick, current.start + periodMs - Date.now() + 5).unref();

  return {
    observe(res) {
      const started = performance.now();
      res.once("finish", () => {
        const ms = Math.max(0.001, performance.now() - started);
        roll(Date.now());
        const p = current;
        p.requests++;
        if (res.statusCode >= 500) p.errors++;
        const bucket = Number(Math.exp((Math.floor(Math.log(ms) / BIN) + 0.5) * BIN).toPrecision(4));
        p.buckets.set(bucket, (p.buckets.get(bucket) ?? 0) + 1);
        p.sum += ms;
        p.min = Math.min(p.min, ms);
        p.max = Math.max(p.max, ms);
      });
    },
    /** The period under way, written now (shutdown). */
    flush() {
      roll(Date.now());
      write(current);
      current = fresh(current.start + periodMs);
    },
  };
}

const server = createServer((req, res) => {
  const url = req.url ?? "/";
  if (emf !== null && !/^\/(health|metrics)(\?|$)/.test(url)) emf.observe(res);
  if (url === "/health" || url.startsWith("/health?")) {
    // Health is exempt from faults: a slow or failing health check would take the instance out of
    // rotation, and the point of the fault knobs is to make the release bad for customers.
    res.writeHead(200, HEALTH_HEADERS);
    res.end("ok");
    return;
  }
  if (url === "/metrics" || url.startsWith("/metrics?")) {
    // Exempt from faults too: it is how the business metrics of a faulty release are measured.
    drain(req);
    send(res, 200, {
      version,
      pid: process.pid,
      payments: counters,
      capacity: { rps: capacityRps, ...queueStats, maxWaitMs: Math.round(queueStats.maxWaitMs) },
    });
    return;
  }
  const handle = () => route(req, res, url);
  const served = latencyMs > 0 ? () => setTimeout(handle, latencyMs) : handle;
  if (capacityRps > 0) queue(req, res, served);
  else served();
});

/**
 * The instance's bounded capacity (CAPACITY_RPS): one server, FIFO, a fixed service time per request.
 * A request is answered when its turn's service ends; `busyUntil` is when the queue empties.
 */
const serviceMs = capacityRps > 0 ? 1000 / capacityRps : 0;
let busyUntil = 0;
const queueStats = { served: 0, refused: 0, maxWaitMs: 0, peakRps: 0, sustainedRps: 0 };
/** When the requests of the last two and five seconds arrived (performance.now()), oldest first. */
const recent2s = [];
const recent5s = [];

function arrived(now) {
  recent2s.push(now);
  recent5s.push(now);
  while (recent2s[0] <= now - 2000) recent2s.shift();
  while (recent5s[0] <= now - 5000) recent5s.shift();
  queueStats.peakRps = Math.max(queueStats.peakRps, recent2s.length / 2);
  queueStats.sustainedRps = Math.max(queueStats.sustainedRps, recent5s.length / 5);
}

function queue(req, res, served) {
  const now = performance.now();
  arrived(now);
  const start = Math.max(now, busyUntil);
  const waitMs = start - now;
  if (waitMs > maxQueueMs) {
    queueStats.refused++;
    drain(req);
    send(res, 503, { error: "overloaded", message: `queue wait ${Math.round(waitMs)} ms`, version });
    return;
  }
  busyUntil = start + serviceMs;
  queueStats.served++;
  if (waitMs > queueStats.maxWaitMs) queueStats.maxWaitMs = waitMs;
  setTimeout(served, busyUntil - now);
}

function route(req, res, url) {
  if (req.destroyed) return;
  if (
    (errorRate > 0 && Math.random() < errorRate) ||
    (baselineErrorRate > 0 && Math.random() < baselineErrorRate)
  ) {
    drain(req);
    send(res, 500, { error: "internal_error", message: "the payment processor failed", version });
    return;
  }
  const path = url.split("?", 1)[0];
  if (path === "/v1/payments") {
    if (req.method !== "POST") return send(res, 405, { error: "method_not_allowed", allow: "POST" });
    return readJson(req, res, (body) => createPayment(res, body));
  }
  if (path.startsWith("/v1/payments/")) {
    drain(req);
    if (req.method !== "GET") return send(res, 405, { error: "method_not_allowed", allow: "GET" });
    return getPayment(res, path.slice("/v1/payments/".length));
  }
  drain(req);
  send(res, 404, { error: "not_found", path });
}

function createPayment(res, body) {
  const amount = body.amount;
  const method = body.method ?? "pix";
  const currency = body.currency ?? "BRL";
  if (!Number.isInteger(amount) || amount <= 0 || amount > 100_000_000) {
    return send(res, 422, { error: "invalid_amount", message: "amount must be a positive integer of cents" });
  }
  if (method !== "pix" && method !== "card") {
    return send(res, 422, { error: "invalid_method", message: 'method must be "pix" or "card"' });
  }
  if (!/^[A-Z]{3}$/.test(currency)) {
    return send(res, 422, { error: "invalid_currency", message: "currency must be an ISO 4217 code" });
  }
  const sandbox = body.sandbox === true;
  const id = `pay_${randomBytes(9).toString("base64url")}`;
  // A sandbox charge never reaches an issuer: only the release's own bug declines it.
  const declined =
    paymentFault ||
    (!sandbox && declineRate > 0 && Math.random() < declineRate) ||
    (!sandbox && baselineDeclineRate > 0 && Math.random() < baselineDeclineRate);
  if (!sandbox) {
    for (const t of [counters, counters.byMethod[method]]) {
      t.attempted++;
      if (declined) t.declined++;
      else t.approved++;
    }
  }
  const extra = sandbox ? { sandbox: true } : {};
  if (declined) {
    // A success on the wire (HTTP 200), a failure for the business: the issuer "refused" it.
    return send(res, 200, {
      id,
      status: "declined",
      declineReason: paymentFault ? "processor_rejected" : "issuer_unavailable",
      amount,
      currency,
      method,
      createdAt: new Date().toISOString(),
      version,
      ...extra,
    });
  }
  if (sandbox)
    return send(res, 201, { ...describe(id, amount, method, currency, body.card, Date.now()), ...extra });
  const payment = describe(id, amount, method, currency, body.card, Date.now());
  if (payments.size >= MAX_PAYMENTS) payments.delete(payments.keys().next().value);
  payments.set(id, payment);
  send(res, 201, payment);
}

function getPayment(res, id) {
  if (!/^pay_[A-Za-z0-9_-]{6,40}$/.test(id)) return send(res, 404, { error: "not_found", id });
  const known = payments.get(id);
  if (known) return send(res, 200, { ...known, version });
  // Instances share no database; an id another instance created is described deterministically
  // from its characters so any instance answers the same way, as a shared store would.
  let h = 2166136261;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 16777619) >>> 0;
  const method = h & 1 ? "card" : "pix";
  const amount = 100 + (h % 50_000);
  send(
    res,
    200,
    describe(id, amount, method, "BRL", { last4: String(1000 + (h % 9000)) }, 1_700_000_000_000 + h),
  );
}

function describe(id, amount, method, currency, card, createdAt) {
  const base = {
    id,
    status: "approved",
    amount,
    currency,
    method,
    createdAt: new Date(createdAt).toISOString(),
    version,
  };
  if (method === "pix") {
    return {
      ...base,
      pix: { endToEndId: `E${id.slice(4).toUpperCase()}`, qrCode: `00020126580014br.gov.bcb.pix0136${id}` },
    };
  }
  const last4 = typeof card?.last4 === "string" && /^\d{4}$/.test(card.last4) ? card.last4 : "4242";
  return {
    ...base,
    card: { brand: card?.brand === "mastercard" ? "mastercard" : "visa", last4 },
    authorizationCode: id.slice(-6).toUpperCase(),
  };
}

function readJson(req, res, then) {
  let size = 0;
  const chunks = [];
  req.on("data", (chunk) => {
    size += chunk.length;
    if (size > MAX_BODY) {
      send(res, 413, { error: "payload_too_large", limit: MAX_BODY });
      req.destroy();
      return;
    }
    chunks.push(chunk);
  });
  req.on("end", () => {
    if (res.headersSent) return;
    let body;
    try {
      body = chunks.length === 0 ? {} : JSON.parse(Buffer.concat(chunks).toString("utf8"));
    } catch {
      return send(res, 400, { error: "invalid_json" });
    }
    if (body === null || typeof body !== "object" || Array.isArray(body)) {
      return send(res, 400, { error: "invalid_json", message: "expected a JSON object" });
    }
    then(body);
  });
}

function drain(req) {
  if (!req.complete) req.resume();
}

function send(res, status, body) {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { ...JSON_HEADERS, "content-length": Buffer.byteLength(text) });
  res.end(text);
}

// Longer than the proxy's keep-alive (undici's default 4 s): the client, not the server, closes idle
// connections, so the proxy never writes a request into a socket the server is closing.
server.keepAliveTimeout = 65_000;
server.headersTimeout = 66_000;

server.listen(Number(env.PORT ?? 8080), env.HOST || "127.0.0.1", () => {
  const address = server.address();
  process.stdout.write(
    `${JSON.stringify({ event: "listening", port: address.port, pid: process.pid, version })}\n`,
  );
});

let stopping = false;
function stop() {
  if (stopping) return;
  stopping = true;
  server.close(() => {
    emf?.flush();
    process.exit(0);
  });
  server.closeIdleConnections();
  // In-flight requests get a bounded grace period, as a load balancer's deregistration delay does.
  setTimeout(() => process.exit(0), 10_000).unref();
}
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
