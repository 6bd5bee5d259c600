/*
 * The target: a bare node:http server on 127.0.0.1 in its own process that answers 200 at once and
 * records, for every request, its arrival time (Date.now(), ms) and the `due` and `i` query params
 * the task carried, so the orchestrator computes delivery rates and lateness.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '../lib/child.js';

export type TargetProtocol = {
  /** Forgets what was recorded; `expected` sizes the buffers. */
  reset: { args: { expected: number }; result: null };
  count: { args: null; result: number };
  /** Arrival times, due times (NaN when absent) and indices (-1 when absent) of the requests so far. */
  records: { args: null; result: { at: Float64Array; due: Float64Array; index: Int32Array } };
};

let at = new Float64Array(1024);
let due = new Float64Array(1024);
let index = new Int32Array(1024);
let count = 0;

function grow(): void {
  const size = at.length * 2;
  const a = new Float64Array(size);
  a.set(at);
  const d = new Float64Array(size);
  d.set(due);
  const x = new Int32Array(size);
  x.set(index);
  at = a;
  due = d;
  index = x;
}

function param(url: string, name: string): string | null {
  const key = `${name}=`;
  let from = url.indexOf('?');
  while (from !== -1) {
    if (url.startsWith(key, from + 1)) {
      const end = url.indexOf('&', from + 1 + key.length);
      return url.slice(from + 1 + key.length, end === -1 ? undefined : end);
    }
    from = url.indexOf('&', from + 1);
  }
  return null;
}

const server = createServer((req, res) => {
  req.on('data', () => undefined);
  req.on('end', () => {
    const now = Date.now();
    if (count === at.length) grow();
    const url = req.url ?? '';
    const d = param(url, 'due');
    const i = param(url, 'i');
    at[count] = now;
    due[count] = d === null ? NaN : Number(d);
    index[count] = i === null ? -1 : Number(i);
    count++;
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '2' });
    res.end('ok');
  });
});
server.keepAliveTimeout = 120_000;
server.headersTimeout = 130_000;
server.listen(0, '127.0.0.1', () => {
  const port = (server.address() as AddressInfo).port;
  serve<TargetProtocol>(
    {
      reset: ({ expected }) => {
        const size = Math.max(1024, expected + 1024);
        at = new Float64Array(size);
        due = new Float64Array(size);
        index = new Int32Array(size);
        count = 0;
        return null;
      },
      count: () => count,
      records: () => ({ at: at.slice(0, count), due: due.slice(0, count), index: index.slice(0, count) }),
    },
    { port, url: `http://127.0.0.1:${port}` },
  );
});
