import { EventEmitter, once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent, errors as undiciErrors } from 'undici';
import type { ErrorClass } from '../core/attempt-log.js';
import { ATTEMPT_LOG, LIMITS, SIGNATURE_HEADERS } from '../core/limits.js';
import { STOP_RETRY_HEADER } from '../core/retry-policy.js';
import type { OpenedRequest } from '../core/request-codec.js';
import { createTargetPolicy, isIpLiteral, parseTargetList, portOf, type TargetPolicy } from '../core/target-policy.js';
import type { AttemptOutcome } from '../core/task-machine.js';
import { LOOKUPS_BUSY, NameLookups, systemAddresses } from './name-resolver.js';
import { allowedAddresses, connectPort, guardedConnector, ownEndpointConnector, TargetRefusedError } from './target-guard.js';
import { WarmConnections } from './warm-connections.js';

/*
 * Sends one attempt: a pooled keep-alive client (undici Agent, dispatched with a handler of our
 * own: several times faster here than fetch, and cheaper than `request()`), no redirects followed,
 * the task's timeout over the whole exchange (name lookup included), and at most `maxResponseBytes`
 * of the answer read. A host name is looked up first on behalf of the task's project, so that one
 * project's slow names wait in that project's turns (name-resolver.ts); the connection then finds
 * the answer in the lookups' memory and judges it again (target-guard.ts).
 *
 * undici is pinned to an exact version in package.json: `Attempt` below implements its dispatch
 * handler interface (onConnect, onHeaders, onData, onComplete, onError), which undici has reshaped
 * between releases without a major version; upgrade it deliberately, with test/adversarial.
 */

export interface SenderOptions {
  policy: TargetPolicy;
  /** Host name lookups; by default the system's DNS servers, with a 5 s deadline. */
  names?: NameLookups;
  maxResponseBytes: number;
  userAgent?: string;
}

/** What a send is on behalf of. */
export interface SendOptions {
  /** The task's project: its host name lookups wait in that project's turns, and its own inbox may be reached. */
  projectId?: string;
  /** Whether `reserve` was called for this request. */
  reserved?: boolean;
}

/** How long a connection opened ahead of its request waits to be taken (far longer than the dispatcher's lead). */
const WARM_KEEP_MS = 2_000;

/** undici's connect options for the origin of `url` (an IPv6 host without its brackets, as undici gives it). */
function connectOptionsOf(url: URL): { protocol: string; hostname: string; host: string; port: string } {
  const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  return { protocol: url.protocol, hostname, host: url.host, port: url.port };
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

  /** Waits `ms`, or less if cancelled meanwhile. */
  pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.off('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.once('abort', done);
    });
  }
}

export interface Sender {
  /**
   * This request will be sent soon (a task claimed ahead of its due time): opens a connection to
   * its target now unless one will be free then (warm-connections.ts). Best effort, never throws.
   * Answers whether it was counted: the send that follows then says `reserved`.
   */
  reserve(request: OpenedRequest, options?: SendOptions): boolean;
  send(
    request: OpenedRequest,
    extraHeaders: Record<string, string>,
    timeoutMs: number,
    cancellation?: Cancellation,
    options?: SendOptions,
  ): Promise<AttemptOutcome>;
  close(): Promise<void>;
}

export const USER_AGENT = 'Kuueri-Tasks';

/** The exact bytes an attempt sends as its body (what a signature covers): none with DELETE and GET. */
export function sentBody(request: OpenedRequest): Buffer | undefined {
  return request.method !== 'DELETE' && request.method !== 'GET' ? request.body : undefined;
}

