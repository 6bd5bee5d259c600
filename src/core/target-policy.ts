import ipaddr from 'ipaddr.js';
import { inboxPath } from './inbox.js';
import { remembered } from './remembered.js';

/**
 * Which target endpoints (address and port) a task may reach, judged in this order:
 *
 * 1. the deny list refuses: addresses of cloud platforms' own services (`PLATFORM_ADDRESSES`), the
 *    server's own listening endpoints (added once it listens, `denyOwnEndpoints`), and the
 *    operator's `TASKS_DENY_TARGETS`. Nothing allows what the deny list refuses;
 * 2. the allow list (`TASKS_ALLOW_TARGETS`) allows;
 * 3. otherwise only globally routable unicast addresses are allowed: loopback, private, link-local,
 *    unique-local, carrier-grade NAT, unspecified, multicast, reserved and IPv6 forms that embed an
 *    IPv4 address are refused.
 *
 * Entries of both lists are CIDRs, addresses or host names (`*.example.internal`), each with an
 * optional port (`127.0.0.1:8203`, `[::1]:8203`, `10.0.0.0/8:443`, `[fd00::/8]:443`,
 * `hooks.internal:8080`); an entry without a port covers every port.
 *
 * A literal address is judged at subscribe time; a host name is judged at dispatch, on every
 * address it resolves to (see dispatch/target-guard.ts), so DNS cannot be used to reach what is
 * refused here.
 *
 * One exception to the deny list, when the inbox is on: a task may reach its own project's inbox
 * on this server (`ownInbox`), and nothing else of it: not another project's inbox, not another
 * path, not through a host name. Subscribe and dispatch both ask `ownInbox` with the task's project.
 */
export interface TargetPolicy {
  /** Why `address` may not be reached on `port`, or null when it may. The reason names the address. */
  refuseAddress(address: string, port: number): string | null;
  /**
   * Whether an address that `hostname` resolved to may be reached on `port`: a name exempted by the
   * allow list skips the address ranges, never the deny list.
   */
  allowsResolved(hostname: string, address: string, port: number): boolean;
  /** For a URL's host: the refusal of a literal address, a denied name or a well-known loopback name, or null. */
  refuseLiteralHost(hostname: string, port: number): string | null;
  /** Refuses the server's own listening endpoints from now on (known only once it listens). */
  denyOwnEndpoints(entries: readonly string[]): void;
  /** Whether `address` (a literal) on `port` is one of the server's own listening endpoints. */
  isOwnEndpoint(address: string, port: number): boolean;
  /**
   * Whether `url` is exactly `projectId`'s inbox on this server, which its tasks may reach: the
   * inbox is on, the URL is http:// to a literal address among the server's own endpoints, and its
   * path is that project's inbox path (any query; paths are compared as the URL parser normalised them).
   */
  ownInbox(url: URL, projectId: string): boolean;
}

export interface PolicyOptions {
  /** Whether the inbox is on: only then may a task reach its project's inbox on this server. */
  inbox?: boolean;
}

type Cidr = [ipaddr.IPv4 | ipaddr.IPv6, number];

/** A range of addresses, on one port or (null) on all. */
export interface RangeEntry {
  range: Cidr;
  port: number | null;
}

/** A host name (or `*.suffix`), on one port or (null) on all. */
export interface HostEntry {
  name: string;
  port: number | null;
}

export interface TargetList {
  cidrs: RangeEntry[];
  hosts: HostEntry[];
  /** Entries that could not be read, for the configuration report. */
  invalid: string[];
}

/**
 * Addresses of cloud platforms' own services, denied on every port whatever the allow list says.
 * Most are non-public and refused anyway; listing them keeps them refused when an operator allows
 * a whole range (169.254.0.0/16, 100.64.0.0/10, fd00::/8) or a name that resolves to one.
 * 168.63.129.16 is a public address that every Azure VM reaches (its platform's wire server).
 */
export const PLATFORM_ADDRESSES: readonly string[] = [
  '168.63.129.16', // Azure: wire server, platform DNS and health probes
  '169.254.169.254', // instance metadata: AWS, GCP, Azure, Oracle, DigitalOcean, OpenStack and others
  '169.254.169.253', // AWS: VPC DNS resolver
  '169.254.170.2', // AWS: ECS task metadata and credentials
  'fd00:ec2::254', // AWS: instance metadata over IPv6
  'fd20:ce::254', // GCP: metadata server over IPv6
  '100.100.100.200', // Alibaba Cloud: instance metadata
  '192.0.0.192', // Oracle Cloud (classic): instance metadata
];

