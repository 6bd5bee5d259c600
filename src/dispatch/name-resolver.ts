import { readFileSync } from 'node:fs';
import { Resolver as AresResolver } from 'node:dns/promises';
import { isIP } from 'node:net';
import { type Clock, systemClock } from '../core/clock.js';

/*
 * Host names to addresses, for the target guard. Not `dns.lookup`: getaddrinfo runs on libuv's
 * small thread pool, so a few names whose servers never answer would hold every thread, and every
 * other tenant's connections (and the file system) would wait behind them. Instead:
 *
 * - `systemAddresses` asks DNS servers directly with c-ares (no thread pool), with a deadline over
 *   the whole lookup, after answering from the hosts file and RFC 6761 `localhost` names (c-ares
 *   reads neither).
 * - `NameLookups` keeps answers for their TTL (capped small), and failures briefly; joins lookups
 *   of a name already in flight; and lets each project wait on at most a few names at once, queueing
 *   a few more and refusing the rest at once: one project's slow names cannot hold the resolver for
 *   everyone, and its tasks fail fast instead of holding dispatch slots.
 */

/** One address a name resolved to; `ttl` in seconds when DNS said. */
export interface ResolvedAddress {
  address: string;
  /** 4 or 6. */
  family: number;
  ttl?: number;
}

/** Resolves a host name to all its addresses; tests may stand in for DNS with their own. */
export type AddressSource = (hostname: string) => Promise<ResolvedAddress[]>;

/** An error with a code, as DNS and the sender's outcome mapping expect. */
export function lookupError(code: string, message: string): NodeJS.ErrnoException {
  return Object.assign(new Error(message), { code });
}

/** Where the hosts file is; its names are answered before DNS, as the system's resolver does. */
export const HOSTS_FILE = process.platform === 'win32' ? 'C:\\Windows\\System32\\drivers\\etc\\hosts' : '/etc/hosts';

/** Reads a hosts file into name -> addresses (first listed first); a missing file is an empty one. */
export function readHostsFile(path: string): Map<string, ResolvedAddress[]> {
  const names = new Map<string, ResolvedAddress[]>();
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return names;
  }
  for (const line of text.split('\n')) {
    const [address, ...aliases] = line.replace(/#.*/, '').trim().split(/\s+/);
    const family = address ? isIP(address.replace(/%.*/, '')) : 0;
    if (!address || (family !== 4 && family !== 6)) continue;
    for (const alias of aliases) {
      const name = alias.toLowerCase();
      const known = names.get(name) ?? [];
      if (!known.some((a) => a.address === address)) known.push({ address, family });
      names.set(name, known);
    }
  }
  return names;
}

const LOOPBACK: ResolvedAddress[] = [
  { address: '127.0.0.1', family: 4 },
  { address: '::1', family: 6 },
];

export interface SystemAddressesOptions {
  /** DNS servers (`1.1.1.1`, `127.0.0.1:5353`, `[::1]:53`); the system's when empty. */
  servers: readonly string[];
  /** The whole lookup's deadline (both families, every try). */
  timeoutMs: number;
  hostsFile?: string;
}

/** The system's answers without its thread pool: hosts file, `localhost`, then DNS over c-ares. */
export function systemAddresses(options: SystemAddressesOptions): AddressSource & { close(): void } {
  const hosts = readHostsFile(options.hostsFile ?? HOSTS_FILE);
  // Two tries, the second given twice as long by c-ares: together about the deadline.
  const resolver = new AresResolver({ timeout: Math.max(1, Math.ceil(options.timeoutMs / 3)), tries: 2 });
  if (options.servers.length > 0) resolver.setServers([...options.servers]);
  let closed = false;

  const fromDns = (hostname: string): Promise<ResolvedAddress[]> =>
    new Promise((resolve, reject) => {
      const v4: ResolvedAddress[] = [];
      const v6: ResolvedAddress[] = [];
      const errors: NodeJS.ErrnoException[] = [];
      let pending = 2;
      let settled = false;
      const settle = (): void => {
        settled = true;
        clearTimeout(deadline);
        const found = [...v4, ...v6];
        if (found.length > 0) resolve(found);
        else reject(worstOf(errors, hostname));
      };
      // Whatever answered by the deadline is used: a server that never answers AAAA queries
      // costs the deadline, not the target.
      const deadline = setTimeout(() => {
        if (settled) return;
        errors.push(lookupError('ETIMEOUT', `host name lookup of ${hostname} timed out`));
        settle();
      }, options.timeoutMs);
      deadline.unref();
      const done = (): void => {
        if (--pending === 0 && !settled) settle();
      };
      resolver.resolve4(hostname, { ttl: true }).then(
        (records) => {
          for (const r of records) v4.push({ address: r.address, family: 4, ttl: r.ttl });
          done();
        },
        (error: NodeJS.ErrnoException) => (errors.push(error), done()),
      );
      resolver.resolve6(hostname, { ttl: true }).then(
        (records) => {
          for (const r of records) v6.push({ address: r.address, family: 6, ttl: r.ttl });
          done();
        },
        (error: NodeJS.ErrnoException) => (errors.push(error), done()),
      );
    });

  const source = async (hostname: string): Promise<ResolvedAddress[]> => {
    const name = hostname.toLowerCase().replace(/\.$/, '');
    const family = isIP(name);
    if (family === 4 || family === 6) return [{ address: name, family }];
    const listed = hosts.get(name);
    if (listed) return listed;
    if (name === 'localhost' || name.endsWith('.localhost')) return LOOPBACK;
    if (closed) throw lookupError('ECANCELLED', 'the resolver is closed');
    return fromDns(name);
  };
  return Object.assign(source, {
    close() {
      closed = true;
      resolver.cancel();
    },
  });
}

