import { AddressLimit } from './client-windows.js';

/** What a throttle answers for one request: the figures for the x-ratelimit-* headers. */
export interface ThrottleAnswer {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Whole seconds until the client's window ends. */
  resetSeconds: number;
}

/**
 * At most `limit` requests per client (`clientOf` its address) in each window.
 *
 * Synchronous and in memory, run from a callback hook: the rate-limit plugin this replaces cost
 * two async functions and a promise per request, on the hottest path there is.
 */
export class RequestThrottle extends AddressLimit {
  /** Counts a request from `ip`. */
  take(ip: string): ThrottleAnswer {
    const now = this.clock.now();
    const window = this.count(ip, now);
    return {
      allowed: window.count <= this.limit,
      limit: this.limit,
      remaining: Math.max(0, this.limit - window.count),
      resetSeconds: Math.max(1, Math.ceil((window.resetAt - now) / 1000)),
    };
  }
}
