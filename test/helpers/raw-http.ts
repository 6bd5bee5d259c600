/*
 * A raw HTTP/1.1 client over `node:net`, for what fetch and node:http will not send: duplicated
 * headers, raw UTF-8 in a header, odd paths exactly as written, malformed framing, bytes that are
 * not HTTP at all. Each request goes on its own connection; the answer is parsed from the bytes the
 * server wrote, and a connection that ends without a whole answer is reported as `dropped`.
 */
import { type Socket, connect } from 'node:net';

export interface RawResponse {
  status: number;
  /** Header names lower-cased; a repeated header keeps every value joined by ", ". */
  headers: Record<string, string>;
  /** The whole head as received, for searching. */
  head: string;
  body: string;
  /** The parsed JSON body, or null when it is not a JSON object or array. */
  json: Record<string, unknown> | null;
}

/** What came back on the connection: an answer, or why there was none. */
export type RawAnswer = ({ kind: 'answer' } & RawResponse) | { kind: 'dropped'; error: string };

export interface RawRequestOptions {
  method: string;
  /** Written as given. */
  path: string;
  /** Sent as given, in order (duplicates included), written as UTF-8; `host` and `connection: close` are added unless given. */
  headers?: Array<[string, string]> | Record<string, string>;
  body?: string | Buffer;
  /** Send the body with chunked transfer encoding (in 16 KiB chunks) instead of a content-length. */
  chunked?: boolean;
}

/** The bytes of one request as `options` describe it. */
export function requestBytes(base: string | URL, options: RawRequestOptions): Buffer {
  const { hostname, port } = new URL(base);
  const given = Array.isArray(options.headers) ? options.headers : Object.entries(options.headers ?? {});
  const has = (name: string): boolean => given.some(([n]) => n.toLowerCase() === name);
  const body = options.body === undefined ? undefined : Buffer.isBuffer(options.body) ? options.body : Buffer.from(options.body, 'utf8');
  const lines = [`${options.method} ${options.path} HTTP/1.1`];
  if (!has('host')) lines.push(`host: ${hostname}:${port}`);
  if (!has('connection')) lines.push('connection: close');
  for (const [name, value] of given) lines.push(`${name}: ${value}`);
  if (body && options.chunked) lines.push('transfer-encoding: chunked');
  else if (body && !has('content-length')) lines.push(`content-length: ${body.length}`);
  const head = Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'utf8');
  if (!body) return head;
  if (!options.chunked) return Buffer.concat([head, body]);
  const parts: Buffer[] = [head];
  for (let at = 0; at < body.length; at += 16_384) {
    const piece = body.subarray(at, at + 16_384);
    parts.push(Buffer.from(`${piece.length.toString(16)}\r\n`, 'latin1'), piece, Buffer.from('\r\n', 'latin1'));
  }
  parts.push(Buffer.from('0\r\n\r\n', 'latin1'));
  return Buffer.concat(parts);
}

/** How a connection is made: `localAddress` picks the address it comes from (on Linux, any of 127.0.0.0/8 reaches a loopback server). */
export interface ConnectOptions {
  localAddress?: string;
}

/** One request on its own connection; the answer, or `dropped` with the reason. */
export function sendRequest(
  base: string | URL,
  options: RawRequestOptions,
  sendOptions: { timeoutMs?: number } & ConnectOptions = {},
): Promise<RawAnswer> {
  return sendBytes(base, requestBytes(base, options), sendOptions);
}

/** One request on its own connection; the answer, or an error when there was none. */
export async function rawRequest(
  base: string | URL,
  options: RawRequestOptions,
  sendOptions: { timeoutMs?: number } = {},
): Promise<RawResponse> {
  const answer = await sendRequest(base, options, sendOptions);
  if (answer.kind === 'dropped') throw new Error(`${options.method} ${options.path.slice(0, 80)}: no answer (${answer.error})`);
  return answer;
}

/**
 * Writes `bytes` on a fresh connection and reads the first final answer (1xx answers skipped): done
 * once it is complete, or when the server closes the connection (an error while still writing, such
 * as EPIPE after an early 413, is no drop when the answer arrived). Gives up after `timeoutMs`
 * (default 10 s). Not for HEAD: its answer has a length and no body.
 */
export function sendBytes(
  base: string | URL,
  bytes: string | Buffer,
  options: { timeoutMs?: number } & ConnectOptions = {},
): Promise<RawAnswer> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  return new Promise((resolve) => {
    const socket = connectTo(base, options);
    const chunks: Buffer[] = [];
    let settled = false;
    const finish = (why: string, closed: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const raw = Buffer.concat(chunks);
      const [first] = parseResponses(raw, closed);
      if (first) resolve({ kind: 'answer', ...first });
      else if (raw.length === 0) resolve({ kind: 'dropped', error: why });
      else if (raw.indexOf('\r\n\r\n') < 0 || !/^HTTP\/1\.[01] \d{3}/.test(raw.toString('latin1', 0, 12))) {
        resolve({ kind: 'dropped', error: `not an HTTP answer (${why}): ${JSON.stringify(raw.toString('latin1', 0, 200))}` });
      } else resolve({ kind: 'dropped', error: `the answer was cut short (${why})` });
    };
    const timer = setTimeout(() => finish(`no whole answer within ${timeoutMs} ms`, false), timeoutMs);
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      // One whole answer is enough: stop at its end rather than wait for the server to close.
      if (parseResponses(Buffer.concat(chunks), false).length > 0) finish('answered', false);
    });
    socket.once('end', () => finish('closed without an answer', true));
    socket.once('close', () => finish('closed without an answer', true));
    socket.once('error', (error: NodeJS.ErrnoException) => finish(error.code ?? error.message, true));
    socket.write(bytes);
  });
}

