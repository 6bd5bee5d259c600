/* Command-line options of `npm run bench -- [options]`. */

export const SCENARIOS = ['subscribe', 'batch', 'dispatch', 'timing', 'noisy', 'flow', 'scale', 'bullmq', 'listing', 'schedules'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];
export type StoreName = 'sqlite' | 'redis';

export interface Options {
  runs: number;
  quick: boolean;
  only: ScenarioName[];
  stores: StoreName[];
  profile: boolean;
  /** TASKS_CONCURRENCY of the server, and the concurrency of the undici ceiling and the BullMQ worker. */
  concurrency: number;
  /** Connections of the subscribe load. */
  connections: number;
  redisPersistence: boolean;
  /** Folder for the SQLite files (default: the bench's temporary folder). */
  sqliteDir: string | null;
  out: string | null;
  /** Whole-bench watchdog. */
  maxMinutes: number;
  sizes: Sizes;
}

export interface Sizes {
  subscribeWarmupMs: number;
  subscribeMs: number;
  dispatchTasks: number;
  /** Deliveries each dispatcher (server, BullMQ worker, undici ceiling) makes right before its measured batch; 0: measured cold. */
  dispatchWarmup: number;
  timingRate: number;
  timingSeconds: number;
  /** Noisy neighbour: the neighbour's tasks on a target that never answers; the victim's rate and seconds. */
  noisyHanging: number;
  noisyRate: number;
  noisySeconds: number;
  scaleSqlite: number;
  scaleRedis: number;
  scaleSettleMs: number;
  bullmqJobs: number;
  /** Tasks the listing scenario fills (over several projects, tags, hosts and states). */
  listingTasks: number;
  /** Flow control: one key's rate (starts per second) and the seconds its deliveries are counted over. */
  flowRate: number;
  flowSeconds: number;
}

const FULL: Sizes = {
  subscribeWarmupMs: 2_000,
  subscribeMs: 10_000,
  dispatchTasks: 20_000,
  dispatchWarmup: 4_000,
  timingRate: 1_000,
  timingSeconds: 30,
  noisyHanging: 1_000,
  noisyRate: 100,
  noisySeconds: 20,
  scaleSqlite: 1_000_000,
  scaleRedis: 200_000,
  scaleSettleMs: 10_000,
  bullmqJobs: 20_000,
  listingTasks: 1_000_000,
  flowRate: 1_000,
  flowSeconds: 10,
};

const QUICK: Sizes = {
  subscribeWarmupMs: 1_000,
  subscribeMs: 3_000,
  dispatchTasks: 5_000,
  dispatchWarmup: 1_000,
  timingRate: 1_000,
  timingSeconds: 5,
  noisyHanging: 1_000,
  noisyRate: 100,
  noisySeconds: 5,
  scaleSqlite: 100_000,
  scaleRedis: 20_000,
  scaleSettleMs: 3_000,
  bullmqJobs: 5_000,
  listingTasks: 100_000,
  flowRate: 1_000,
  flowSeconds: 5,
};

export const USAGE = `Usage: npm run bench -- [options]

  --runs N             runs per figure; the median is reported (default 3, 1 with --quick)
  --quick              smaller sizes and shorter loads: a smoke run of about 2 minutes
  --only a,b           scenarios to run: ${SCENARIOS.join(', ')} (default: all)
  --store s            sqlite, redis or both (default both; bullmq always uses Redis)
  --profile            run the server with --cpu-prof; profiles go to bench/results/profiles/
  --concurrency N      TASKS_CONCURRENCY, and the concurrency of the ceilings and BullMQ (default 128)
  --connections N      connections of the subscribe load (default 50)
  --redis-persistence on|off   AOF everysec + snapshots as in resource/config/redis.conf (default on)
  --sqlite-dir DIR     put the SQLite files there, e.g. /dev/shm to tell disk stalls from CPU (default: a
                       temporary folder under the OS temp dir)
  --out FILE           where to write the JSON (default bench/results/<date>.json, see README)
  --max-minutes N      abort (and stop every process) after this long (default 90, 15 with --quick)
  --dispatch-warmup N  deliveries each dispatcher makes before its measured batch (default 4000; 0 measures a
                       fresh server cold, as the first dispatch after its start)
  --timing-seconds N, --dispatch-tasks N, --scale-sqlite N, --scale-redis N, --bullmq-jobs N, --listing-tasks N,
  --subscribe-seconds N  override one size
`;

export function parseOptions(argv: readonly string[]): Options {
  const args = [...argv];
  const take = (name: string): string | undefined => {
    const i = args.indexOf(`--${name}`);
    if (i === -1) return undefined;
    const value = args[i + 1];
    if (value === undefined || value.startsWith('--')) throw new Error(`--${name} needs a value`);
    args.splice(i, 2);
    return value;
  };
  const flag = (name: string): boolean => {
    const i = args.indexOf(`--${name}`);
    if (i === -1) return false;
    args.splice(i, 1);
    return true;
  };
  const int = (name: string, raw: string | undefined, fallback: number, min = 1): number => {
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer ≥ ${min}`);
    return n;
  };

  if (flag('help') || flag('h')) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  const quick = flag('quick');
  const profile = flag('profile');
  const sizes: Sizes = { ...(quick ? QUICK : FULL) };
  const runs = int('runs', take('runs'), quick ? 1 : 3);
  const onlyRaw = take('only');
  const only =
    onlyRaw === undefined
      ? [...SCENARIOS]
      : onlyRaw
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean);
  for (const s of only)
    if (!(SCENARIOS as readonly string[]).includes(s)) throw new Error(`unknown scenario ${s}; one of ${SCENARIOS.join(', ')}`);
  const storeRaw = take('store') ?? 'both';
  if (!['sqlite', 'redis', 'both'].includes(storeRaw)) throw new Error('--store must be sqlite, redis or both');
  const stores: StoreName[] = storeRaw === 'both' ? ['sqlite', 'redis'] : [storeRaw as StoreName];
  const persistence = take('redis-persistence') ?? 'on';
  if (!['on', 'off'].includes(persistence)) throw new Error('--redis-persistence must be on or off');
  sizes.timingSeconds = int('timing-seconds', take('timing-seconds'), sizes.timingSeconds);
  sizes.dispatchTasks = int('dispatch-tasks', take('dispatch-tasks'), sizes.dispatchTasks);
  sizes.dispatchWarmup = int('dispatch-warmup', take('dispatch-warmup'), sizes.dispatchWarmup, 0);
  sizes.scaleSqlite = int('scale-sqlite', take('scale-sqlite'), sizes.scaleSqlite);
  sizes.scaleRedis = int('scale-redis', take('scale-redis'), sizes.scaleRedis);
  sizes.listingTasks = int('listing-tasks', take('listing-tasks'), sizes.listingTasks);
  sizes.bullmqJobs = int('bullmq-jobs', take('bullmq-jobs'), sizes.bullmqJobs);
  sizes.subscribeMs = int('subscribe-seconds', take('subscribe-seconds'), sizes.subscribeMs / 1000) * 1000;
  const options: Options = {
    runs,
    quick,
    only: only as ScenarioName[],
    stores,
    profile,
    concurrency: int('concurrency', take('concurrency'), 128),
    connections: int('connections', take('connections'), 50),
    redisPersistence: persistence === 'on',
    sqliteDir: take('sqlite-dir') ?? null,
    out: take('out') ?? null,
    maxMinutes: int('max-minutes', take('max-minutes'), quick ? 15 : 90),
    sizes,
  };
  if (args.length > 0) throw new Error(`unknown arguments: ${args.join(' ')}\n\n${USAGE}`);
  return options;
}
