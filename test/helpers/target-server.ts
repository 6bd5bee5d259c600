/*
 * A real HTTP target on 127.0.0.1 that records every request it receives and answers as told: at
 * once, after a delay, never (`hang`, until the test answers the held requests), or by resetting
 * the connection. Tests wait on `waitForRequests(n)` (an event), never on fixed sleeps.
 */
import { EventEmitter } from 'node:events';
import { type IncomingHttpHeaders, type Server, type ServerResponse, createServer } from 'node:http';
import { type AddressInfo, type Socket, connect } from 'node:net';
import { type WaitOptions, waitFor } from './wait.js';

export interface RecordedRequest {
  method: string;
  /** Path and query, e.g. /hook?a=b */
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
  at: number;
}

export interface TargetAnswer {
  status?: number;
  body?: string;
  /** Answer after this many ms. */
  delayMs?: number;
  /** Hold the request open without answering, until `answerHeld` (or `close`, which drops it). */
  hang?: boolean;
  /** Destroy the connection without answering. */
  reset?: boolean;
  headers?: Record<string, string>;
}

export type TargetHandler = (request: RecordedRequest, index: number) => TargetAnswer;

export class TargetServer {
  readonly requests: RecordedRequest[] = [];
  private readonly events = new EventEmitter();
  private readonly held = new Set<ServerResponse>();
  private readonly sockets = new Set<Socket>();
  private handler: TargetHandler;

  private constructor(
    private readonly server: Server,
    handler: TargetHandler,
  ) {
    this.handler = handler;
    this.events.setMaxListeners(0);
  }

  static async start(handler: TargetHandler = () => ({ status: 200 })): Promise<TargetServer> {
    let target: TargetServer | null = null;
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => target?.handle(req.method ?? '', req.url ?? '', req.headers, Buffer.concat(chunks), res));
    });
    server.keepAliveTimeout = 30_000;
    target = new TargetServer(server, handler);
    const sockets = target.sockets;
    server.on('connection', (socket: Socket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return target;
  }

  /**
   * Waits until every connection made so far has closed (rejects after `timeoutMs`, 15 s unless
   * told). After a client process is killed, the kernel still delivers what it had written, and
   * this process may handle it later than the kill: a connection's data comes before its close, so
   * once its connections are closed, every request the dead process sent has been recorded. A
   * connection the kernel completed but this process has not accepted yet (a busy machine) waits
   * in the listen backlog, which is first in, first out: a probe connection of our own, once
   * accepted here, comes after all of them.
   */
  async waitForClosedConnections(options: WaitOptions = {}): Promise<void> {
    const allClosed = async (): Promise<void> => {
      await this.backlogDrained();
      const open = [...this.sockets].filter((socket) => !socket.closed);
      await Promise.all(open.map((socket) => new Promise((resolve) => socket.once('close', resolve))));
    };
    await waitFor(
      () => `every connection to the target to close (${[...this.sockets].filter((s) => !s.closed).length} open)`,
      allClosed(),
      options,
    );
  }

  /** Resolves once a probe connection made now was accepted here (and closed again). */
  private backlogDrained(): Promise<true> {
    return new Promise((resolve, reject) => {
      const probe = connect((this.server.address() as AddressInfo).port, '127.0.0.1');
      const onConnection = (socket: Socket): void => {
        if (socket.remotePort !== probe.localPort) return;
        this.server.off('connection', onConnection);
        probe.destroy();
        socket.destroy();
        resolve(true);
      };
      this.server.on('connection', onConnection);
      probe.once('error', (error) => {
        this.server.off('connection', onConnection);
        reject(error);
      });
    });
  }

  private handle(method: string, url: string, headers: IncomingHttpHeaders, body: Buffer, res: ServerResponse): void {
    const recorded: RecordedRequest = { method, url, headers, body, at: Date.now() };
    const index = this.requests.length;
    this.requests.push(recorded);
    let answer: TargetAnswer;
    try {
      answer = this.handler(recorded, index);
    } catch {
      answer = { status: 500 };
    }
    this.events.emit('request', recorded);
    const send = (): void => {
      if (answer.reset) {
        res.socket?.destroy();
        return;
      }
      if (answer.hang) {
        this.held.add(res);
        res.once('close', () => this.held.delete(res));
        return;
      }
      res.writeHead(answer.status ?? 200, { 'content-type': 'text/plain', ...answer.headers });
      res.end(answer.body ?? 'ok');
    };
    if (answer.delayMs) setTimeout(send, answer.delayMs);
    else send();
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  url(path = '/hook'): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  respond(handler: TargetHandler): void {
    this.handler = handler;
  }

  /** Requests received on `path` (the path part of the URL, query excluded). */
  requestsOn(path: string): RecordedRequest[] {
    return this.requests.filter((r) => r.url.split('?')[0] === path);
  }

  /**
   * Resolves once `count` requests have arrived in all (or on `path`, when given) with those
   * requests; rejects after `timeoutMs` (default 15 s) saying how many did.
   */
  waitForRequests(count: number, options: { path?: string; timeoutMs?: number } = {}): Promise<RecordedRequest[]> {
    const { path, timeoutMs = 15_000 } = options;
    const seen = (): RecordedRequest[] => (path === undefined ? this.requests.slice() : this.requestsOn(path));
    if (seen().length >= count) return Promise.resolve(seen());
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.events.off('request', listener);
        reject(
          new Error(
            `target got ${seen().length} requests${path === undefined ? '' : ` on ${path}`}, expected ${count} within ${timeoutMs} ms`,
          ),
        );
      }, timeoutMs);
      const listener = (): void => {
        const requests = seen();
        if (requests.length >= count) {
          clearTimeout(timer);
          this.events.off('request', listener);
          resolve(requests);
        }
      };
      this.events.on('request', listener);
    });
  }

  /** Requests held open right now (answered `hang`, the connection still open). */
  get heldCount(): number {
    return this.held.size;
  }

  /** Answers every held request with `status`; answers how many were still open. */
  answerHeld(status = 200): number {
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

/** The attempt headers of a delivery, as the target saw them. */
export function attemptHeadersOf(request: RecordedRequest): Record<string, string | undefined> {
  const one = (name: string): string | undefined => {
    const v = request.headers[name];
    return Array.isArray(v) ? v.join(',') : v;
  };
  return {
    queue: one('x-kuueri-tasks-queue'),
    retryCount: one('x-kuueri-tasks-retry-count'),
    currentlyRetry: one('x-kuueri-tasks-currently-retry'),
    repeatCount: one('x-kuueri-tasks-repeat-count'),
    currentlyRepeat: one('x-kuueri-tasks-currently-repeat'),
  };
}
