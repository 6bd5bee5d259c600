/**
 * Helpers of the hostile-input suite: the real server process on SQLite or on its own
 * redis-server, a raw HTTP sender (node:http: paths go out exactly as written, bodies as bytes), a
 * raw-socket sender for malformed HTTP, and the check every answer must pass.
 */
import { type IncomingHttpHeaders, STATUS_CODES, request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ERROR_REGISTRY } from '../../src/core/errors.js';
import type { Credentials } from '../helpers/api-client.js';
import { type RedisServer, startRedisServer } from '../helpers/redis-server.js';
import { type ServerProcess, spawnServer } from '../helpers/server-process.js';
import { describeExpect, type HostileCase, type Refusal } from './hostile-generate.js';

export type Backend = 'sqlite' | 'redis';

export const HOSTILE_ENV: Record<string, string> = {
  PORT: '0',
  HOST: '127.0.0.1',
  TASKS_ALLOW_TARGETS: '127.0.0.0/8',
  TASKS_LOG_LEVEL: 'info',
  TASKS_THROTTLE_LIMIT: '100000000',
  TASKS_REGISTER_LIMIT: '1000000',
  TASKS_AUTH_FAILURE_LIMIT: '1000000',
  TASKS_QUEUE_LIMIT: '100000',
  TASKS_SHUTDOWN_GRACE_MS: '1000',
};

export interface HostileServer {
  backend: Backend;
  server: ServerProcess;
  base: URL;
  dir: string;
  alive(): boolean;
  close(): Promise<void>;
}

