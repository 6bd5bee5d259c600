import type { Clock } from '../core/clock.js';

/**
 * Counts failed authentications per client address and blocks an address that fails too often,
 * for the rest of its window, before any credential is even looked at. Guessing tokens is
 * hopeless anyway (256 bits), but a client hammering with bad credentials should cost nothing and
 * learn nothing. The counts live in this process's memory, bounded in size; on several servers
 * each counts its own share.
 */
export class FailureThrottle {
  private readonly counts = new Map<string, { failures: number; resetAt: number }>();

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
    private readonly clock: Clock,
    private readonly maxClients = 100_000,
  ) {}

  /** Milliseconds until `client` may try again, or 0 when it may now. */
  blockedFor(client: string): number {
    const entry = this.counts.get(client);
    if (!entry) return 0;
    const now = this.clock.now();
    if (entry.resetAt <= now) {
      this.counts.delete(client);
      return 0;
    }
    return entry.failures >= this.limit ? entry.resetAt - now : 0;
  }

  recordFailure(client: string): void {
    const now = this.clock.now();
    const entry = this.counts.get(client);
    if (entry && entry.resetAt > now) {
      entry.failures++;
      return;
    }
    if (this.counts.size >= this.maxClients) {
      // Drop the oldest entry: insertion order is a fair stand-in for age here.
      this.counts.delete(this.counts.keys().next().value as string);
    }
    this.counts.set(client, { failures: 1, resetAt: now + this.windowMs });
  }
}
