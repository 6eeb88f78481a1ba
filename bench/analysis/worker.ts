/** A worker thread of the benchmark: runs the jobs it is sent, one chunk at a time. */
import { parentPort } from "node:worker_threads";
import { type Job, runJob } from "./jobs.js";

const port = parentPort;
if (port === null) throw new Error("bench/analysis/worker.ts runs as a worker thread");
port.on("message", async (msg: { jobs: Job[] } | { stop: true }) => {
  if ("stop" in msg) {
    port.close();
    return;
  }
  const outputs = [];
  for (const job of msg.jobs) outputs.push(await runJob(job));
  port.postMessage({ outputs });
});
port.postMessage({ ready: true });
