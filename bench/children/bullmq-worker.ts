/*
 * The BullMQ side of the comparison, in its own process like the Kuueri server: a Worker at the
 * same concurrency as the server's TASKS_CONCURRENCY whose processor sends the job's HTTP request
 * to the target with undici (Agent.request with origin + path, the fastest client here), and fails
 * the job on a non-2xx answer so BullMQ retries it, as Kuueri would.
 */
import { Worker } from 'bullmq';
import { Agent } from 'undici';
import { PAYLOAD_BYTES, dispatchHeaders } from '../lib/bodies.js';
import { serve } from '../lib/child.js';

export interface WorkerArgs {
  redis: { host: string; port: number };
  queue: string;
  concurrency: number;
  target: string;
}

export type BullWorkerProtocol = {
  start: { args: WorkerArgs; result: null };
  stop: { args: null; result: { completed: number; failed: number } };
};

interface JobData {
  path: string;
  payload: string;
}

let worker: Worker<JobData> | null = null;
let agent: Agent | null = null;
let completed = 0;
let failed = 0;

serve<BullWorkerProtocol>({
  start: async (args) => {
    const http = new Agent({ keepAliveTimeout: 10_000, keepAliveMaxTimeout: 60_000 });
    agent = http;
    worker = new Worker<JobData>(
      args.queue,
      async (job) => {
        const res = await http.request({
          origin: args.target,
          path: job.data.path,
          method: 'POST',
          headers: dispatchHeaders(job.id ?? ''),
          body: job.data.payload === undefined ? PAYLOAD_BYTES : Buffer.from(job.data.payload, 'utf8'),
          headersTimeout: 30_000,
          bodyTimeout: 30_000,
        });
        await res.body.dump();
        if (res.statusCode < 200 || res.statusCode >= 300) throw new Error(`target answered ${res.statusCode}`);
        return res.statusCode;
      },
      { connection: { host: args.redis.host, port: args.redis.port, maxRetriesPerRequest: null }, concurrency: args.concurrency },
    );
    worker.on('completed', () => completed++);
    worker.on('failed', () => failed++);
    worker.on('error', () => undefined);
    await worker.waitUntilReady();
    return null;
  },
  stop: async () => {
    await worker?.close();
    await agent?.close();
    return { completed, failed };
  },
});
