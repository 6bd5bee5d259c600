import type { Socket } from 'node:net';
import type { buildConnector } from 'undici';

/*
 * Connections opened ahead of the requests that will need them. The dispatcher claims tasks a
 * little before they are due (its aheadMs); for each, the sender asks here for a connection to its
 * origin, and one is opened unless the origin already has one that will be free by then. When the
 * task is sent, undici asks its connector for a connection and gets the one opened ahead, so the
 * handshake (and TLS's) is not paid at the due time. That matters for a burst due at one instant
 * and for a schedule whose target's idle connection was closed since its last run.
 *
 * Counted per origin: the sockets open (made through this connector, until they close), the
 * requests in flight (the sender tells) and the reservations (asked for, not yet sent). Free at the
 * due time = open − in flight − reserved; below zero, one more is opened. A socket opened ahead and
 * not taken within `keepMs` is closed. Sockets are opened by the same connector as any other, so
 * the target guard judges them alike; a failure is left for the attempt itself to meet.
 */

type Connect = buildConnector.connector;
type ConnectOptions = buildConnector.Options;

interface Origin {
  open: number;
  connecting: number;
  inFlight: number;
  reserved: number;
  /** Opened ahead, not yet taken by undici, latest last. */
  ready: { socket: Socket; timer: NodeJS.Timeout }[];
}

/** The key of an origin as undici's connect options and a URL name it alike. */
function originKey(protocol: string, hostname: string, port: number): string {
  return `${protocol}//${hostname}:${port}`;
}

export class WarmConnections {
  private readonly origins = new Map<string, Origin>();

  constructor(
    private readonly connect: Connect,
    /** How long a socket opened ahead waits to be taken before it is closed. */
    private readonly keepMs: number,
    /** The port undici connects to for these options (the origin's, or its scheme's). */
    private readonly portOf: (options: ConnectOptions) => number,
  ) {}

  /** The connector to give undici: a socket opened ahead for the origin if there is one, else a new one. */
  readonly connector: Connect = (options, callback) => {
    const key = this.keyOf(options);
    const origin = this.origin(key);
    for (let ahead = origin.ready.pop(); ahead; ahead = origin.ready.pop()) {
      clearTimeout(ahead.timer);
      if (!ahead.socket.destroyed) {
        // Never from within undici's connect call: its client is not ready for the answer yet.
        const { socket } = ahead;
        queueMicrotask(() => callback(null, socket));
        return;
      }
    }
    origin.connecting++;
    this.dial(key, origin, options, callback);
  };

  /**
   * A request to this origin will be sent soon (then `started` with `reserved`). Answers whether a
   * connection is to be opened ahead for it, none being free by then: the caller then calls
   * `openAhead` (or `abandon`, when it cannot), and the burst's next reservations count it coming.
   * `options` are the connect options undici would pass.
   */
  reserve(options: ConnectOptions): boolean {
    const origin = this.origin(this.keyOf(options));
    origin.reserved++;
    if (origin.open + origin.connecting >= origin.inFlight + origin.reserved) return false;
    origin.connecting++;
    return true;
  }

  /** Opens the connection `reserve` asked for and keeps it for undici's next connect to the origin. */
  openAhead(options: ConnectOptions): void {
    const key = this.keyOf(options);
    const origin = this.origin(key);
    this.dial(key, origin, options, (error, socket) => {
      if (error || !socket) return; // the attempt meets the failure itself
      const entry = { socket, timer: setTimeout(() => this.drop(key, socket), this.keepMs) };
      entry.timer.unref();
      origin.ready.push(entry);
    });
  }

  /** The connection `reserve` asked for will not be opened (its name could not be looked up). */
  abandon(options: ConnectOptions): void {
    const key = this.keyOf(options);
    const origin = this.origin(key);
    origin.connecting--;
    this.forgetIfIdle(key, origin);
  }

  /** A request to this origin starts (`reserved`: `reserve` counted it). */
  started(options: ConnectOptions, reserved: boolean): void {
    const origin = this.origin(this.keyOf(options));
    origin.inFlight++;
    if (reserved && origin.reserved > 0) origin.reserved--;
  }

  /** A request to this origin ended. */
  ended(options: ConnectOptions): void {
    const key = this.keyOf(options);
    const origin = this.origins.get(key);
    if (!origin) return;
    origin.inFlight--;
    this.forgetIfIdle(key, origin);
  }

  /** Closes the sockets opened ahead and not taken. */
  close(): void {
    for (const origin of this.origins.values()) {
      for (const { socket, timer } of origin.ready.splice(0)) {
        clearTimeout(timer);
        socket.destroy();
      }
    }
  }

  private origin(key: string): Origin {
    let origin = this.origins.get(key);
    if (!origin) {
      origin = { open: 0, connecting: 0, inFlight: 0, reserved: 0, ready: [] };
      this.origins.set(key, origin);
    }
    return origin;
  }

  private keyOf(options: ConnectOptions): string {
    return originKey(options.protocol, options.hostname, this.portOf(options));
  }

  /** Connects; `connecting` was counted by the caller. */
  private dial(key: string, origin: Origin, options: ConnectOptions, callback: Parameters<Connect>[1]): void {
    this.connect(options, (error, socket) => {
      origin.connecting--;
      if (error || !socket) {
        this.forgetIfIdle(key, origin);
        callback(error ?? new Error('no socket'), null);
        return;
      }
      origin.open++;
      socket.once('close', () => {
        origin.open--;
        this.forgetIfIdle(key, origin);
      });
      callback(null, socket);
    });
  }

  private drop(key: string, socket: Socket): void {
    const origin = this.origins.get(key);
    if (origin) origin.ready = origin.ready.filter((entry) => entry.socket !== socket);
    socket.destroy();
  }

  /** An origin with nothing open, coming or reserved is forgotten: the map holds only origins in use. */
  private forgetIfIdle(key: string, origin: Origin): void {
    if (origin.open + origin.connecting + origin.inFlight + origin.reserved === 0) this.origins.delete(key);
  }
}