const HOST_NAME = /^(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*\.?$/;

/** Splits `what:port` / `[what]:port` / `[what]` / `what`; null when the port part is not a port. */
function splitPort(entry: string): { what: string; port: number | null } | null {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry);
  if (bracketed) return bracketed[1]!.includes(':') ? withPort(bracketed[1]!, bracketed[2]) : null; // brackets hold IPv6 only
  const colons = entry.split(':').length - 1;
  if (colons >= 2) return { what: entry, port: null }; // a bare IPv6 address or CIDR
  if (colons === 1) {
    const at = entry.lastIndexOf(':');
    return withPort(entry.slice(0, at), entry.slice(at + 1));
  }
  return { what: entry, port: null };
}

function withPort(what: string, port: string | undefined): { what: string; port: number | null } | null {
  if (port === undefined) return { what, port: null };
  if (!/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535) return null;
  return { what, port: Number(port) };
}

/** Reads allow or deny entries (see TargetPolicy); unreadable ones are kept in `invalid`, as written. */
export function parseTargetList(entries: readonly string[]): TargetList {
  const list: TargetList = { cidrs: [], hosts: [], invalid: [] };
  for (const raw of entries) {
    const entry = raw.trim().toLowerCase();
    if (entry === '') continue;
    const split = splitPort(entry);
    const what = split?.what ?? '';
    const port = split?.port ?? null;
    if (!split || what === '') {
      list.invalid.push(raw);
    } else if (what.includes('/')) {
      try {
        list.cidrs.push({ range: ipaddr.parseCIDR(what), port });
      } catch {
        list.invalid.push(raw);
      }
    } else if (ipaddr.isValid(what)) {
      // ipaddr.js also reads 127.1 or 0x7f000001; an entry is only what it plainly says.
      if (!ipaddr.IPv4.isValidFourPartDecimal(what) && !ipaddr.IPv6.isValid(what)) list.invalid.push(raw);
      else {
        const address = ipaddr.parse(what);
        list.cidrs.push({ range: [address, address.kind() === 'ipv4' ? 32 : 128], port });
      }
    } else if (HOST_NAME.test(what) && !/^[\d.]+$/.test(what)) {
      list.hosts.push({ name: stripDot(what), port });
    } else {
      list.invalid.push(raw);
    }
  }
  return list;
}

const EMPTY: TargetList = { cidrs: [], hosts: [], invalid: [] };

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

/** The port a URL connects to: its own, or its scheme's. */
export function portOf(url: URL): number {
  if (url.port !== '') return Number(url.port);
  return url.protocol === 'https:' ? 443 : 80;
}

/** Distinct endpoints whose verdicts are kept (all forgotten at once when full). */
const VERDICTS_KEPT = 4_096;

/** Said of what only the address ranges refuse: the allow list can open it (not so the deny list). */
const HINT = ' (an operator may allow it with TASKS_ALLOW_TARGETS)';

const LOOPBACK_NAMES = new Set(['localhost', 'localhost.localdomain', 'ip6-localhost', 'ip6-loopback']);

const inRange = (entries: readonly RangeEntry[], address: ipaddr.IPv4 | ipaddr.IPv6, port: number): boolean =>
  entries.some(
    ({ range: [range, bits], port: only }) =>
      (only === null || only === port) && range.kind() === address.kind() && address.match(range, bits),
  );

const namedIn = (entries: readonly HostEntry[], hostname: string, port: number): boolean => {
  const host = stripDot(hostname.toLowerCase());
  return entries.some(
    ({ name, port: only }) => (only === null || only === port) && (name.startsWith('*.') ? host.endsWith(name.slice(1)) : host === name),
  );
};

const showEndpoint = (address: ipaddr.IPv4 | ipaddr.IPv6, port: number): string =>
  address.kind() === 'ipv6' ? `[${address.toString()}]:${port}` : `${address.toString()}:${port}`;

