/*
 * What every scenario shares: the options, a work folder, the long-lived helper processes (target,
 * load generator, bare JSON server, redis-server) and the way to start a fresh Kuueri server on a
 * fresh store.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { Pool, request } from 'undici';
import { type RedisServer, startRedisServer } from '../../test/helpers/redis-server.js';
import { redisConfTuning } from './redis-conf.js';
import type { BareJsonProtocol } from '../children/bare-json.js';
import type { DuePlan, LoadgenProtocol } from '../children/loadgen.js';
import type { BareStoreProtocol } from '../children/bare-store.js';
import type { TargetProtocol } from '../children/target.js';
import type { Options, StoreName } from './options.js';
import { ChildRpc, REPO, type ServerProcess, distFingerprint, onCleanup, sleep, spawnKuueri } from './procs.js';

/** The requests that warm the target up, over this many connections at once. */
const TARGET_WARM_UP = { requests: 2_000, connections: 20 };

/** The key every server and the fill script use, so a filled store opens. */
export const CRYPTO_KEY = 'b3'.repeat(32);

export interface Credentials {
  id: string;
  token: string;
}

export function authHeaders(creds: Credentials): Record<string, string> {
  return { authorization: `Bearer ${creds.token}`, 'x-kuueri-tasks-project': creds.id };
}

export function log(message: string): void {
  const t = new Date().toISOString().slice(11, 19);
  process.stderr.write(`[${t}] ${message}\n`);
}

export interface MachineLoad {
  /** 1-minute load average. */
  load1: number;
  /** Pressure stall information (Linux PSI), share of the last 10 s some task waited for a CPU / for I/O, %. */
  cpuPressure10: number;
  ioPressure10: number;
}

function pressure(kind: 'cpu' | 'io'): number {
  try {
    return Number(/^some avg10=([\d.]+)/m.exec(readFileSync(`/proc/pressure/${kind}`, 'utf8'))?.[1] ?? NaN);
  } catch {
    return NaN;
  }
}

/** How busy the (shared) machine is right now: recorded with every run. */
export function machineLoad(): MachineLoad {
  return { load1: Math.round(loadavg()[0]! * 100) / 100, cpuPressure10: pressure('cpu'), ioPressure10: pressure('io') };
}

export interface RedisPersistence {
  forks: number;
  latestForkUs: number;
  /** A snapshot or AOF rewrite is being written (by a child process of its own) right now. */
  childRunning: boolean;
  /** The AOF's current size; a rewrite starts it again from the data set's size. */
  aofBytes: number;
}

/**
 * Redis persistence during a dispatch window, for every dispatcher alike: a fork (snapshot or AOF
 * rewrite) in a 3-second window puts a second process on the machine's two cores, and the AOF bytes
 * per task say how much each side makes Redis write (counted only when no rewrite cut the file).
 */
export interface RedisWindow {
  forks: number;
  childAtStart: boolean;
  aofBytesPerTask: number | null;
}

export function redisWindow(before: RedisPersistence, after: RedisPersistence, tasks: number): RedisWindow {
  const forks = after.forks - before.forks;
  return {
    forks,
    childAtStart: before.childRunning,
    aofBytesPerTask: forks === 0 && tasks > 0 ? (after.aofBytes - before.aofBytes) / tasks : null,
  };
}

export function describeRedisWindow(w: RedisWindow): string {
  const aof = w.aofBytesPerTask === null ? '' : `, AOF ${Math.round(w.aofBytesPerTask).toLocaleString('en-US')} B/task`;
  return ` | redis-server forks ${w.forks}${w.childAtStart ? ' (a child still writing at the due time)' : ''}${aof}`;
}

export class BenchContext {
  readonly work: string;
  readonly profileDir: string;
  target!: ChildRpc<TargetProtocol>;
  loadgen!: ChildRpc<LoadgenProtocol>;
  bare: ChildRpc<BareJsonProtocol> | null = null;
  redis: RedisServer | null = null;
  redisClient: Redis | null = null;
  redisPid = -1;
  /** Settings passed to redis-server from resource/config/redis.conf (redis-conf.ts). */
  redisArgs: string[] = [];
  private runCounter = 0;
  /** Fingerprints of dist/ seen at server starts, with how many starts saw each. */
  readonly distSeen: Record<string, number> = {};
  /** Every server start, in order: which build of dist/ each run measured. */
  readonly serverStarts: { at: string; label: string; store: StoreName; dist: string }[] = [];

  constructor(readonly options: Options) {
    this.work = mkdtempSync(join(tmpdir(), 'kuueri-bench-'));
    onCleanup(() => rmSync(this.work, { recursive: true, force: true }));
    this.profileDir = join(REPO, 'bench', 'results', 'profiles');
  }

