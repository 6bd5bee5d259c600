/**
 * Shared pieces of the attack-* tests: a raw HTTP/1.1 client over `node:net` (fetch will not send
 * duplicated headers, tabs, raw UTF-8 or other bytes an attacker can send), a seeded PRNG, and a
 * scan of every key a Redis store holds.
 */
import { connect } from 'node:net';
import type { Redis } from 'ioredis';

export interface RawResponse {
  status: number;
  /** Header names lower-cased; a repeated header keeps every value joined by ", ". */
  headers: Record<string, string>;
  /** The whole head as received, for searching. */
  head: string;
  body: string;
  /** The parsed JSON body, or null when it is not JSON. */
  json: Record<string, unknown> | null;
}

export interface RawRequestOptions {
  method: string;
  path: string;
  /** Sent as given, in order, duplicates included; values are written as UTF-8. */
  headers?: Array<[string, string]>;
  body?: string | Buffer;
  timeoutMs?: number;
}

/** Sends one request on its own connection (`connection: close`) and reads the whole answer. */
export function rawRequest(baseUrl: string, options: RawRequestOptions): Promise<RawResponse> {
  const { hostname, port } = new URL(baseUrl);
  const body = options.body === undefined ? undefined : Buffer.isBuffer(options.body) ? options.body : Buffer.from(options.body, 'utf8');
  const lines = [`${options.method} ${options.path} HTTP/1.1`, `host: ${hostname}:${port}`, 'connection: close'];
  for (const [name, value] of options.headers ?? []) lines.push(`${name}: ${value}`);
  if (body) lines.push(`content-length: ${body.length}`);
  const head = Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'utf8');
  const timeoutMs = options.timeoutMs ?? 10_000;

  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`${options.method} ${options.path}: no complete answer within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.once('end', () => {
      clearTimeout(timer);
      socket.destroy();
      try {
        resolve(parseResponse(Buffer.concat(chunks)));
      } catch (error) {
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
    socket.once('connect', () => {
      socket.write(body ? Buffer.concat([head, body]) : head);
    });
  });
}

function parseResponse(raw: Buffer): RawResponse {
  const split = raw.indexOf('\r\n\r\n');
  if (split < 0) throw new Error(`an answer without a complete head: ${JSON.stringify(raw.toString('latin1').slice(0, 200))}`);
  const head = raw.subarray(0, split).toString('latin1');
  let rest = raw.subarray(split + 4);
  const [statusLine, ...headerLines] = head.split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine ?? '')?.[1] ?? NaN);
  if (!Number.isInteger(status)) throw new Error(`not an HTTP status line: ${JSON.stringify(statusLine)}`);
  const headers: Record<string, string> = {};
  for (const line of headerLines) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  if (/chunked/i.test(headers['transfer-encoding'] ?? '')) rest = dechunk(rest);
  else if (headers['content-length'] !== undefined) rest = rest.subarray(0, Number(headers['content-length']));
  const body = rest.toString('utf8');
  let json: Record<string, unknown> | null = null;
  try {
    const parsed: unknown = JSON.parse(body);
    if (typeof parsed === 'object' && parsed !== null) json = parsed as Record<string, unknown>;
  } catch {
    // Not JSON.
  }
  return { status, headers, head, body, json };
}

function dechunk(data: Buffer): Buffer {
  const out: Buffer[] = [];
  let offset = 0;
  for (let guard = 0; guard < 100_000 && offset < data.length; guard++) {
    const lineEnd = data.indexOf('\r\n', offset);
    if (lineEnd < 0) break;
    const size = parseInt(data.subarray(offset, lineEnd).toString('latin1'), 16);
    if (!Number.isFinite(size) || size === 0) break;
    out.push(data.subarray(lineEnd + 2, lineEnd + 2 + size));
    offset = lineEnd + 2 + size + 2;
  }
  return Buffer.concat(out);
}

/** mulberry32: a small seeded PRNG, so a failing random run can be replayed from its seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The seed for a random test: KUUERI_ATTACK_SEED when set (to replay a run), else a fresh one. */
export function attackSeed(): number {
  const fromEnv = Number(process.env.KUUERI_ATTACK_SEED);
  return Number.isSafeInteger(fromEnv) && fromEnv > 0 ? fromEnv : (Date.now() ^ (process.pid << 8)) >>> 0;
}

export interface StoredValue {
  db: number;
  key: string;
  type: string;
  /** The key name and every member, field and value, as raw bytes. */
  parts: Buffer[];
}

/**
 * Every key of databases 0-3, found with SCAN (never KEYS), with its whole value read by type:
 * strings, hashes, lists, sets and sorted sets (with scores). Answers one entry per key.
 */
export async function scanEveryValue(client: Redis, databases: readonly number[] = [0, 1, 2, 3]): Promise<StoredValue[]> {
  const out: StoredValue[] = [];
  for (const db of databases) {
    await client.select(db);
    let cursor = '0';
    for (let page = 0; page < 100_000; page++) {
      const [next, keys] = await client.scanBuffer(cursor, 'COUNT', 200);
      for (const keyBuffer of keys) {
        const key = keyBuffer.toString('latin1');
        const type = await client.type(keyBuffer);
        const parts: Buffer[] = [keyBuffer];
        switch (type) {
          case 'string': {
            const value = await client.getBuffer(keyBuffer);
            if (value) parts.push(value);
            break;
          }
          case 'hash': {
            const flat = await client.hgetallBuffer(keyBuffer);
            for (const [field, value] of Object.entries(flat)) parts.push(Buffer.from(field, 'utf8'), value);
            break;
          }
          case 'list':
            parts.push(...(await client.lrangeBuffer(keyBuffer, 0, -1)));
            break;
          case 'set':
            parts.push(...(await client.smembersBuffer(keyBuffer)));
            break;
          case 'zset':
            parts.push(...(await client.zrangeBuffer(keyBuffer, '0', '-1', 'WITHSCORES')));
            break;
          case 'none':
            continue; // expired between SCAN and TYPE
          default:
            throw new Error(`db ${db} key ${key} has a type this scan does not read: ${type}`);
        }
        out.push({ db, key, type, parts });
      }
      cursor = next.toString();
      if (cursor === '0') break;
    }
  }
  await client.select(0);
  return out;
}
