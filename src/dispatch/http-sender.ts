import { EventEmitter, once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent, Client, errors as undiciErrors } from 'undici';
import { LIMITS } from '../core/limits.js';
import type { TargetPolicy } from '../core/target-policy.js';
import type { HttpRequestSpec } from '../core/task.js';
import type { AttemptOutcome } from '../core/task-machine.js';
import { guardedConnector, type Resolver, systemResolver, TargetRefusedError } from './target-guard.js';

/**
 * Sends one attempt: a pooled keep-alive client (undici Agent, `request` with origin + path, which
 * is several times faster here than fetch), no redirects followed, the task's timeout over the
 * whole exchange, and at most `maxResponseBytes` of the answer read.
 */
export interface SenderOptions {
  policy: TargetPolicy;
  resolver?: Resolver;
  maxResponseBytes: number;
  userAgent?: string;
}

/**
 * Cancels an attempt from outside (a stopping server). An EventEmitter, which undici accepts as a
 * signal: AbortController/AbortSignal are EventTargets, several times dearer per attempt in Node 20.
 */
export class Cancellation extends EventEmitter {
  aborted = false;
  reason: Error | undefined;

  cancel(reason: Error = new Error('attempt aborted')): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.emit('abort');
  }
}

export interface Sender {
  send(request: HttpRequestSpec, extraHeaders: Record<string, string>, timeoutMs: number, cancellation?: Cancellation): Promise<AttemptOutcome>;
  close(): Promise<void>;
}

export const USER_AGENT = 'Kuueri-Tasks';

export function createHttpSender(options: SenderOptions): Sender {
  const agent = new Agent({
    connect: guardedConnector(options.policy, options.resolver ?? systemResolver),
    keepAliveTimeout: 10_000,
    keepAliveMaxTimeout: 60_000,
    // The attempt's own timer (below) bounds every exchange; undici's must never cut one shorter
    // (their default is 300 s; a task may wait up to 600 s), and per-request values cost a timer each.
    headersTimeout: LIMITS.timeoutMax + 1_000,
    bodyTimeout: LIMITS.timeoutMax + 1_000,
  });
  const userAgent = options.userAgent ?? USER_AGENT;

  return {
    async send(request, extraHeaders, timeoutMs, cancellation) {
      const url = new URL(request.url);
      for (const [key, value] of Object.entries(request.params ?? {})) url.searchParams.append(key, value);
      const headers: Record<string, string> = {};
      let hasContentType = false;
      for (const [name, value] of Object.entries(request.headers ?? {})) {
        const lower = name.toLowerCase();
        if (lower === 'user-agent') continue;
        if (lower === 'content-type') hasContentType = true;
        headers[name] = value;
      }
      headers['User-Agent'] = userAgent;
      Object.assign(headers, extraHeaders);
      const body = request.data !== undefined && request.method !== 'DELETE' && request.method !== 'GET' ? Buffer.from(request.data, 'base64') : undefined;
      if (body && !hasContentType) headers['Content-Type'] = 'application/octet-stream';

      // One timer bounds the whole attempt: connecting, the answer's head and reading its body.
      const deadline = new Cancellation();
      let timedOut = false;
      let answer: { destroy(error: Error): unknown } | null = null;
      const stop = (reason: Error): void => {
        deadline.cancel(reason);
        answer?.destroy(reason);
      };
      const timer = setTimeout(() => {
        timedOut = true;
        stop(new Error(`timeout after ${timeoutMs} ms`));
      }, timeoutMs);
      const onCancel = (): void => stop(cancellation?.reason ?? new Error('attempt aborted'));
      cancellation?.once('abort', onCancel);
      try {
        const response = await agent.request({
          origin: url.origin,
          path: url.pathname + url.search,
          method: request.method,
          headers,
          body,
          signal: deadline,
        });
        const statusCode = response.statusCode;
        // The status is the outcome; the body is read (at most maxResponseBytes) to free the
        // connection. A body still arriving when the time is up makes the attempt a timeout.
        answer = response.body;
        if (!deadline.aborted) await response.body.dump({ limit: options.maxResponseBytes }).catch(() => undefined);
        if (timedOut) return { ok: false, statusCode, error: `timeout after ${timeoutMs} ms reading the answer` };
        return { ok: statusCode >= 200 && statusCode < 300, statusCode };
      } catch (error) {
        return failure(error, timedOut, timeoutMs);
      } finally {
        clearTimeout(timer);
        cancellation?.off('abort', onCancel);
      }
    },
    async close() {
      await agent.close();
    },
  };
}

/**
 * Makes one request to a throw-away server on 127.0.0.1, with a client of its own (not the guarded
 * Agent). undici compiles its HTTP parser (WebAssembly) synchronously on the first connection: about
 * 20 ms here, during which the event loop stands still, so without this the first tasks due after a
 * start are that much late. Failing to warm up is harmless; it only costs that delay later.
 */
export async function warmUpHttpClient(): Promise<void> {
  const server = createServer((_request, response) => response.end());
  try {
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const client = new Client(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    try {
      const answer = await client.request({ path: '/', method: 'GET', headersTimeout: 2_000, bodyTimeout: 2_000 });
      await answer.body.dump();
    } finally {
      await client.close();
    }
  } catch {
    // e.g. no loopback interface: the first attempt compiles the parser instead
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

function failure(error: unknown, timedOut: boolean, timeoutMs: number): AttemptOutcome {
  if (error instanceof TargetRefusedError || (error as { cause?: unknown }).cause instanceof TargetRefusedError) {
    const refused = error instanceof TargetRefusedError ? error : ((error as { cause: TargetRefusedError }).cause);
    return { ok: false, statusCode: 0, error: refused.message, permanent: true };
  }
  if (
    timedOut ||
    error instanceof undiciErrors.HeadersTimeoutError ||
    error instanceof undiciErrors.BodyTimeoutError ||
    error instanceof undiciErrors.ConnectTimeoutError
  ) {
    return { ok: false, statusCode: 0, error: `timeout after ${timeoutMs} ms` };
  }
  // undici 7 sets no code on parser errors, and reports a 1xx it did not expect (101, 100) as a
  // socket error: both mean the target did not speak HTTP as asked.
  if (error instanceof undiciErrors.HTTPParserError) {
    return { ok: false, statusCode: 0, error: `invalid HTTP response (${error.message})` };
  }
  if (error instanceof undiciErrors.SocketError && /^bad (upgrade|response)$/.test(error.message)) {
    return { ok: false, statusCode: 0, error: `invalid HTTP response (${error.message})` };
  }
  const code = (error as { code?: string }).code ?? '';
  const known: Record<string, string> = {
    ECONNREFUSED: 'connection refused',
    ECONNRESET: 'connection reset by the target',
    UND_ERR_SOCKET: 'connection closed by the target',
    ENOTFOUND: 'host name not found',
    EAI_AGAIN: 'host name lookup failed',
    EHOSTUNREACH: 'host unreachable',
    ENETUNREACH: 'network unreachable',
    UND_ERR_ABORTED: 'attempt aborted',
    ABORT_ERR: 'attempt aborted',
    HPE_INVALID_CONSTANT: 'invalid HTTP response',
  };
  const described = known[code] ?? (code.startsWith('HPE_') ? 'invalid HTTP response' : null);
  const message = described ?? (error instanceof Error ? error.message : String(error));
  return { ok: false, statusCode: 0, error: code ? `${message} (${code})` : message };
}