export function createHttpSender(options: SenderOptions): Sender {
  const { policy } = options;
  const names = options.names ?? new NameLookups(systemAddresses({ servers: [], timeoutMs: 5_000 }));
  const agentOptions = {
    // No cap on connections per origin: the dispatcher's host share bounds the attempts one host
    // holds, and tasks beyond it wait in the store, where waiting neither uses their timeout nor
    // an attempt (a request queued here would).
    // An idle socket is closed after 4 s, or after the target's own keep-alive hint up to 10 s:
    // a target cannot have the server hold its sockets open for long.
    keepAliveTimeout: 4_000,
    keepAliveMaxTimeout: 10_000,
    // The attempt's own timer (below) bounds every exchange; undici's must never cut one shorter
    // (their default is 300 s; a task may wait up to 600 s), and per-request values cost a timer each.
    headersTimeout: LIMITS.timeoutMax + 1_000,
    bodyTimeout: LIMITS.timeoutMax + 1_000,
  };
  const warm = new WarmConnections(guardedConnector(policy, names), WARM_KEEP_MS, connectPort);
  const agent = new Agent({ connect: warm.connector, ...agentOptions });
  // Deliveries to a task's own inbox on this server, the one place of it a task may reach.
  const inboxAgent = new Agent({ connect: ownEndpointConnector(policy), ...agentOptions });
  const userAgent = options.userAgent ?? USER_AGENT;

  return {
    reserve(request, sendOptions = {}) {
      let url: URL;
      try {
        url = new URL(request.url);
      } catch {
        return false; // the send reports it
      }
      if (sendOptions.projectId !== undefined && policy.ownInbox(url, sendOptions.projectId)) return false;
      const options = connectOptionsOf(url);
      if (!warm.reserve(options)) return true;
      // A name is looked up in its project's turns first, as a send does.
      if (isIpLiteral(url.hostname)) warm.openAhead(options);
      else
        names.lookup(url.hostname, sendOptions.projectId).then(
          () => warm.openAhead(options),
          () => warm.abandon(options),
        );
      return true;
    },
    async send(request, extraHeaders, timeoutMs, cancellation, sendOptions = {}) {
      const url = new URL(request.url);
      for (const [key, value] of Object.entries(request.params ?? {})) url.searchParams.append(key, value);
      const headers: Record<string, string> = {};
      let hasContentType = false;
      for (const [name, value] of Object.entries(request.headers ?? {})) {
        const lower = name.toLowerCase();
        // The server's own (a task stored before they were refused at subscribe may hold one).
        if (lower === 'user-agent' || SIGNATURE_HEADERS.has(lower)) continue;
        if (lower === 'content-type') hasContentType = true;
        headers[name] = value;
      }
      headers['User-Agent'] = userAgent;
      Object.assign(headers, extraHeaders);
      const body = sentBody(request);
      if (body && !hasContentType) headers['Content-Type'] = 'application/octet-stream';

      const toInbox = sendOptions.projectId !== undefined && policy.ownInbox(url, sendOptions.projectId);
      const through = toInbox ? inboxAgent : agent;
      const origin = toInbox ? null : connectOptionsOf(url);
      if (origin) warm.started(origin, sendOptions.reserved === true);
      return new Promise<AttemptOutcome>((done) => {
        const resolve = (outcome: AttemptOutcome): void => {
          if (origin) warm.ended(origin);
          done(outcome);
        };
        const attempt = new Attempt(resolve, timeoutMs, options.maxResponseBytes, cancellation);
        const dispatch = (): void =>
          attempt.begin(() =>
            through.dispatch({ origin: url.origin, path: url.pathname + url.search, method: request.method, headers, body }, attempt),
          );
        if (isIpLiteral(url.hostname)) {
          dispatch();
          return;
        }
        names
          .lookup(url.hostname, sendOptions.projectId)
          .then((addresses) => {
            allowedAddresses(policy, url.hostname, portOf(url), addresses);
            dispatch();
          })
          .catch((error: unknown) => attempt.onError(error instanceof Error ? error : new Error(String(error))));
      });
    },
    async close() {
      warm.close();
      names.close();
      await Promise.all([agent.close(), inboxAgent.close()]);
    },
  };
}

/** Requests at once in the warm-up: enough for the pool to open several connections, as a burst of deliveries does. */
const WARM_UP_REQUESTS = 8;

/**
 * Sends a few requests at once to a throw-away server on 127.0.0.1, through a sender like the
 * dispatcher's (its own agent, allowed only that address), with a body and signature-sized headers.
 * The code of a delivery runs for the first time here rather than in the first burst of tasks due
 * after a start: undici compiles its HTTP parser (WebAssembly) synchronously on the first
 * connection, and the connector, the pool and the attempt's handler are compiled on first use, all
 * while the event loop stands still. Failing to warm up is harmless; it only costs that delay later.
 */
