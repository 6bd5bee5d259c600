import ipaddr from 'ipaddr.js';
import type { Clock } from '../core/clock.js';
import { remembered } from '../core/remembered.js';

/** A client's count in its current window, and when that window ends (ms since the epoch). */
export interface ClientWindow {
  count: number;
  resetAt: number;
}

/**
 * Counts events per client in fixed windows, each starting at the client's first event after the
 * last one ended. Held in this process's memory and bounded: past `maxClients`, the client that
 * first got its window is dropped (insertion order is a fair stand-in for age here).
 */
export class ClientWindows {
  private readonly windows = new Map<string, ClientWindow>();

  constructor(
    private readonly windowMs: number,
    private readonly clock: Clock,
    private readonly maxClients = 100_000,
  ) {}

  /** The client's window, or undefined when it has none running. */
  current(client: string, now = this.clock.now()): ClientWindow | undefined {
    const window = this.windows.get(client);
    if (window === undefined) return undefined;
    if (window.resetAt > now) return window;
    this.windows.delete(client);
    return undefined;
  }

  /** Counts one event of the client; answers its window with the event counted. */
  add(client: string, now = this.clock.now()): ClientWindow {
    const window = this.current(client, now);
    if (window) {
      window.count++;
      return window;
    }
    if (this.windows.size >= this.maxClients) this.windows.delete(this.windows.keys().next().value as string);
    const fresh = { count: 1, resetAt: now + this.windowMs };
    this.windows.set(client, fresh);
    return fresh;
  }
}

/**
 * The client an address belongs to, for counting: the address, but an IPv6 client is its /64 (one
 * host usually holds a whole /64, and could otherwise take a fresh address for every request), and
 * an IPv4 address mapped into IPv6 is that IPv4 address.
 */
export function clientOf(ip: string): string {
  return ip.includes(':') ? knownIpv6Client(ip) : ip;
}

// Both throttles ask for every request, and parsing an IPv6 address costs more than the rest of
// the throttle: an address seen before is answered from memory.
const knownIpv6Client = remembered(ipv6Client, 10_000);

function ipv6Client(ip: string): string {
  let address: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    address = ipaddr.parse(ip);
  } catch {
    return ip; // not an address (a test transport, a unix socket): counted as given
  }
  if (address.kind() === 'ipv4') return address.toString();
  const v6 = address as ipaddr.IPv6;
  if (v6.isIPv4MappedAddress()) return v6.toIPv4Address().toString();
  return `${v6.parts
    .slice(0, 4)
    .map((part) => part.toString(16))
    .join(':')}::/64`;
}

/**
 * A limit of events per client and window: what the throttles share. A client is `clientOf` an
 * address unless `clientKey` says otherwise (a project id is its own client).
 */
export abstract class ClientLimit {
  private readonly windows: ClientWindows;

  constructor(
    protected readonly limit: number,
    windowMs: number,
    protected readonly clock: Clock,
    private readonly clientKey: (key: string) => string = clientOf,
    maxClients = 100_000,
  ) {
    this.windows = new ClientWindows(windowMs, clock, maxClients);
  }

  /** Counts one event for `key`; answers its client's window with the event counted. */
  protected count(key: string, now: number): ClientWindow {
    return this.windows.add(this.clientKey(key), now);
  }

  /** The window of `key`'s client, without counting anything. */
  protected peek(key: string, now: number): ClientWindow | undefined {
    return this.windows.current(this.clientKey(key), now);
  }
}

/** The key as it is: for clients that are not addresses (projects). */
export const asGiven = (key: string): string => key;