/** The error of a failed lookup: "no such name" only when no family timed out or failed otherwise. */
function worstOf(errors: NodeJS.ErrnoException[], hostname: string): NodeJS.ErrnoException {
  const other = errors.find((e) => e.code !== 'ENOTFOUND' && e.code !== 'ENODATA');
  if (other) return other;
  return lookupError('ENOTFOUND', `host name ${hostname} not found`);
}

export interface NameLookupsOptions {
  clock?: Clock;
  /** Names one project may wait on at once. */
  perProject?: number;
  /** Further names of one project that wait for its turn; more are refused at once. */
  queuedPerProject?: number;
  /** Longest time an answer is kept, whatever its TTL. */
  maxTtlMs?: number;
  /** Shortest time an answer is kept, so the connection uses the answer the send was judged on. */
  minTtlMs?: number;
  /** How long a failed lookup is answered from memory. */
  failureTtlMs?: number;
  /** Names kept at most (the oldest is forgotten first). */
  capacity?: number;
}

interface Kept {
  addresses: ResolvedAddress[] | null;
  error: NodeJS.ErrnoException | null;
  until: number;
}

interface ProjectTurns {
  waiting: number;
  queue: (() => void)[];
}

/** Code of a lookup refused because its project already waits on as many names as it may. */
export const LOOKUPS_BUSY = 'ELOOKUPSBUSY';

/** Cached, joined and per-project bounded lookups over an `AddressSource` (see the top of this file). */
export class NameLookups {
  private readonly kept = new Map<string, Kept>();
  private readonly inFlight = new Map<string, Promise<ResolvedAddress[]>>();
  private readonly projects = new Map<string, ProjectTurns>();
  private readonly clock: Clock;
  private readonly options: Required<Omit<NameLookupsOptions, 'clock'>>;

  constructor(
    private readonly source: AddressSource & { close?(): void },
    options: NameLookupsOptions = {},
  ) {
    this.clock = options.clock ?? systemClock;
    this.options = {
      perProject: options.perProject ?? 4,
      queuedPerProject: options.queuedPerProject ?? 16,
      maxTtlMs: options.maxTtlMs ?? 30_000,
      minTtlMs: options.minTtlMs ?? 1_000,
      failureTtlMs: options.failureTtlMs ?? 5_000,
      capacity: options.capacity ?? 10_000,
    };
  }

  /**
   * The addresses of `hostname`. With a `projectId`, a lookup that has to ask the source counts
   * against that project's turns; without one (the connection's own lookup, right after the send's)
   * it only joins or asks.
   */
  async lookup(hostname: string, projectId?: string): Promise<ResolvedAddress[]> {
    const name = hostname.toLowerCase();
    const known = this.remembered(name);
    if (known) return known;
    const joined = this.inFlight.get(name);
    if (joined || projectId === undefined) return joined ?? this.ask(name);
    await this.turn(projectId);
    try {
      return this.remembered(name) ?? (await (this.inFlight.get(name) ?? this.ask(name)));
    } finally {
      this.release(projectId);
    }
  }

  /** Lookups of `projectId` waiting on the source now, and queued behind them. */
  pending(projectId: string): { waiting: number; queued: number } {
    const turns = this.projects.get(projectId);
    return { waiting: turns?.waiting ?? 0, queued: turns?.queue.length ?? 0 };
  }

  close(): void {
    for (const turns of this.projects.values()) turns.queue.length = 0;
    this.source.close?.();
  }

  private remembered(name: string): ResolvedAddress[] | null {
    const kept = this.kept.get(name);
    if (!kept) return null;
    if (kept.until <= this.clock.now()) {
      this.kept.delete(name);
      return null;
    }
    if (kept.error) throw kept.error;
    return kept.addresses;
  }

  private ask(name: string): Promise<ResolvedAddress[]> {
    const asked = this.source(name).then(
      (addresses) => {
        if (addresses.length === 0) throw lookupError('ENOTFOUND', `host name ${name} not found`);
        const ttls = addresses.map((a) => (a.ttl === undefined ? 0 : a.ttl * 1000));
        const ttlMs = Math.min(this.options.maxTtlMs, Math.max(this.options.minTtlMs, Math.min(...ttls)));
        this.keep(name, { addresses, error: null, until: this.clock.now() + ttlMs });
        return addresses;
      },
      (error: NodeJS.ErrnoException) => {
        if (error.code !== 'ECANCELLED') this.keep(name, { addresses: null, error, until: this.clock.now() + this.options.failureTtlMs });
        throw error;
      },
    );
    const forget = (): void => {
      this.inFlight.delete(name);
    };
    asked.then(forget, forget);
    this.inFlight.set(name, asked);
    return asked;
  }

  private keep(name: string, kept: Kept): void {
    this.kept.delete(name);
    if (this.kept.size >= this.options.capacity) this.kept.delete(this.kept.keys().next().value!);
    this.kept.set(name, kept);
  }

  private turn(projectId: string): Promise<void> {
    let turns = this.projects.get(projectId);
    if (!turns) this.projects.set(projectId, (turns = { waiting: 0, queue: [] }));
    if (turns.waiting < this.options.perProject) {
      turns.waiting++;
      return Promise.resolve();
    }
    if (turns.queue.length >= this.options.queuedPerProject) {
      return Promise.reject(lookupError(LOOKUPS_BUSY, 'too many host name lookups of this project at once'));
    }
    return new Promise((resolve) => turns.queue.push(resolve));
  }

  private release(projectId: string): void {
    const turns = this.projects.get(projectId);
    if (!turns) return;
    const next = turns.queue.shift();
    if (next)
      next(); // the turn passes on: `waiting` stays
    else if (--turns.waiting === 0) this.projects.delete(projectId);
  }
}