export async function startHostileServer(backend: Backend): Promise<HostileServer> {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), `kuueri-hostile-${backend}-`)));
  let redis: RedisServer | null = null;
  try {
    redis = backend === 'redis' ? await startRedisServer() : null;
    const storeEnv: Record<string, string> = redis
      ? { TASKS_DB: redis.url, TASKS_CRYPTO_KEY: 'a1'.repeat(32) }
      : { TASKS_DB: `sqlite:${join(dir, 'tasks.db')}` };
    const server = await spawnServer({ ...HOSTILE_ENV, ...storeEnv }, dir);
    return {
      backend,
      server,
      base: new URL(server.url),
      dir,
      alive: () => server.proc.exitCode === null && server.proc.signalCode === null,
      async close() {
        await server.kill('SIGKILL');
        await redis?.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await redis?.close();
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

// ── Sending ────────────────────────────────────────────────────────────────────────────────────

export type Answer =
  | { kind: 'answer'; status: number; headers: IncomingHttpHeaders; text: string }
  | { kind: 'dropped'; error: string };

export interface RawRequest {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  chunked?: boolean;
}

/** One request on its own connection, exactly as written; a connection error or a timeout is `dropped`. */
export function send(base: URL, req: RawRequest, timeoutMs = 20_000): Promise<Answer> {
  return new Promise((resolve) => {
    let settled = false;
    let responded = false;
    const finish = (answer: Answer): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(answer);
    };
    const body = req.body === undefined ? undefined : Buffer.isBuffer(req.body) ? req.body : Buffer.from(req.body, 'utf8');
    const headers: Record<string, string> = { ...req.headers };
    if (body && !req.chunked) headers['content-length'] = String(body.length);
    if (req.chunked) headers['transfer-encoding'] = 'chunked';
    let client: ReturnType<typeof httpRequest>;
    try {
      client = httpRequest({ host: base.hostname, port: base.port, method: req.method, path: req.path, headers, agent: false }, (res) => {
        responded = true;
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => finish({ kind: 'answer', status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', (error) => finish({ kind: 'dropped', error: `response: ${error.message}` }));
        res.on('close', () => finish({ kind: 'dropped', error: 'the answer was cut short' }));
      });
    } catch (error) {
      // The client itself refused to send it (an invalid path or header): a bug in the case, not the server.
      throw new Error(`cannot send ${req.method} ${req.path.slice(0, 80)}: ${(error as Error).message}`, { cause: error });
    }
    const timer = setTimeout(() => {
      client.destroy();
      finish({ kind: 'dropped', error: `no answer within ${timeoutMs} ms` });
    }, timeoutMs);
    // An error while still sending (EPIPE after an early 413) is no drop when the answer arrived: read it.
    client.on('error', (error: NodeJS.ErrnoException) => {
      if (!responded) finish({ kind: 'dropped', error: error.code ?? error.message });
    });
    if (body && req.chunked) {
      const size = 16_384;
      for (let i = 0; i < body.length; i += size) client.write(body.subarray(i, i + size));
      client.end();
    } else {
      client.end(body);
    }
  });
}

/** Bytes on a fresh TCP connection; the answer is whatever arrives until the server closes or `timeoutMs`. */
export function sendBytes(base: URL, bytes: string | Buffer, timeoutMs = 5_000): Promise<Answer> {
  return new Promise((resolve) => {
    const socket = connect({ host: base.hostname, port: Number(base.port) });
    const chunks: Buffer[] = [];
    let settled = false;
    const finish = (): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const raw = Buffer.concat(chunks).toString('latin1');
      const head = /^HTTP\/1\.[01] (\d{3})[^\r\n]*\r\n([\s\S]*?)\r\n\r\n/.exec(raw);
      if (!head) {
        resolve({ kind: 'dropped', error: raw === '' ? 'closed without an answer' : `not an HTTP answer: ${JSON.stringify(raw.slice(0, 200))}` });
        return;
      }
      const headers: IncomingHttpHeaders = {};
      for (const line of head[2]!.split('\r\n')) {
        const colon = line.indexOf(':');
        if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      const length = Number(headers['content-length'] ?? NaN);
      const rest = Buffer.from(raw.slice(head[0].length), 'latin1');
      const text = (Number.isFinite(length) ? rest.subarray(0, length) : rest).toString('utf8');
      resolve({ kind: 'answer', status: Number(head[1]), headers, text });
    };
    const timer = setTimeout(finish, timeoutMs);
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      // One full answer is enough: stop at its end instead of waiting for a keep-alive timeout.
      const raw = Buffer.concat(chunks).toString('latin1');
      const end = raw.indexOf('\r\n\r\n');
      const length = /\r\ncontent-length: *(\d+)/i.exec(raw.slice(0, end));
      if (end > 0 && length && Buffer.byteLength(raw.slice(end + 4), 'latin1') >= Number(length[1])) finish();
    });
    socket.on('close', finish);
    socket.on('error', finish);
    socket.write(bytes);
  });
}

export function authHeadersFor(creds: Credentials): Record<string, string> {
  return { authorization: `Bearer ${creds.token}`, 'x-kuueri-tasks-project': creds.id };
}

// ── Checking ───────────────────────────────────────────────────────────────────────────────────

const REGISTRY = ERROR_REGISTRY as Record<string, { status: number; message: string }>;
const TASK_ID = /^[0-9A-HJKMNP-TV-Z]{26}$/;

function short(text: string | Buffer | undefined, max = 240): string {
  if (text === undefined) return '(no body)';
  const s = Buffer.isBuffer(text) ? `<${text.length} bytes> ${JSON.stringify(text.subarray(0, max).toString('latin1'))}` : JSON.stringify(text.length > max ? `${text.slice(0, max)}…` : text);
  return text.length > max ? `${s} (${text.length} bytes in all)` : s;
}

export function describeRequest(c: HostileCase): string {
  const path = c.path.length > 120 ? `${c.path.slice(0, 120)}…(${c.path.length} chars)` : c.path;
  const headers = Object.keys(c.headers).length > 0 ? ` headers=${JSON.stringify(c.headers)}` : '';
  return `${c.method} ${path} [auth ${c.auth}]${headers} body=${short(c.body)}${c.chunked ? ' (chunked)' : ''}`;
}

export function describeAnswer(answer: Answer): string {
  return answer.kind === 'dropped' ? `dropped connection (${answer.error})` : `${answer.status} ${short(answer.text, 400)}`;
}

/**
 * What is wrong with `answer` for an error (status ≥ 400): the problems with its shape, whatever
 * the case expected. An empty list when it is a well-formed 4xx.
 */
export function errorShapeProblems(answer: Extract<Answer, { kind: 'answer' }>): string[] {
  const problems: string[] = [];
  if (answer.status >= 500) problems.push(`a ${answer.status}: hostile input must never cause a 5xx`);
  else if (answer.status < 400) problems.push(`status ${answer.status} is not an error`);
  if (!/^application\/json/.test(String(answer.headers['content-type'] ?? ''))) problems.push(`content-type ${String(answer.headers['content-type'])} is not application/json`);
  let body: unknown;
  try {
    body = JSON.parse(answer.text) as unknown;
  } catch {
    problems.push('the body is not JSON');
    return problems;
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    problems.push('the body is not a JSON object');
    return problems;
  }
  const b = body as Record<string, unknown>;
  const keys = Object.keys(b).sort();
  const expected = b.code === 'VALIDATION_FAILED' ? ['code', 'error', 'issues', 'message', 'statusCode'] : ['code', 'error', 'message', 'statusCode'];
  if (JSON.stringify(keys) !== JSON.stringify(expected)) problems.push(`the body's keys are ${JSON.stringify(keys)}, not ${JSON.stringify(expected)}`);
  if (b.statusCode !== answer.status) problems.push(`statusCode ${JSON.stringify(b.statusCode)} differs from the HTTP status ${answer.status}`);
  const registered = typeof b.code === 'string' ? REGISTRY[b.code] : undefined;
  if (!registered) problems.push(`code ${JSON.stringify(b.code)} is not in the error registry (src/core/errors.ts)`);
  else if (registered.status !== answer.status) problems.push(`code ${String(b.code)} is registered with status ${registered.status}, answered with ${answer.status}`);
  if (b.error !== STATUS_CODES[answer.status]) problems.push(`error ${JSON.stringify(b.error)} is not the phrase of ${answer.status} (${JSON.stringify(STATUS_CODES[answer.status])})`);
  if (typeof b.message !== 'string' || b.message.trim() === '') problems.push('message is not a non-empty string');
  if (b.code === 'VALIDATION_FAILED') {
    const issues = b.issues;
    if (!Array.isArray(issues) || issues.length === 0) problems.push('VALIDATION_FAILED without issues');
    else {
      for (const issue of issues as unknown[]) {
        const i = issue as Record<string, unknown>;
        if (typeof i !== 'object' || i === null || JSON.stringify(Object.keys(i).sort()) !== '["field","message"]' || typeof i.field !== 'string' || typeof i.message !== 'string') {
          problems.push(`issue ${JSON.stringify(issue)} is not {field, message}`);
        } else if (typeof b.message === 'string' && !b.message.includes(i.field)) {
          problems.push(`the message does not name the issue's field ${JSON.stringify(i.field)}`);
        }
      }
    }
  }
  return problems;
}

/** `message` names `name` as a whole field: not inside a longer word ("id" is not named by "valid"). */
export function names(message: string, name: string): boolean {
  const word = /[A-Za-z0-9_]/;
  for (let at = message.indexOf(name); at !== -1; at = message.indexOf(name, at + 1)) {
    const before = at === 0 ? '' : message[at - 1]!;
    const after = message[at + name.length] ?? '';
    if (!(word.test(before) && word.test(name[0] ?? '')) && !(word.test(after) && word.test(name[name.length - 1] ?? ''))) return true;
  }
  return false;
}

function refusalMatches(refusal: Refusal, status: number, code: unknown): boolean {
  return refusal.status === status && (refusal.code === '*' || refusal.code === code);
}

export interface Checked {
  problems: string[];
  /** The id of a task a 201 answered. */
  taskId?: string;
}

/** Every problem with `answer` for case `c`: none means it passed. */
export function checkAnswer(c: HostileCase, answer: Answer): Checked {
  if (answer.kind === 'dropped') return { problems: [`the connection was dropped (${answer.error}); expected ${describeExpect(c.expect)}`] };
  const problems: string[] = [];
  if (c.expect.ok.includes(answer.status)) {
    let body: Record<string, unknown> = {};
    try {
      body = JSON.parse(answer.text) as Record<string, unknown>;
    } catch {
      problems.push('a success whose body is not JSON');
    }
    if (answer.status === 201 && c.path.split('?')[0] === '/v1beta/subscribe') {
      if (typeof body.id !== 'string' || !TASK_ID.test(body.id) || body.state !== 'RUNNING') problems.push(`201 without a queued task: ${answer.text.slice(0, 200)}`);
      return { problems, taskId: typeof body.id === 'string' ? body.id : undefined };
    }
    return { problems };
  }
  if (answer.status < 400) return { problems: [`answered ${answer.status}; expected ${describeExpect(c.expect)}`] };
  problems.push(...errorShapeProblems(answer));
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(answer.text) as Record<string, unknown>;
  } catch {
    return { problems };
  }
  const refusal = c.expect.refuse.find((r) => refusalMatches(r, answer.status, body.code));
  if (!refusal) {
    problems.push(`answered ${answer.status} ${String(body.code)}; expected ${describeExpect(c.expect)}`);
    return { problems };
  }
  const message = typeof body.message === 'string' ? body.message : '';
  const fields = Array.isArray(body.issues) ? (body.issues as Array<{ field?: unknown }>).map((i) => String(i.field)) : [];
  for (const name of refusal.names ?? []) {
    if (!names(message, name)) problems.push(`the message does not name ${JSON.stringify(name)}`);
    else if (body.code === 'VALIDATION_FAILED' && !fields.some((f) => f.includes(name) || (name.startsWith(f) && f !== ''))) {
      problems.push(`no issue names ${JSON.stringify(name)} (issues: ${JSON.stringify(fields)})`);
    }
  }
  return { problems };
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

/** The server's log lines about failed requests (5xx causes), for failure messages. */
export function serverErrors(output: string): string[] {
  return output.split('\n').filter((line) => line.includes('"level":50') || line.includes('"level":60')).map((line) => line.slice(0, 600));
}