function connectTo(base: string | URL, options: ConnectOptions): Socket {
  const { hostname, port } = new URL(base);
  // URL keeps an IPv6 host in brackets; net.connect wants it bare.
  const host = hostname.startsWith('[') ? hostname.slice(1, -1) : hostname;
  return connect({ host, port: Number(port), localAddress: options.localAddress });
}

/**
 * A connection the test holds open and writes to when it chooses (a client that stalls, or keeps
 * its connection): everything the server sends is kept, and its close can be awaited.
 */
export class RawConnection {
  private readonly chunks: Buffer[] = [];
  private ended = false;
  /** Resolves once the connection is closed, by either side. */
  readonly closed: Promise<void>;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => this.chunks.push(chunk));
    socket.on('error', () => {}); // a reset is a close like any other here
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.ended = true;
        resolve();
      }),
    );
  }

  /** Connects to `base`; resolves once connected. */
  static async open(base: string | URL, options: ConnectOptions = {}): Promise<RawConnection> {
    const socket = connectTo(base, options);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new RawConnection(socket);
  }

  get isClosed(): boolean {
    return this.ended;
  }

  /** Everything received so far, as text. */
  get received(): string {
    return Buffer.concat(this.chunks).toString('latin1');
  }

  /** The whole answers received so far, in order. */
  answers(): RawResponse[] {
    return parseResponses(Buffer.concat(this.chunks), this.ended);
  }

  /** Writes `bytes` unless the connection is closed; answers whether it wrote. */
  write(bytes: string | Buffer): boolean {
    if (this.ended || !this.socket.writable) return false;
    this.socket.write(bytes);
    return true;
  }

  close(): void {
    this.socket.destroy();
  }
}

/**
 * The whole final answers in `raw`, in order: 1xx interim answers are skipped; a body is framed by
 * its content-length or chunked encoding, or, with neither, runs to the end of `raw` once the
 * connection is `closed`. An incomplete answer at the end is left out.
 */
export function parseResponses(raw: Buffer, closed = true): RawResponse[] {
  const out: RawResponse[] = [];
  let at = 0;
  while (at < raw.length) {
    const headEnd = raw.indexOf('\r\n\r\n', at);
    if (headEnd < 0) break;
    const head = raw.subarray(at, headEnd).toString('latin1');
    const [statusLine = '', ...headerLines] = head.split('\r\n');
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? NaN);
    if (!Number.isInteger(status)) break;
    const headers: Record<string, string> = {};
    for (const line of headerLines) {
      const colon = line.indexOf(':');
      if (colon <= 0) continue;
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
    }
    const bodyStart = headEnd + 4;
    if (status >= 100 && status < 200) {
      at = bodyStart;
      continue;
    }
    let body: Buffer;
    if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
      const chunked = dechunk(raw, bodyStart);
      if (!chunked) break;
      body = chunked.body;
      at = chunked.end;
    } else if (headers['content-length'] !== undefined) {
      const length = Number(headers['content-length']);
      if (!Number.isInteger(length) || raw.length < bodyStart + length) break;
      body = raw.subarray(bodyStart, bodyStart + length);
      at = bodyStart + length;
    } else if (status === 204 || status === 304) {
      body = Buffer.alloc(0);
      at = bodyStart;
    } else {
      if (!closed) break;
      body = raw.subarray(bodyStart);
      at = raw.length;
    }
    const text = body.toString('utf8');
    let json: Record<string, unknown> | null = null;
    try {
      const parsed: unknown = JSON.parse(text);
      if (typeof parsed === 'object' && parsed !== null) json = parsed as Record<string, unknown>;
    } catch {
      // Not JSON.
    }
    out.push({ status, headers, head, body: text, json });
  }
  return out;
}

/** A chunked body starting at `offset`: its bytes and where it ends, or null while it is incomplete. */
function dechunk(data: Buffer, offset: number): { body: Buffer; end: number } | null {
  const out: Buffer[] = [];
  for (;;) {
    const lineEnd = data.indexOf('\r\n', offset);
    if (lineEnd < 0) return null;
    const size = parseInt(data.subarray(offset, lineEnd).toString('latin1'), 16);
    if (!Number.isFinite(size)) return null;
    if (size === 0) {
      // The last chunk, then trailers (none expected) and an empty line.
      const end = data.indexOf('\r\n', lineEnd + 2);
      return end < 0 ? null : { body: Buffer.concat(out), end: end + 2 };
    }
    if (data.length < lineEnd + 2 + size + 2) return null;
    out.push(data.subarray(lineEnd + 2, lineEnd + 2 + size));
    offset = lineEnd + 2 + size + 2;
  }
}
