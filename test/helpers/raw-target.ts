/*
 * Misbehaving HTTP targets built on raw `node:net` sockets, for what node:http will not do: answer
 * half a status line and reset, trickle bytes, send garbage, flood a body. Every connection is
 * recorded (the request heads it carried, what the target managed to write, how it ended) so tests
 * wait on events, never on fixed sleeps.
 */
import { EventEmitter } from 'node:events';
import { type AddressInfo, type Server, type Socket, createServer } from 'node:net';
import { holdFor } from './wait.js';

export interface RawRequest {
  method: string;
  path: string;
  /** Header names lower-cased. */
  headers: Record<string, string>;
  /** 0 for the first request the target received, across connections. */
  index: number;
  connection: RawConnection;
}

/** One TCP connection the target accepted. */
export class RawConnection {
  /** Bytes the target wrote that the kernel accepted (write callbacks without error). */
  written = 0;
  /** The behaviour wrote everything it meant to write. */
  completed = false;
  /** The peer (the tasks server) closed or reset the connection before the target was done. */
  closedByPeer = false;
  /** The socket is closed. */
  closed = false;
  /** The error the target's socket saw (ECONNRESET/EPIPE: the peer closed with data left unread). */
  peerError: string | null = null;
  readonly closedPromise: Promise<void>;
  private markClosed!: () => void;

  constructor(readonly socket: Socket) {
    this.closedPromise = new Promise((resolve) => (this.markClosed = resolve));
    socket.once('close', () => {
      this.closed = true;
      this.markClosed();
    });
  }

  /** Writes `data` and counts it once the kernel took it; false when the socket is gone. */
  write(data: Buffer | string): Promise<boolean> {
    const socket = this.socket;
    if (socket.destroyed || !socket.writable) return Promise.resolve(false);
    const bytes = typeof data === 'string' ? Buffer.from(data, 'latin1') : data;
    return new Promise((resolve) => {
      socket.write(bytes, (error) => {
        if (error) {
          resolve(false);
          return;
        }
        this.written += bytes.length;
        resolve(true);
      });
    });
  }
}

export type RawBehavior = (request: RawRequest, conn: RawConnection) => void | Promise<void>;

export class RawTarget {
  readonly requests: RawRequest[] = [];
  readonly connections: RawConnection[] = [];
  private readonly events = new EventEmitter();

  private constructor(
    private readonly server: Server,
    private behavior: RawBehavior,
  ) {
    this.events.setMaxListeners(0);
  }

  static async start(behavior: RawBehavior): Promise<RawTarget> {
    let target: RawTarget | null = null;
    const server = createServer((socket) => target?.accept(socket));
    target = new RawTarget(server, behavior);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return target;
  }

  private accept(socket: Socket): void {
    const conn = new RawConnection(socket);
    this.connections.push(conn);
    socket.on('error', (error: NodeJS.ErrnoException) => {
      conn.closedByPeer = true;
      conn.peerError ??= error.code ?? error.message;
    });
    socket.on('end', () => {
      conn.closedByPeer = true;
    });
    let buffered = Buffer.alloc(0);
    let bodyLeft = 0;
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      for (;;) {
        if (bodyLeft > 0) {
          const take = Math.min(bodyLeft, buffered.length);
          bodyLeft -= take;
          buffered = buffered.subarray(take);
          if (bodyLeft > 0) return;
        }
        const end = buffered.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buffered.subarray(0, end).toString('latin1');
        buffered = buffered.subarray(end + 4);
        const [requestLine = '', ...lines] = head.split('\r\n');
        const [method = '', path = ''] = requestLine.split(' ');
        const headers: Record<string, string> = {};
        for (const line of lines) {
          const colon = line.indexOf(':');
          if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
        }
        bodyLeft = Number(headers['content-length'] ?? 0) || 0;
        const request: RawRequest = { method, path, headers, index: this.requests.length, connection: conn };
        this.requests.push(request);
        this.events.emit('request');
        void Promise.resolve()
          .then(() => this.behavior(request, conn))
          .catch(() => socket.destroy());
      }
    });
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  url(path = '/hook'): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  respond(behavior: RawBehavior): void {
    this.behavior = behavior;
  }

  /** Resolves once `count` request heads have arrived in all; rejects after `timeoutMs` (default 15 s). */
  waitForRequests(count: number, options: { timeoutMs?: number } = {}): Promise<RawRequest[]> {
    const { timeoutMs = 15_000 } = options;
    if (this.requests.length >= count) return Promise.resolve(this.requests.slice());
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.events.off('request', listener);
        reject(new Error(`raw target got ${this.requests.length} requests, expected ${count} within ${timeoutMs} ms`));
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
    for (const conn of this.connections) conn.socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** Writes `bytes`, then ends the connection the way `then` says (or leaves it open: 'hang'). */
export function answerRaw(bytes: string | Buffer, then: 'end' | 'destroy' | 'reset' | 'hang' = 'end', pauseMs = 0): RawBehavior {
  return async (_request, conn) => {
    if (bytes.length > 0 && !(await conn.write(bytes))) return;
    // A pause lets the peer take the bytes before the connection ends (a reset that arrives with
    // the data reads as a plain close on the other side); the peer's reading shows nowhere here.
    if (pauseMs > 0) await holdFor(pauseMs, 'the peer reads the bytes before the connection ends');
    conn.completed = true;
    if (then === 'end') conn.socket.end();
    else if (then === 'destroy') conn.socket.destroy();
    else if (then === 'reset') conn.socket.resetAndDestroy();
  };
}

/** Reads the request and never says a word. */
export const silent: RawBehavior = () => undefined;

/** Writes `bytes` one byte every `everyMs`; stops when the peer goes away. */
export function trickle(bytes: string, everyMs: number): RawBehavior {
  return async (_request, conn) => {
    for (const byte of Buffer.from(bytes, 'latin1')) {
      if (conn.closed || conn.closedByPeer) return;
      if (!(await conn.write(Buffer.from([byte])))) return;
      await holdFor(everyMs, 'a trickle: one byte at a time, slowly');
    }
    conn.completed = true;
    conn.socket.end();
  };
}

/**
 * Writes `head`, then `totalBytes` of body in 64 KiB chunks as fast as the peer takes them, and
 * stops as soon as the peer goes away. `completed` tells whether all of it was taken.
 */
export function flood(head: string, totalBytes: number): RawBehavior {
  const chunk = Buffer.alloc(64 * 1024, 'x');
  return async (_request, conn) => {
    if (!(await conn.write(head))) return;
    let left = totalBytes;
    while (left > 0) {
      if (conn.closed || conn.closedByPeer) return;
      const piece = left >= chunk.length ? chunk : chunk.subarray(0, left);
      const writable = conn.socket.write(piece, (error) => {
        if (!error) conn.written += piece.length;
      });
      left -= piece.length;
      if (!writable) {
        const drained = await new Promise<boolean>((resolve) => {
          const onDrain = (): void => {
            conn.socket.off('close', onClose);
            resolve(true);
          };
          const onClose = (): void => {
            conn.socket.off('drain', onDrain);
            resolve(false);
          };
          conn.socket.once('drain', onDrain);
          conn.socket.once('close', onClose);
        });
        if (!drained) return;
      }
    }
    conn.completed = true;
    conn.socket.end();
  };
}