export async function warmUpHttpClient(): Promise<void> {
  const server = createServer((request, response) => {
    request.resume();
    request.on('end', () => response.end('ok'));
  });
  let sender: Sender | null = null;
  try {
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/warm-up`;
    sender = createHttpSender({ policy: createTargetPolicy(parseTargetList(['127.0.0.1'])), maxResponseBytes: 1_024 });
    const headers = { 'webhook-id': 'warm-up', 'webhook-timestamp': '0', 'webhook-signature': `v1,${'A'.repeat(44)}` };
    const body = Buffer.from('{}');
    const sends = Array.from({ length: WARM_UP_REQUESTS }, () => sender!.send({ url, method: 'POST', body }, headers, 2_000));
    await Promise.all(sends);
  } catch {
    // e.g. no loopback interface: the first attempts compile all this instead
  } finally {
    await sender?.close().catch(() => undefined);
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

const RETRY_AFTER = 'retry-after';
const STOP_RETRY = STOP_RETRY_HEADER.toLowerCase();

/** Why an attempt stopped reading an answer whose status it already had. */
const ENOUGH_READ = new Error('answer longer than the bytes read of it');

/**
 * One attempt as an undici dispatch handler. The status is the outcome, with the two headers the
 * retry rules read (Retry-After, the stop header); of the body, the first ATTEMPT_LOG.excerptBytes
 * are kept for the attempt log, and the rest is counted, not kept, up to `maxBytes` (then the
 * connection is closed), which spares the response stream,
 * header parsing and promise plumbing of `request()` on every attempt. One timer bounds the whole
 * exchange: connecting, the answer's head and its body. A body still arriving when the time is up
 * makes the attempt a timeout.
 */
class Attempt {
  private abort: ((reason: Error) => void) | null = null;
  /** Whether the request was handed to undici (before, the name is being looked up). */
  private begun = false;
  /** Why this side stopped the exchange (timeout, cancellation, enough read); null while it runs. */
  private stoppedBy: Error | null = null;
  private statusCode = 0;
  private retryAfter: string | undefined;
  private stopRetry = false;
  /** The answer's first bytes, as they came (chunks copied: undici may reuse its buffers). */
  private excerpt: Buffer[] = [];
  private received = 0;
  private timedOut = false;
  private done = false;
  private readonly timer: NodeJS.Timeout;
  private readonly onCancel: () => void;

  constructor(
    private readonly resolve: (outcome: AttemptOutcome) => void,
    private readonly timeoutMs: number,
    private readonly maxBytes: number,
    private readonly cancellation: Cancellation | undefined,
  ) {
    this.timer = setTimeout(() => {
      this.timedOut = true;
      this.stop(new Error(`timeout after ${timeoutMs} ms`));
    }, timeoutMs);
    this.onCancel = () => this.stop(cancellation?.reason ?? new Error('attempt aborted'));
    if (cancellation?.aborted) this.onCancel();
    else cancellation?.once('abort', this.onCancel);
  }

  /** Hands the request to undici, unless the attempt already ended (timeout or cancellation during the lookup). */
  begin(dispatch: () => void): void {
    if (this.done) return;
    this.begun = true;
    try {
      dispatch();
    } catch (error) {
      this.onError(error instanceof Error ? error : new Error(String(error)));
    }
  }

  private stop(reason: Error): void {
    if (this.stoppedBy || this.done) return;
    this.stoppedBy = reason;
    // Still looking the name up: nothing to abort yet. Before the connection is made, onConnect aborts.
    if (this.begun) this.abort?.(reason);
    else this.onError(reason);
  }

  private finish(outcome: AttemptOutcome): void {
    if (this.done) return;
    this.done = true;
    clearTimeout(this.timer);
    this.cancellation?.off('abort', this.onCancel);
    this.resolve(outcome);
  }

  private byStatus(): AttemptOutcome {
    const outcome: AttemptOutcome = this.timedOut
      ? { ok: false, statusCode: this.statusCode, error: `timeout after ${this.timeoutMs} ms reading the answer`, errorClass: 'timeout' }
      : { ok: this.statusCode >= 200 && this.statusCode < 300, statusCode: this.statusCode };
    if (this.retryAfter !== undefined) outcome.retryAfter = this.retryAfter;
    if (this.stopRetry) outcome.stopRetry = true;
    if (this.excerpt.length > 0) outcome.excerpt = this.excerpt.length === 1 ? this.excerpt[0]! : Buffer.concat(this.excerpt);
    return outcome;
  }

  onConnect(abort: (reason: Error) => void): void {
    if (this.stoppedBy) abort(this.stoppedBy);
    else this.abort = abort;
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[] | string[] | null): boolean {
    if (statusCode < 200) return true; // a 1xx is not the answer
    this.statusCode = statusCode;
    // Raw name, value pairs; names compared by length first, so most are never turned into text.
    for (let i = 0; rawHeaders && i + 1 < rawHeaders.length; i += 2) {
      const length = rawHeaders[i]!.length;
      if (length !== RETRY_AFTER.length && length !== STOP_RETRY.length) continue;
      const name = rawHeaders[i]!.toString().toLowerCase();
      if (name === RETRY_AFTER) this.retryAfter = rawHeaders[i + 1]!.toString();
      else if (name === STOP_RETRY) this.stopRetry = rawHeaders[i + 1]!.toString().trim().toLowerCase() === 'true';
    }
    return true;
  }

  onData(chunk: Buffer): boolean {
    const room = ATTEMPT_LOG.excerptBytes - Math.min(this.received, ATTEMPT_LOG.excerptBytes);
    if (room > 0) this.excerpt.push(Buffer.from(chunk.length <= room ? chunk : chunk.subarray(0, room)));
    this.received += chunk.length;
    if (this.received > this.maxBytes) this.stop(ENOUGH_READ);
    return true;
  }

  onComplete(): void {
    this.finish(this.byStatus());
  }

  onError(error: Error): void {
    // With the status in hand, stopping early (enough read, cancelled) or a connection lost while
    // reading the body leaves the status as the outcome, as a timeout still makes it a timeout.
    if (this.statusCode > 0) this.finish(this.byStatus());
    else this.finish(failure(error, this.timedOut, this.timeoutMs));
  }
}

function failure(error: unknown, timedOut: boolean, timeoutMs: number): AttemptOutcome {
  if (error instanceof TargetRefusedError || (error as { cause?: unknown }).cause instanceof TargetRefusedError) {
    const refused = error instanceof TargetRefusedError ? error : (error as { cause: TargetRefusedError }).cause;
    return { ok: false, statusCode: 0, error: refused.message, errorClass: 'refused', permanent: true };
  }
  if (
    timedOut ||
    error instanceof undiciErrors.HeadersTimeoutError ||
    error instanceof undiciErrors.BodyTimeoutError ||
    error instanceof undiciErrors.ConnectTimeoutError
  ) {
    return { ok: false, statusCode: 0, error: `timeout after ${timeoutMs} ms`, errorClass: 'timeout' };
  }
  // undici 7 sets no code on parser errors, and reports a 1xx it did not expect (101, 100) as a
  // socket error: both mean the target did not speak HTTP as asked.
  if (error instanceof undiciErrors.HTTPParserError) {
    return { ok: false, statusCode: 0, error: `invalid HTTP response (${error.message})`, errorClass: 'protocol' };
  }
  if (error instanceof undiciErrors.SocketError && /^bad (upgrade|response)$/.test(error.message)) {
    return { ok: false, statusCode: 0, error: `invalid HTTP response (${error.message})`, errorClass: 'protocol' };
  }
  const code = (error as { code?: string }).code ?? '';
  const known: Record<string, [string, ErrorClass]> = {
    ECONNREFUSED: ['connection refused', 'connection'],
    ECONNRESET: ['connection reset by the target', 'connection'],
    UND_ERR_SOCKET: ['connection closed by the target', 'connection'],
    ENOTFOUND: ['host name not found', 'dns'],
    ENODATA: ['host name not found', 'dns'],
    EAI_AGAIN: ['host name lookup failed', 'dns'],
    ETIMEOUT: ['host name lookup timed out', 'dns'],
    ESERVFAIL: ['host name lookup failed', 'dns'],
    EREFUSED: ['host name lookup refused by the DNS server', 'dns'],
    [LOOKUPS_BUSY]: ['too many host name lookups of this project at once', 'dns'],
    EHOSTUNREACH: ['host unreachable', 'connection'],
    ENETUNREACH: ['network unreachable', 'connection'],
    UND_ERR_ABORTED: ['attempt aborted', 'aborted'],
    ABORT_ERR: ['attempt aborted', 'aborted'],
    HPE_INVALID_CONSTANT: ['invalid HTTP response', 'protocol'],
  };
  const described = known[code] ?? (code.startsWith('HPE_') ? (['invalid HTTP response', 'protocol'] as const) : null);
  const message = described?.[0] ?? (error instanceof Error ? error.message : String(error));
  return { ok: false, statusCode: 0, error: code ? `${message} (${code})` : message, errorClass: described?.[1] ?? 'other' };
}