  /**
   * Sends the target requests enough for V8 to compile its request path, then forgets them: the
   * lateness a scenario measures is then the server's, not a fresh target's first requests (its
   * first burst, when a scenario runs alone, was tens of ms slow).
   */
  private async warmUpTarget(): Promise<void> {
    const pool = new Pool(this.targetUrl, { connections: TARGET_WARM_UP.connections });
    try {
      const one = async (): Promise<void> => {
        const res = await pool.request({ path: '/warm-up?due=0&i=0', method: 'POST', body: '{}' });
        await res.body.dump();
      };
      for (let i = 0; i < TARGET_WARM_UP.requests / TARGET_WARM_UP.connections; i++) {
        await Promise.all(Array.from({ length: TARGET_WARM_UP.connections }, one));
      }
    } finally {
      await pool.close();
    }
    await this.target.call('reset', { expected: 0 });
  }

  get targetUrl(): string {
    return String(this.target.info.url);
  }

  async start(needs: { redis: boolean; bare: boolean }): Promise<void> {
    this.target = await ChildRpc.fork<TargetProtocol>('target', join(REPO, 'bench/children/target.ts'));
    await this.warmUpTarget();
    this.loadgen = await ChildRpc.fork<LoadgenProtocol>('loadgen', join(REPO, 'bench/children/loadgen.ts'));
    if (needs.bare) this.bare = await ChildRpc.fork<BareJsonProtocol>('bare-json', join(REPO, 'bench/children/bare-json.ts'));
    if (needs.redis) {
      this.redisArgs = redisConfTuning(REPO);
      const redis = await startRedisServer({ persistence: this.options.redisPersistence, args: this.redisArgs });
      this.redis = redis;
      onCleanup(() => redis.killSync());
      this.redisClient = new Redis(redis.url, { maxRetriesPerRequest: 1, lazyConnect: true });
      this.redisClient.on('error', () => undefined);
      await this.redisClient.connect();
      const info = await this.redisClient.info('server');
      this.redisPid = Number(/process_id:(\d+)/.exec(info)?.[1] ?? -1);
      log(`redis-server ${redis.url}, from resource/config/redis.conf: ${this.redisArgs.join(' ') || 'nothing'}`);
    }
    if (this.options.profile) mkdirSync(this.profileDir, { recursive: true });
  }

  async stop(): Promise<void> {
    const helpers = [this.target as ChildRpc<TargetProtocol> | undefined, this.loadgen as ChildRpc<LoadgenProtocol> | undefined, this.bare];
    await Promise.allSettled(helpers.map((h) => (h ? h.close() : Promise.resolve())));
    if (this.redisClient) this.redisClient.disconnect();
    if (this.redis) await this.redis.close();
    rmSync(this.work, { recursive: true, force: true });
  }

  /** Empties Redis (every database): each run starts on a fresh store. */
  async flushRedis(): Promise<void> {
    if (!this.redisClient) throw new Error('no redis-server');
    await this.redisClient.flushall();
  }

  /**
   * What redis-server's persistence has done so far: forks (snapshots, AOF rewrites; a fork stops
   * Redis while it copies its page tables) and the last one's duration, whether a child is writing
   * now, the AOF's size.
   */
  async redisPersistence(): Promise<RedisPersistence> {
    if (!this.redisClient) return { forks: 0, latestForkUs: 0, childRunning: false, aofBytes: 0 };
    const info = `${await this.redisClient.info('stats')}${await this.redisClient.info('persistence')}`;
    const field = (name: string): number => Number(new RegExp(`${name}:(\\d+)`).exec(info)?.[1] ?? NaN);
    return {
      forks: field('total_forks'),
      latestForkUs: field('latest_fork_usec'),
      childRunning: field('rdb_bgsave_in_progress') === 1 || field('aof_rewrite_in_progress') === 1,
      aofBytes: field('aof_current_size'),
    };
  }

  async redisMemoryMb(): Promise<number> {
    return (await this.redisUsedMemory()) / 1024 / 1024;
  }

  /** redis-server's used_memory in bytes (NaN without a redis-server). */
  async redisUsedMemory(): Promise<number> {
    if (!this.redisClient) return NaN;
    const info = await this.redisClient.info('memory');
    return Number(/used_memory:(\d+)/.exec(info)?.[1] ?? NaN);
  }

  /** Where a run's SQLite files go: beside the run, or under --sqlite-dir (e.g. /dev/shm, to tell disk from CPU). */
  sqliteDir(label: string): string {
    if (!this.options.sqliteDir) return this.runDir(`${label}-data`);
    const dir = mkdtempSync(join(this.options.sqliteDir, `kuueri-bench-${label}-`));
    onCleanup(() => rmSync(dir, { recursive: true, force: true }));
    return dir;
  }

  /** A fresh folder for one server run. */
  runDir(label: string): string {
    const dir = join(this.work, `${String(++this.runCounter).padStart(3, '0')}-${label}`);
    mkdirSync(dir, { recursive: true });
    return dir;
  }

