import ipaddr from 'ipaddr.js';
import { remembered } from './remembered.js';

/**
 * Which target addresses a task may reach. Only globally routable unicast addresses are allowed:
 * loopback, private, link-local (cloud metadata lives there), unique-local, carrier-grade NAT,
 * unspecified, multicast, reserved and IPv6 forms that embed an IPv4 address are refused, unless an
 * operator exempts them with `TASKS_ALLOW_TARGETS` (CIDRs, addresses or host names).
 *
 * A literal address is judged at subscribe time; a host name is judged at dispatch, on the address
 * it resolves to (see dispatch/target-guard.ts), so DNS cannot be used to reach what is refused here.
 */
export interface TargetPolicy {
  /** Why `address` may not be reached, or null when it may. */
  refuseAddress(address: string): string | null;
  /** True when `hostname` itself was exempted by name. */
  isHostExempt(hostname: string): boolean;
  /** For a URL's host: the refusal of a literal address or a well-known loopback name, or null. */
  refuseLiteralHost(hostname: string): string | null;
}

type Cidr = [ipaddr.IPv4 | ipaddr.IPv6, number];

export interface AllowList {
  cidrs: Cidr[];
  hosts: string[];
  /** Entries that could not be read, for the configuration report. */
  invalid: string[];
}

export function parseAllowList(entries: readonly string[]): AllowList {
  const list: AllowList = { cidrs: [], hosts: [], invalid: [] };
  for (const raw of entries) {
    const entry = raw.trim().toLowerCase();
    if (entry === '') continue;
    if (entry.includes('/')) {
      try {
        list.cidrs.push(ipaddr.parseCIDR(entry));
      } catch {
        list.invalid.push(raw);
      }
    } else if (ipaddr.isValid(entry)) {
      const address = ipaddr.parse(entry);
      list.cidrs.push([address, address.kind() === 'ipv4' ? 32 : 128]);
    } else if (/^(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*\.?$/.test(entry)) {
      list.hosts.push(stripDot(entry));
    } else {
      list.invalid.push(raw);
    }
  }
  return list;
}

function stripDot(host: string): string {
  return host.endsWith('.') ? host.slice(0, -1) : host;
}

/** Strips IPv6 brackets and normalises IPv4-mapped IPv6 to plain IPv4. */
function normalise(address: string): ipaddr.IPv4 | ipaddr.IPv6 | null {
  const bare = address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
  if (!ipaddr.isValid(bare)) return null;
  const parsed = ipaddr.parse(bare);
  if (parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress()) {
    return (parsed as ipaddr.IPv6).toIPv4Address();
  }
  return parsed;
}

export function isIpLiteral(hostname: string): boolean {
  return normalise(hostname) !== null;
}

/** Distinct hosts whose verdicts are kept (all forgotten at once when full). */
const VERDICTS_KEPT = 4_096;

const LOOPBACK_NAMES = new Set(['localhost', 'localhost.localdomain', 'ip6-localhost', 'ip6-loopback']);

export function createTargetPolicy(allow: AllowList): TargetPolicy {
  const inAllowedCidr = (address: ipaddr.IPv4 | ipaddr.IPv6): boolean =>
    allow.cidrs.some(([range, bits]) => range.kind() === address.kind() && address.match(range, bits));

  const refuseAddress = (raw: string): string | null => {
    const address = normalise(raw);
    if (!address) return `"${raw}" is not an IP address`;
    if (inAllowedCidr(address)) return null;
    const range = address.range();
    if (range === 'unicast') {
      // ::a.b.c.d (IPv4-compatible, deprecated) embeds an IPv4 address: never a public IPv6 target.
      const compatible = address.kind() === 'ipv6' && (address as ipaddr.IPv6).parts.slice(0, 6).every((part) => part === 0);
      return compatible ? `${address.toString()} is an IPv4-compatible IPv6 address` : null;
    }
    return `${address.toString()} is a ${describeRange(range)} address`;
  };

  const isHostExempt = (hostname: string): boolean => {
    const host = stripDot(hostname.toLowerCase());
    return allow.hosts.some((entry) => (entry.startsWith('*.') ? host.endsWith(entry.slice(1)) : host === entry));
  };

  const refuseLiteralHost = (hostname: string): string | null => {
    const host = stripDot(hostname.toLowerCase());
    if (isHostExempt(host)) return null;
    if (normalise(host)) return refuseAddress(host);
    if (LOOPBACK_NAMES.has(host) || host.endsWith('.localhost')) {
      // Resolves to loopback by definition (RFC 6761): judge it as 127.0.0.1 / ::1 would be.
      return refuseAddress('127.0.0.1') === null || refuseAddress('::1') === null ? null : `${host} is a loopback address`;
    }
    return null;
  };

  // The policy never changes while the process runs: remember verdicts by host, as parsing an
  // address (twice, for a literal) showed in profiles of subscribe.
  return {
    refuseAddress: remembered(refuseAddress, VERDICTS_KEPT),
    isHostExempt,
    refuseLiteralHost: remembered(refuseLiteralHost, VERDICTS_KEPT),
  };
}

function describeRange(range: string): string {
  switch (range) {
    case 'loopback':
      return 'loopback';
    case 'private':
      return 'private';
    case 'linkLocal':
      return 'link-local (cloud metadata)';
    case 'uniqueLocal':
      return 'unique-local';
    case 'unspecified':
      return 'unspecified';
    case 'carrierGradeNat':
      return 'carrier-grade NAT';
    case 'multicast':
      return 'multicast';
    case 'broadcast':
      return 'broadcast';
    default:
      return `non-public (${range})`;
  }
}
