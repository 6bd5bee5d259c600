import ipaddr from 'ipaddr.js';
import type { Clock } from '../core/clock.js';
import { ClientWindows } from './client-windows.js';

/** What a throttle answers for one request: the figures for the x-ratelimit-* headers. */
export interface ThrottleAnswer {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Whole seconds until the client's window ends. */
  resetSeconds: number;
}

/**
 * At most `limit` requests per client address in each window. The client is its address, but an
 * IPv6 client is its /64: one host usually holds a whole /64, and could otherwise take a fresh
 * address for every request. An IPv4 address mapped into IPv6 counts as that IPv4 address.
 *
 * Synchronous and in memory, run from a callback hook: the rate-limit plugin this replaces cost
 * two async functions and a promise per request, ~2% of a subscribe (docs/performance.md).
 */
export class RequestThrottle {
  private readonly windows: ClientWindows;

  constructor(
    private readonly limit: number,
    windowMs: number,
    private readonly clock: Clock,
    maxClients = 100_000,
  ) {
    this.windows = new ClientWindows(windowMs, clock, maxClients);
  }

  /** Counts a request from `ip`. */
  take(ip: string): ThrottleAnswer {
    const now = this.clock.now();
    const window = this.windows.add(clientOf(ip), now);
    return {
      allowed: window.count <= this.limit,
      limit: this.limit,
      remaining: Math.max(0, this.limit - window.count),
      resetSeconds: Math.max(1, Math.ceil((window.resetAt - now) / 1000)),
    };
  }
}

/** The client an address belongs to, for counting: itself, or its /64 for IPv6. */
export function clientOf(ip: string): string {
  if (!ip.includes(':')) return ip;
  let address: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    address = ipaddr.parse(ip);
  } catch {
    return ip; // not an address (a test transport, a unix socket): counted as given
  }
  if (address.kind() === 'ipv4') return address.toString();
  const v6 = address as ipaddr.IPv6;
  if (v6.isIPv4MappedAddress()) return v6.toIPv4Address().toString();
  return `${v6.parts.slice(0, 4).map((part) => part.toString(16)).join(':')}::/64`;
}
