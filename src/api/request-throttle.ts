import { ClientLimit } from './client-windows.js';

/** What a throttle answers for one request: the figures for the x-ratelimit-* headers. */
export interface ThrottleAnswer {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Whole seconds until the client's window ends. */
  resetSeconds: number;
}

/**
 * At most `limit` requests per client in each window: per address (`clientOf`) for registrations,
 * per project (`asGiven` its id) for the authenticated routes.
 *
 * Synchronous and in memory, run from a callback hook: the rate-limit plugin this replaces cost
 * two async functions and a promise per request, on the hottest path there is.
 */
export class RequestThrottle extends ClientLimit {
  /** Counts a request of `client` (an address, or a project id). */
  take(client: string): ThrottleAnswer {
    const now = this.clock.now();
    const window = this.count(client, now);
    return {
      allowed: window.count <= this.limit,
      limit: this.limit,
      remaining: Math.max(0, this.limit - window.count),
      resetSeconds: Math.max(1, Math.ceil((window.resetAt - now) / 1000)),
    };
  }
}
