import { AddressLimit } from './client-windows.js';

/**
 * Counts failed authentications per client (`clientOf` its address) and blocks a client that fails
 * too often, for the rest of its window, before any credential is even looked at. Guessing tokens
 * is hopeless anyway (256 bits), but a client hammering with bad credentials should cost nothing
 * and learn nothing. The counts live in this process's memory, bounded in size; on several servers
 * each counts its own share.
 */
export class FailureThrottle extends AddressLimit {
  /** Milliseconds until `client` may try again, or 0 when it may now. */
  blockedFor(client: string): number {
    const now = this.clock.now();
    const window = this.peek(client, now);
    return window !== undefined && window.count >= this.limit ? window.resetAt - now : 0;
  }

  recordFailure(client: string): void {
    this.count(client, this.clock.now());
  }
}
