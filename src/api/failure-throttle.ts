import { ClientLimit } from './client-windows.js';

/**
 * Counts failed authentications per client (`clientOf` its address) and blocks a client that fails
 * too often, for the rest of its window. Guessing tokens is hopeless anyway (256 bits); what the
 * block stops is the cost of a client hammering with bad credentials: a blocked client's requests
 * cost no store read and learn nothing (429, whatever they send). The authenticator still lets a
 * valid token for a project it already holds through, so a misconfigured client cannot lock out a
 * working one behind the same address. The counts live in this process's memory, bounded in size;
 * on several servers each counts its own share.
 */
export class FailureThrottle extends ClientLimit {
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
