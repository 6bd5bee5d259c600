import type { Redis } from 'ioredis';

/**
 * Lets the commands sent to one client during a turn of the event loop leave in one socket write
 * (cork now, uncork at the end of the turn): a write to loopback TCP costs more CPU than most
 * commands do. ioredis's auto-pipelining does the same but builds a Pipeline object
 * for every turn that sends anything; the garbage it left made timing on Redis miss its target.
 */
export class TurnWrites {
  /** The socket corked in this turn (a reconnect may replace the client's socket meanwhile). */
  private corked: Redis['stream'] | null = null;
  /** Sends of this turn's batches, made just before the held writes leave. */
  private flushes: (() => void)[] = [];

  constructor(private readonly client: Redis) {}

  /** Call before sending: holds the client's writes until the end of this turn, once per turn. */
  hold(): void {
    if (this.corked) return;
    const stream = this.client.stream;
    if (!stream?.writable) return;
    this.corked = stream;
    stream.cork();
    setImmediate(() => this.release());
  }

  /**
   * Sends what is held at the end of this tick instead. For a command sent from a setImmediate
   * callback (the dispatcher's claims): the end of the turn is then a whole turn of the event
   * loop away, since an immediate queued by an immediate runs in the next one.
   */
  sendSoon(): void {
    if (this.corked) process.nextTick(() => this.release());
  }

  /**
   * Runs `flush` (which sends a batch gathered during this turn) just before this turn's writes
   * leave, so the batch goes out in the same write; with nothing held, in the next check phase.
   */
  beforeRelease(flush: () => void): void {
    if (this.corked) this.flushes.push(flush);
    else setImmediate(flush);
  }

  private release(): void {
    const stream = this.corked;
    this.corked = null;
    const flushes = this.flushes;
    this.flushes = [];
    for (const flush of flushes) flush();
    stream?.uncork();
  }
}