export function createTargetPolicy(allow: TargetList, deny: TargetList = EMPTY, options: PolicyOptions = {}): TargetPolicy {
  const platform = parseTargetList(PLATFORM_ADDRESSES).cidrs;
  let own: RangeEntry[] = [];

  /** Why the deny list refuses the endpoint, or null. */
  const denied = (address: ipaddr.IPv4 | ipaddr.IPv6, port: number): string | null => {
    if (inRange(platform, address, port)) return `${address.toString()} is a cloud platform's own address, always refused`;
    if (inRange(own, address, port)) return `${showEndpoint(address, port)} is this server's own address, always refused`;
    if (inRange(deny.cidrs, address, port)) return `${showEndpoint(address, port)} is refused by TASKS_DENY_TARGETS`;
    return null;
  };

  const judge = (key: string): string | null => {
    const at = key.lastIndexOf(' ');
    const raw = key.slice(0, at);
    const port = Number(key.slice(at + 1));
    const address = normalise(raw);
    if (!address) return `"${raw}" is not an IP address`;
    const refusal = denied(address, port);
    if (refusal) return refusal;
    if (inRange(allow.cidrs, address, port)) return null;
    const range = address.range();
    if (range === 'unicast') {
      // ::a.b.c.d (IPv4-compatible, deprecated) embeds an IPv4 address: never a public IPv6 target.
      const compatible = address.kind() === 'ipv6' && (address as ipaddr.IPv6).parts.slice(0, 6).every((part) => part === 0);
      return compatible ? `${address.toString()} is an IPv4-compatible IPv6 address${HINT}` : null;
    }
    return `${address.toString()} is a ${describeRange(range)} address${HINT}`;
  };

  const refuseLiteral = (key: string): string | null => {
    const at = key.lastIndexOf(' ');
    const host = stripDot(key.slice(0, at));
    const port = Number(key.slice(at + 1));
    if (namedIn(deny.hosts, host, port)) return `${host} is refused by TASKS_DENY_TARGETS`;
    if (normalise(host)) return refuseAddress(host, port);
    if (namedIn(allow.hosts, host, port)) return null;
    if (LOOPBACK_NAMES.has(host) || host.endsWith('.localhost')) {
      // Resolves to loopback by definition (RFC 6761): judge it as 127.0.0.1 / ::1 would be.
      const refused = refuseAddress('127.0.0.1', port);
      return refused === null || refuseAddress('::1', port) === null ? null : `${host} is a loopback name: ${refused}`;
    }
    return null;
  };

  // Verdicts are remembered by endpoint, as parsing an address (twice, for a literal) showed in
  // profiles of subscribe; they are forgotten when the server's own endpoints join the deny list.
  let judged = remembered(judge, VERDICTS_KEPT);
  let judgedLiteral = remembered(refuseLiteral, VERDICTS_KEPT);
  const refuseAddress = (address: string, port: number): string | null => judged(`${address} ${port}`);
  const isOwnEndpoint = (address: string, port: number): boolean => {
    const parsed = normalise(address);
    return parsed !== null && inRange(own, parsed, port);
  };

  return {
    refuseAddress,
    allowsResolved(hostname, address, port) {
      if (namedIn(deny.hosts, hostname, port)) return false;
      if (!namedIn(allow.hosts, hostname, port)) return refuseAddress(address, port) === null;
      const parsed = normalise(address);
      return parsed !== null && denied(parsed, port) === null;
    },
    refuseLiteralHost: (hostname, port) => judgedLiteral(`${hostname.toLowerCase()} ${port}`),
    denyOwnEndpoints(entries) {
      const list = parseTargetList(entries);
      if (list.invalid.length > 0) throw new Error(`not an endpoint: ${list.invalid.join(', ')}`);
      own = [...own, ...list.cidrs];
      judged = remembered(judge, VERDICTS_KEPT);
      judgedLiteral = remembered(refuseLiteral, VERDICTS_KEPT);
    },
    isOwnEndpoint,
    ownInbox: (url, projectId) =>
      options.inbox === true &&
      url.protocol === 'http:' &&
      url.username === '' &&
      url.password === '' &&
      url.pathname === inboxPath(projectId) &&
      isOwnEndpoint(url.hostname, portOf(url)),
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
