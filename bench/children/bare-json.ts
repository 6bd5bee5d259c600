/*
 * The subscribe ceiling: a bare node:http server in its own process that reads the body, parses it
 * as JSON and answers 201 with a small JSON document shaped like the server's answer. Nothing is
 * validated, stored or encrypted: it is what loopback HTTP + JSON cost on this machine.
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '../lib/child.js';

export type BareJsonProtocol = { served: { args: null; result: number } };

let served = 0;
const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    let status = 201;
    let out: string;
    try {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { config?: { executionAt?: number } };
      const now = Date.now();
      out = JSON.stringify({
        id: randomBytes(13).toString('hex').slice(0, 26).toUpperCase(),
        state: 'RUNNING',
        statusCode: 0,
        estimateStartAt: now,
        estimateExecAt: body.config?.executionAt ?? now + 3_600_000,
        estimateEndAt: 0,
        currentlyRetry: false,
        currentlyRepeat: false,
      });
    } catch {
      status = 400;
      out = '{"error":"bad json"}';
    }
    served++;
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(out) });
    res.end(out);
  });
});
server.keepAliveTimeout = 120_000;
server.headersTimeout = 130_000;
server.listen(0, '127.0.0.1', () => {
  const port = (server.address() as AddressInfo).port;
  serve<BareJsonProtocol>({ served: () => served }, { port, url: `http://127.0.0.1:${port}` });
});
