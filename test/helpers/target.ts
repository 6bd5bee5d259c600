import { EventEmitter } from 'node:events';
import { type IncomingHttpHeaders, type Server, type ServerResponse, createServer } from 'node:http';
import { type AddressInfo, type Socket, connect } from 'node:net';

/**
 * A real HTTP target on 127.0.0.1 that records every request it receives and answers as told.
 * Tests wait on `waitFor(n)` (an event), never on fixed sleeps.
 */
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
  /** Never answer (the socket is closed when the target closes). */
  hang?: boolean;
  /** Destroy the connection without answering. */
  reset?: boolean;
  headers?: Record<string, string>;
}

export type TargetHandler = (request: RecordedRequest, index: number) => TargetAnswer;

export class TargetServer {
  readonly requests: RecordedRequest[] = [];
  private readonly events = new EventEmitter();
  private readonly hanging = new Set<ServerResponse>();
  private readonly sockets = new Set<Socket>();
  private handler: TargetHandler;

  private constructor(private readonly server: Server, handler: TargetHandler) {
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
   * Waits until every connection made so far has closed, up to `timeoutMs` (answers whether they
   * all did). After a client process is killed, the kernel still delivers what it had written, and
   * this process may handle it later than the kill: a connection's data comes before its close, so
   * once its connections are closed, every request the dead process sent has been recorded. A
   * connection the kernel completed but this process has not accepted yet (a busy machine) waits
   * in the listen backlog, which is first in, first out: a probe connection of our own, once
   * accepted here, comes after all of them.
   */
  async connectionsClosed(timeoutMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
    try {
      if (!(await Promise.race([this.backlogDrained(), timedOut]))) return false;
      const open = [...this.sockets].filter((socket) => !socket.closed);
      const closed = Promise.all(open.map((socket) => new Promise((resolve) => socket.once('close', resolve)))).then(() => true);
      return await Promise.race([closed, timedOut]);
    } finally {
      clearTimeout(timer);
    }
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
        this.hanging.add(res);
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

  /** Resolves once `count` requests have arrived in all; rejects after `timeoutMs` saying how many did. */
  waitFor(count: number, timeoutMs = 15_000): Promise<RecordedRequest[]> {
    if (this.requests.length >= count) return Promise.resolve(this.requests.slice());
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.events.off('request', listener);
        reject(new Error(`target got ${this.requests.length} requests, expected ${count} within ${timeoutMs} ms`));
      }, timeoutMs);
      const listener = (): void => {
        if (this.requests.length >= count) {
          clearTimeout(timer);
          this.events.off('request', listener);
          resolve(this.requests.slice());
        }
      };
      this.events.on('request', listener);
    });
  }

  async close(): Promise<void> {
    for (const res of this.hanging) res.socket?.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
