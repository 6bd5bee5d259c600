import type { Redis } from 'ioredis';
import type { Clock } from '../../core/clock.js';

/** How often the offset to Redis's clock is measured again: clocks drift apart by parts per million. */
export const CLOCK_SYNC_MS = 10_000;

/** Round trips per measurement; the shortest one is kept, as its midpoint is the least uncertain. */
const SAMPLES = 3;

interface Sample {
  /** Redis's time minus the local clock's, at the midpoint of the round trip. */
  offset: number;
  roundTrip: number;
}

/**
 * Time on a Redis store is Redis's: every server sharing it must agree on when a lease ends, when
 * a task is due and how long ago another server's heartbeat was, whatever its own machine's clock
 * says. A node whose clock ran ahead would otherwise take tasks whose leases other nodes still
 * hold and send them a second time; one whose clock ran behind would hand out leases that others
 * see as run out.
 *
 * Reading TIME for every timestamp would cost a round trip each, so this clock is the local clock
 * corrected by its offset to Redis's TIME: measured at open (the shortest of a few round trips,
 * taking its midpoint) and again every `syncMs`. A new measurement replaces the offset when it is
 * at least as precise (a round trip no longer), or when it differs by more than its own
 * uncertainty (half its round trip): a clock was stepped. Guarded by test/store/redis-clock.test.ts
 * and test/cluster/clock-skew.test.ts.
 */
export class RedisClock implements Clock {
  private offset = 0;
  private roundTrip = Infinity;
  private timer: NodeJS.Timeout | null = null;

  private constructor(
    private readonly client: Redis,
    private readonly local: Clock,
  ) {}

  /** Measures the offset once (a failure is the caller's), then keeps measuring every `syncMs`. */
  static async start(client: Redis, local: Clock, syncMs = CLOCK_SYNC_MS): Promise<RedisClock> {
    const clock = new RedisClock(client, local);
    await clock.sync();
    clock.timer = setInterval(() => {
      // Redis away: keep the last offset; clocks drift by milliseconds an hour, not seconds.
      clock.sync().catch(() => undefined);
    }, syncMs);
    clock.timer.unref();
    return clock;
  }

  now(): number {
    return this.local.now() + this.offset;
  }

  /** Redis's time minus the local clock's, in milliseconds (for the start-up log). */
  get offsetMs(): number {
    return this.offset;
  }

  async sync(): Promise<void> {
    let best: Sample | null = null;
    for (let i = 0; i < SAMPLES; i++) {
      const sample = await this.measure();
      if (!best || sample.roundTrip < best.roundTrip) best = sample;
    }
    if (!best) return;
    const moved = Math.abs(best.offset - this.offset);
    if (best.roundTrip <= this.roundTrip || moved > best.roundTrip / 2) {
      this.offset = best.offset;
      this.roundTrip = best.roundTrip;
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private async measure(): Promise<Sample> {
    const sent = this.local.now();
    const [seconds, micros] = await this.client.time();
    const received = this.local.now();
    const redisMs = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
    return { offset: Math.round(redisMs - (sent + received) / 2), roundTrip: received - sent };
  }
}