  /**
   * Starts `node dist/main.js` on `store`: a new SQLite file in `dir` (or `sqlitePath`), or the
   * shared redis-server (emptied first unless `keepRedis`). Throttling and queue limits are lifted.
   * What earlier runs wrote is flushed to disk first (`sync`), with a second to settle: a dispatch
   * run writes hundreds of megabytes, which the kernel would otherwise write back during the next
   * run, on the cores it measures.
   */
  async startServer(
    store: StoreName,
    label: string,
    options: { sqlitePath?: string; keepRedis?: boolean; env?: Record<string, string> } = {},
  ): Promise<ServerProcess> {
    execFileSync('sync');
    await sleep(1_000);
    const dir = this.runDir(`${label}-${store}`);
    let db: string;
    if (store === 'sqlite') db = `sqlite:${options.sqlitePath ?? join(this.sqliteDir(`${label}-${store}`), 'tasks.db')}`;
    else {
      if (!this.redis) throw new Error('no redis-server');
      if (!options.keepRedis) await this.flushRedis();
      db = this.redis.url;
    }
    const env: Record<string, string> = {
      PORT: '0',
      HOST: '127.0.0.1',
      TASKS_DB: db,
      TASKS_CRYPTO_KEY: CRYPTO_KEY,
      TASKS_ALLOW_TARGETS: '127.0.0.1',
      TASKS_THROTTLE_LIMIT: '1000000000',
      TASKS_QUEUE_LIMIT: '100000000',
      TASKS_REGISTER_LIMIT: '1000000',
      TASKS_AUTH_FAILURE_LIMIT: '1000000',
      TASKS_CONCURRENCY: String(this.options.concurrency),
      TASKS_SHUTDOWN_GRACE_MS: '5000',
      // info, as a user runs it: the start-up line the bench waits for, and a line per attempt.
      TASKS_LOG_LEVEL: 'info',
      ...options.env,
    };
    const profileName = `${new Date().toISOString().slice(0, 10)}-${label}-${store}-${Date.now()}.cpuprofile`;
    const nodeArgs = this.options.profile ? ['--cpu-prof', '--cpu-prof-dir', this.profileDir, '--cpu-prof-name', profileName] : [];
    const dist = distFingerprint();
    this.distSeen[dist] = (this.distSeen[dist] ?? 0) + 1;
    this.serverStarts.push({ at: new Date().toISOString(), label, store, dist });
    const server = await spawnKuueri(env, dir, nodeArgs, 180_000);
    if (this.options.profile) server.profileFile = join(this.profileDir, profileName);
    return server;
  }

  /**
   * Starts the bare store server (children/bare-store.ts) on a fresh store of its own, as a server run
   * gets: a new SQLite file, or the shared redis-server emptied first.
   */
  async startBareStore(store: StoreName): Promise<ChildRpc<BareStoreProtocol>> {
    let db: string;
    if (store === 'sqlite') db = `sqlite:${join(this.sqliteDir('bare-store-sqlite'), 'tasks.db')}`;
    else {
      if (!this.redis) throw new Error('no redis-server');
      await this.flushRedis();
      db = this.redis.url;
    }
    return ChildRpc.fork<BareStoreProtocol>(`bare-store-${store}`, join(REPO, 'bench/children/bare-store.ts'), {
      TASKS_DB: db,
      TASKS_CRYPTO_KEY: CRYPTO_KEY,
      TASKS_ALLOW_TARGETS: '127.0.0.1',
      TASKS_QUEUE_LIMIT: '100000000',
    });
  }

  async register(server: ServerProcess): Promise<Credentials> {
    const email = `bench-${Date.now()}-${Math.random().toString(36).slice(2, 8)}@example.com`;
    const res = await request(`${server.url}/v1beta/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email }),
    });
    const body = (await res.body.json()) as Credentials;
    if (res.statusCode !== 201) throw new Error(`register answered ${res.statusCode}: ${JSON.stringify(body)}`);
    return body;
  }

  /** Tasks RUNNING or PAUSED in the project, from GET /v1beta/info. */
  async taskInQueue(server: ServerProcess, creds: Credentials): Promise<number> {
    const res = await request(`${server.url}/v1beta/info`, { headers: authHeaders(creds) });
    const body = (await res.body.json()) as { taskInQueue?: number };
    return body.taskInQueue ?? NaN;
  }

  /**
   * How a batch of `n` is made due: after a calibration probe of n/10 items (400 to 2,000) that
   * measures the rate of adding them right now (the machine is shared, rates swing), far enough
   * ahead that adding the batch ends before the first item is due.
   */
  duePlan(n: number): DuePlan {
    return { kind: 'calibrate', probe: Math.min(2_000, Math.max(400, Math.round(n / 10))), minLeadMs: 2_000 };
  }

  /** Waits until the target has recorded `n` requests or `deadline` (epoch ms) passes; answers the count. */
  async waitForTarget(n: number, deadline: number): Promise<number> {
    for (;;) {
      const count = await this.target.call('count', null);
      if (count >= n || Date.now() > deadline) return count;
      await sleep(count === 0 ? 20 : 50);
    }
  }
}
