/**
 * Shared pieces of the process-level tests: the environment they start the built server with,
 * temporary folders, bounded polling, a server process that is expected to fail to start, a TCP
 * probe, and a target whose answers the test releases by hand.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { type IncomingHttpHeaders, type Server, type ServerResponse, createServer } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ApiClient, Credentials } from '../helpers/api-client.js';
import { MAIN, type ServerProcess } from '../helpers/server-process.js';

/** What every process test starts the server with (plus test-specific settings). */
export const PROCESS_ENV: Record<string, string> = {
  PORT: '0',
  HOST: '127.0.0.1',
  TASKS_ALLOW_TARGETS: '127.0.0.0/8',
  TASKS_LOG_LEVEL: 'info',
  TASKS_THROTTLE_LIMIT: '1000000',
  TASKS_REGISTER_LIMIT: '1000000',
  TASKS_AUTH_FAILURE_LIMIT: '1000000',
  TASKS_QUEUE_LIMIT: '100000',
};

export const FINAL_STATES = new Set(['COMPLETED', 'ERROR', 'EXCEEDED', 'CANCELED']);

export function makeTempDir(prefix: string): string {
  return realpathSync(mkdtempSync(join(tmpdir(), `kuueri-${prefix}-`)));
}

export function removeDir(dir: string | undefined): void {
  if (dir) rmSync(dir, { recursive: true, force: true });
}

/** Every server a test file started, so `after` can SIGKILL whatever is still alive. */
export class ProcessPool {
  private readonly procs: ServerProcess[] = [];

  track(server: ServerProcess): ServerProcess {
    this.procs.push(server);
    return server;
  }

  async killAll(): Promise<void> {
    await Promise.all(this.procs.map((p) => p.kill('SIGKILL')));
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

/** Waits until the wall clock reads at least `epochMs` (for tests where time passing is the point). */
export async function sleepUntil(epochMs: number): Promise<void> {
  while (Date.now() < epochMs) await sleep(epochMs - Date.now());
}

/** The promise's value, or null when it takes longer than `ms` (the timer does not outlive it). */
export async function within<T>(promise: Promise<T>, ms: number): Promise<T | null> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls `check` until it answers a value other than undefined; throws `what` after `timeoutMs`. */
export async function waitUntil<T>(what: string, check: () => Promise<T | undefined> | T | undefined, timeoutMs = 15_000, everyMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** Runs `fn` over `items` with at most `limit` at once; answers the results in order. */
export async function mapPool<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index]!, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

export interface TaskBody {
  state: string;
  statusCode: number;
  estimateExecAt: number;
  currentlyRetry: boolean;
  currentlyRepeat: boolean;
  updates: { attempts: number; retryCount: number; repeatCount: number; estimateNextRetryAt: number; estimateNextRepeatAt: number };
}

export type TimelineEntry = { label: string; description: string; createdAt: number; metadata?: Record<string, unknown> };

/** The task once it has reached a final state. */
export async function waitForFinal(client: ApiClient, creds: Credentials, id: string, timeoutMs = 20_000): Promise<TaskBody> {
  const task = await client.waitForTask(creds, id, (t) => FINAL_STATES.has(t.state as string), timeoutMs);
  return task as unknown as TaskBody;
}

export async function timelineOf(client: ApiClient, creds: Credentials, id: string): Promise<TimelineEntry[]> {
  const res = await client.timeline(creds, id);
  if (res.status !== 200) throw new Error(`timeline of ${id} answered ${res.status}: ${JSON.stringify(res.body)}`);
  return res.body;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RefusedStart extends Exit {
  /** It did not stop within the timeout and was killed. */
  timedOut: boolean;
  /** It started listening (and was killed at once). */
  listened: boolean;
}

/**
 * Runs `node dist/main.js` expecting it to stop on its own (bad configuration, lock held). Should it
 * start listening instead, it is SIGKILLed at once; should it hang, after `timeoutMs`.
 */
export function runToExit(env: Record<string, string>, cwd: string, timeoutMs = 15_000): Promise<RefusedStart> {
  const proc = spawn(process.execPath, [MAIN], { cwd, env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let listened = false;
  proc.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    if (!listened && /Kuueri Tasks listening/.test(stdout)) {
      listened = true;
      proc.kill('SIGKILL');
    }
  });
  proc.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    proc.kill('SIGKILL');
  }, timeoutMs);
  return new Promise((resolve) => {
    proc.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut, listened });
    });
  });
}

/** Opens a plain TCP connection: 'connected' or the error code (ECONNREFUSED once nothing listens). */
export function probeConnect(url: string, timeoutMs = 2_000): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect({ host: hostname, port: Number(port) });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve('timeout');
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve(error.code ?? error.message);
    });
  });
}

/** The JSON lines a server wrote to standard output, parsed (other lines skipped). */
export function logLines(output: string): Array<Record<string, unknown>> {
  const lines: Array<Record<string, unknown>> = [];
  for (const line of output.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      lines.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      // A line cut by SIGKILL: skip.
    }
  }
  return lines;
}

export interface GatedRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
  at: number;
}

/**
 * A target that holds each request until the test answers it (`answerAll`) or answers at once when
 * told to (`autoAnswer`), so "a request is in flight" is a fact, not a race.
 */
export class GatedTarget {
  readonly requests: GatedRequest[] = [];
  private readonly held = new Set<ServerResponse>();
  private readonly waiters: Array<() => void> = [];
  autoAnswer: number | null = null;

  private constructor(private readonly server: Server) {}

  static async start(): Promise<GatedTarget> {
    let target: GatedTarget | null = null;
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => target?.handle({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks), at: Date.now() }, res));
    });
    target = new GatedTarget(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return target;
  }

  private handle(request: GatedRequest, res: ServerResponse): void {
    this.requests.push(request);
    if (this.autoAnswer !== null) {
      res.writeHead(this.autoAnswer, { 'content-type': 'text/plain' }).end('ok');
    } else {
      this.held.add(res);
      res.on('close', () => this.held.delete(res));
    }
    for (const wake of this.waiters.splice(0)) wake();
  }

  url(path = '/hook'): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}${path}`;
  }

  /** Requests held right now (the connection still open, no answer sent). */
  get heldCount(): number {
    return this.held.size;
  }

  async waitFor(count: number, timeoutMs = 15_000): Promise<GatedRequest[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.requests.length < count) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`target got ${this.requests.length} requests, expected ${count} within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.requests.slice();
  }

  /** Answers every held request with `status`; answers how many were still open. */
  answerAll(status = 200): number {
    let answered = 0;
    for (const res of this.held) {
      if (!res.destroyed && !res.writableEnded) {
        res.writeHead(status, { 'content-type': 'text/plain' }).end('ok');
        answered++;
      }
    }
    this.held.clear();
    return answered;
  }

  async close(): Promise<void> {
    for (const res of this.held) res.socket?.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
