// What one attempt costs in CPU, the server's sender against plain undici, to the same local
// target (its own process) at 128 in flight: 20,000 requests each, after a warm-up.
// Run: npx tsx bench/micro/sender-vs-undici.ts
import { spawn } from 'node:child_process';
import { Pool } from 'undici';
import { createTargetPolicy, parseTargetList } from '../../src/core/target-policy.js';
import { createHttpSender } from '../../src/dispatch/http-sender.js';

const target = spawn(
  process.execPath,
  [
    '-e',
    `
  const http = require('node:http');
  const server = http.createServer((req, res) => { req.resume(); req.on('end', () => res.end('ok')); });
  server.listen(0, '127.0.0.1', () => console.log(server.address().port));
`,
  ],
  { stdio: ['ignore', 'pipe', 'inherit'] },
);
const port = Number(await new Promise<string>((resolve) => target.stdout.once('data', (d: Buffer) => resolve(d.toString().trim()))));
const origin = `http://127.0.0.1:${port}`;
const N = 20_000;
const body = Buffer.from('x'.repeat(560));
const headers = {
  'content-type': 'application/json',
  authorization: 'Bearer abc',
  'user-agent': 'Kuueri-Tasks',
  'x-kuueri-tasks-queue': 'A'.repeat(26),
};

async function measure(name: string, send: () => Promise<unknown>): Promise<void> {
  let next = 0;
  const cpu = process.cpuUsage();
  const started = performance.now();
  await Promise.all(
    Array.from({ length: 128 }, async () => {
      while (next < N) {
        next++;
        await send();
      }
    }),
  );
  const ms = performance.now() - started;
  const used = process.cpuUsage(cpu);
  console.log(`${name}: ${Math.round((N / ms) * 1000)} req/s, ${((used.user + used.system) / N).toFixed(1)} µs CPU per request`);
}

const pool = new Pool(origin, { connections: 128 });
const plain = async (): Promise<void> => {
  const res = await pool.request({ path: '/hook?a=1', method: 'POST', headers, body });
  await res.body.dump();
};
const sender = createHttpSender({ policy: createTargetPolicy(parseTargetList(['127.0.0.1'])), maxResponseBytes: 131_072 });
const request = {
  url: `${origin}/hook`,
  method: 'POST' as const,
  data: body.toString('base64'),
  params: { a: '1' },
  headers: { 'Content-Type': 'application/json', Authorization: 'Bearer abc' },
};
const ours = (): Promise<unknown> => sender.send(request, { 'X-Kuueri-Tasks-Queue': 'A'.repeat(26) }, 30_000);

await measure('warm-up (undici Pool)', plain);
await measure('undici Pool.request', plain);
await measure('server sender (guard, timer, headers)', ours);
await measure('undici Pool.request', plain);
await measure('server sender (guard, timer, headers)', ours);
await pool.close();
await sender.close();
target.kill();
