import { Resolver } from 'node:dns';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseRange } from './core/ip-address.js';
import { type TargetList, parseTargetList } from './core/target-policy.js';

/*
 * Configuration: defaults that run with nothing set, then `resource/config/config.json` (the
 * seed's keys; path overridable with TASKS_CONFIG) when present, then environment variables. Every
 * problem is collected and reported at once; nothing else in the program reads `process.env`.
 * docs/configuration.md documents every row of SETTINGS (a test keeps them in step).
 */

type Parsed<T> = { ok: true; value: T } | { ok: false; message: string };
type Parser<T> = (raw: unknown, fromEnv: boolean) => Parsed<T>;

const int =
  (min: number, max: number): Parser<number> =>
  (raw, fromEnv) => {
    const value = fromEnv && typeof raw === 'string' && /^-?\d+$/.test(raw.trim()) ? Number(raw) : raw;
    if (typeof value !== 'number' || !Number.isSafeInteger(value)) return { ok: false, message: 'must be an integer' };
    if (value < min || value > max) return { ok: false, message: `must be between ${min} and ${max}` };
    return { ok: true, value };
  };
const oneOf =
  <T extends string>(...values: T[]): Parser<T> =>
  (raw) =>
    typeof raw === 'string' && (values as string[]).includes(raw.trim())
      ? { ok: true, value: raw.trim() as T }
      : { ok: false, message: `must be one of ${values.join(', ')}` };
const text =
  (minLength = 1): Parser<string> =>
  (raw) =>
    typeof raw === 'string' && raw.length >= minLength
      ? { ok: true, value: raw }
      : { ok: false, message: minLength > 1 ? `must be a string of at least ${minLength} characters` : 'must be a non-empty string' };
const flag: Parser<boolean> = (raw, fromEnv) => {
  const word = fromEnv && typeof raw === 'string' ? raw.trim().toLowerCase() : raw;
  if (word === true || word === 'true' || word === '1') return { ok: true, value: true };
  if (word === false || word === 'false' || word === '0') return { ok: true, value: false };
  return { ok: false, message: 'must be true or false' };
};
const list: Parser<string[]> = (raw) => {
  if (typeof raw === 'string')
    return {
      ok: true,
      value: raw
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    };
  if (Array.isArray(raw) && raw.every((s) => typeof s === 'string')) return { ok: true, value: raw };
  return { ok: false, message: 'must be a comma-separated string or an array of strings' };
};

/**
 * The proxies whose X-Forwarded-For is believed: addresses or CIDRs. `false` (the seed's flag) is
 * none; `true` is refused, as it would believe every hop and let any client choose its address.
 */
const proxies: Parser<string[]> = (raw, fromEnv) => {
  const word = typeof raw === 'string' ? raw.trim().toLowerCase() : raw;
  if (word === false || word === 'false' || word === '0') return { ok: true, value: [] };
  const example = fromEnv ? 'TASKS_TRUST_PROXY=10.0.0.2,10.1.0.0/16' : '"TRUST_PROXY": ["10.0.0.2", "10.1.0.0/16"]';
  const everyHop = `would trust every hop, so any client could choose its own address with X-Forwarded-For; list the addresses or CIDRs of your proxies instead, e.g. ${example}`;
  if (word === true || word === 'true' || word === '1') return { ok: false, message: `true ${everyHop}` };
  const entries = list(raw, fromEnv);
  if (!entries.ok) return entries;
  const value = entries.value.map((entry) => entry.trim()).filter(Boolean);
  const invalid = value.filter((entry) => parseRange(entry) === null);
  if (invalid.length > 0) {
    return { ok: false, message: `${invalid.map((entry) => JSON.stringify(entry)).join(', ')}: not an IP address or a CIDR` };
  }
  const everything = value.find((entry) => parseRange(entry)![1] === 0);
  if (everything !== undefined) return { ok: false, message: `${everything} ${everyHop}` };
  return { ok: true, value };
};

interface Setting<T> {
  /** Dotted path in config.json. */
  key: string;
  env?: string;
  parse: Parser<T>;
  default: T;
  doc: string;
}

const setting = <T>(s: Omit<Setting<T>, 'default'> & { default: NoInfer<T> }): Setting<T> => s;

export const SETTINGS = {
  port: setting({ key: 'PORT', env: 'PORT', parse: int(0, 65535), default: 8202, doc: 'TCP port to listen on (0 picks a free one).' }),
  host: setting({ key: 'HOST', env: 'HOST', parse: text(), default: '0.0.0.0', doc: 'Address to listen on.' }),
  level: setting({
    key: 'LEVEL',
    env: 'TASKS_LEVEL',
    parse: oneOf('DEVELOPMENT', 'PRODUCTION'),
    default: 'DEVELOPMENT',
    doc: 'DEVELOPMENT or PRODUCTION; projects registered in production are `GUEST`, else `DEV`.',
  }),
  inbox: setting<boolean | null>({
    key: 'SERVICE.INBOX.ENABLED',
    env: 'TASKS_INBOX',
    parse: flag,
    default: null,
    doc: "Whether the inbox answers: `/inbox/<project id>` keeps the last 100 requests it receives (encrypted), `GET /v1beta/inbox` shows them, and a project's tasks may target its own inbox on this server. Unset: on at LEVEL DEVELOPMENT, off at PRODUCTION; off, the inbox routes answer 404.",
  }),
  logLevel: setting({
    key: 'LOG_LEVEL',
    env: 'TASKS_LOG_LEVEL',
    parse: oneOf('fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'),
    default: 'info',
    doc: 'Log level of the JSON log on standard output.',
  }),
  metricsToken: setting<string | null>({
    key: 'SERVICE.METRICS.TOKEN',
    env: 'TASKS_METRICS_TOKEN',
    parse: text(16),
    default: null,
    doc: 'Bearer token `GET /metrics` asks for (`Authorization: Bearer <token>`), at least 16 characters; without it, 401 UNAUTHORIZED. Unset: the metrics answer anyone who reaches the port (they name no project or task).',
  }),
  trustProxy: setting({
    key: 'TRUST_PROXY',
    env: 'TASKS_TRUST_PROXY',
    parse: proxies,
    default: [] as string[],
    doc: 'Addresses or CIDRs of your proxies: from a request they pass on, the client address is read from X-Forwarded-For (the nearest hop that is not one of them). `true` is refused: it would let any client choose its address.',
  }),
  maxBodyLength: setting({
    key: 'MODULE.HTTP.MAX_BODY_LENGTH',
    env: 'TASKS_MAX_BODY_LENGTH',
    parse: int(1024, 16 * 1024 * 1024),
    default: 131072,
    doc: 'Largest request body accepted, in bytes; larger answers 413.',
  }),
  maxBatchBodyLength: setting({
    key: 'MODULE.HTTP.MAX_BATCH_BODY_LENGTH',
    env: 'TASKS_MAX_BATCH_BODY_LENGTH',
    parse: int(1024, 256 * 1024 * 1024),
    default: 16 * 1024 * 1024,
    doc: 'Largest body of `POST /v1beta/subscribe/batch` (up to 1,000 subscribe bodies), in bytes; larger answers 413. Every other route keeps MAX_BODY_LENGTH.',
  }),
  headersTimeoutMs: setting({
    key: 'MODULE.HTTP.HEADERS_TIMEOUT_MS',
    env: 'TASKS_HEADERS_TIMEOUT_MS',
    parse: int(100, 600_000),
    default: 10_000,
    doc: "How long a client may take to send a request's headers, from its first byte (or from connecting); past it the request answers 408 and the connection is closed. At most REQUEST_TIMEOUT_MS.",
  }),
  requestTimeoutMs: setting({
    key: 'MODULE.HTTP.REQUEST_TIMEOUT_MS',
    env: 'TASKS_REQUEST_TIMEOUT_MS',
    parse: int(100, 3_600_000),
    default: 30_000,
    doc: 'How long a client may take to send a whole request, headers and body; past it the request answers 408 and the connection is closed. Raise it with MAX_BODY_LENGTH for slow clients.',
  }),
  keepAliveTimeoutMs: setting({
    key: 'MODULE.HTTP.KEEP_ALIVE_TIMEOUT_MS',
    env: 'TASKS_KEEP_ALIVE_TIMEOUT_MS',
    parse: int(100, 600_000),
    default: 72_000,
    doc: "How long a connection is kept open, idle, for the client's next request. Keep it longer than the idle timeout of a load balancer in front (60 s on AWS), or the balancer may send a request on a connection as it closes.",
  }),
  maxConnections: setting({
    key: 'MODULE.HTTP.MAX_CONNECTIONS',
    env: 'TASKS_MAX_CONNECTIONS',
    parse: int(1, 1_000_000),
    default: 4096,
    doc: 'Open API connections per server process; one more is closed as it arrives, unanswered. Bounds the sockets and memory that clients can hold.',
  }),
  maxContentLength: setting({
    key: 'MODULE.HTTP.MAX_CONTENT_LENGTH',
    env: 'TASKS_MAX_CONTENT_LENGTH',
    parse: int(0, 64 * 1024 * 1024),
    default: 131072,
    doc: "Most bytes read of a target's answer; the rest is discarded.",
  }),
  throttleTtl: setting({
    key: 'MODULE.THROTTLER.TTL',
    env: 'TASKS_THROTTLE_TTL',
    parse: int(1, 31_536_000),
    default: 86400,
    doc: 'Window in seconds of the per-project request limit (`LIMIT`).',
  }),
  throttleLimit: setting({
    key: 'MODULE.THROTTLER.LIMIT',
    env: 'TASKS_THROTTLE_LIMIT',
    parse: int(0, 1_000_000_000),
    default: 0,
    doc: 'Requests a project may make per window (every route that needs its token), counted by each server process; more answer 429. 0: no limit.',
  }),
  registerTtl: setting({
    key: 'MODULE.THROTTLER.REGISTER_TTL',
    env: 'TASKS_REGISTER_TTL',
    parse: int(1, 31_536_000),
    default: 3600,
    doc: 'Registration window in seconds, per client address.',
  }),
  registerLimit: setting({
    key: 'MODULE.THROTTLER.REGISTER_LIMIT',
    env: 'TASKS_REGISTER_LIMIT',
    parse: int(1, 1_000_000_000),
    default: 10,
    doc: 'Projects a client address may register per registration window.',
  }),
  authFailureTtl: setting({
    key: 'MODULE.THROTTLER.AUTH_FAILURE_TTL',
    env: 'TASKS_AUTH_FAILURE_TTL',
    parse: int(1, 86_400),
    default: 600,
    doc: 'Window in seconds over which failed authentications are counted, per client address.',
  }),
  authFailureLimit: setting({
    key: 'MODULE.THROTTLER.AUTH_FAILURE_LIMIT',
    env: 'TASKS_AUTH_FAILURE_LIMIT',
    parse: int(1, 1_000_000),
    default: 20,
    doc: 'Failed authentications a client address may make per window; past it, its requests answer 429 until the window ends, but for those with a valid token for a project the server already holds.',
  }),
  queueLimit: setting({
    key: 'SERVICE.QUEUE.LIMIT',
    env: 'TASKS_QUEUE_LIMIT',
    parse: int(1, 100_000_000),
    default: 1000,
    doc: 'Tasks a project may hold RUNNING or PAUSED at once (`taskInQueueLimit`).',
  }),
  cryptoKey: setting<string | null>({
    key: 'SERVICE.CRYPTO.KEY',
    env: 'TASKS_CRYPTO_KEY',
    parse: text(32),
    default: null,
    doc: 'Key that encrypts stored requests: 64 hex characters, base64 of 32 bytes, or any string of 32+ characters (stretched with HKDF). Unset: a key is generated on first start and kept beside the database (`tasks.key`, mode 0600).',
  }),
  allowTargets: setting({
    key: 'SERVICE.TARGETS.ALLOW',
    env: 'TASKS_ALLOW_TARGETS',
    parse: list,
    default: [] as string[],
    doc: 'Targets exempt from the private-address guard: CIDRs, addresses or host names (`*.example.internal`), each with an optional port, e.g. `127.0.0.1:8203`, `[::1]:8203`, `10.0.0.0/8:443`.',
  }),
  denyTargets: setting({
    key: 'SERVICE.TARGETS.DENY',
    env: 'TASKS_DENY_TARGETS',
    parse: list,
    default: [] as string[],
    doc: "Targets refused even when allowed, in the same form, e.g. the server's public address behind NAT. The server's own listening endpoints and cloud platform addresses (`168.63.129.16`, `169.254.169.254`, …) are always refused.",
  }),
  dnsServers: setting({
    key: 'SERVICE.DNS.SERVERS',
    env: 'TASKS_DNS_SERVERS',
    parse: list,
    default: [] as string[],
    doc: "DNS servers that resolve targets' host names (`1.1.1.1`, `127.0.0.1:5353`, `[::1]:53`); unset: the system's. The hosts file and `localhost` are answered first.",
  }),
  dnsTimeoutMs: setting({
    key: 'SERVICE.DNS.TIMEOUT_MS',
    env: 'TASKS_DNS_TIMEOUT_MS',
    parse: int(100, 60_000),
    default: 5_000,
    doc: "Longest time a target's host name lookup may take; then the attempt fails (and is retried per the task's policy).",
  }),
  concurrency: setting({
    key: 'SERVICE.DISPATCH.CONCURRENCY',
    env: 'TASKS_CONCURRENCY',
    parse: int(1, 10_000),
    default: 128,
    doc: 'Requests to targets in flight at once, per server process.',
  }),
  projectShare: setting({
    key: 'SERVICE.DISPATCH.PROJECT_SHARE',
    env: 'TASKS_PROJECT_SHARE',
    parse: int(1, 100),
    default: 75,
    doc: "Percent of a server's dispatch slots one project may fill; its tasks beyond that wait in the store (they neither fail nor use up attempts), so a project whose target hangs leaves slots for the others. 100 turns it off.",
  }),
  hostShare: setting({
    key: 'SERVICE.DISPATCH.HOST_SHARE',
    env: 'TASKS_HOST_SHARE',
    parse: int(1, 100),
    default: 75,
    doc: "Percent of a server's dispatch slots the tasks for one target host may fill, across projects. 100 turns it off.",
  }),
  leaseMs: setting({
    key: 'SERVICE.DISPATCH.LEASE_MS',
    env: 'TASKS_LEASE_MS',
    parse: int(1_000, 600_000),
    default: 15_000,
    doc: 'How long a claimed task stays claimed without renewal; renewed every third of it while its request runs. A process that dies gives its tasks back after this long.',
  }),
  aheadMs: setting({
    key: 'SERVICE.DISPATCH.AHEAD_MS',
    env: 'TASKS_AHEAD_MS',
    parse: int(0, 1_000),
    default: 25,
    doc: 'How far ahead of its due time a task is claimed, its request opened and signed; it is then sent at its due time, never before, so a burst due at one instant goes out back to back. A task paused or cancelled within this window of its due time may still be sent once, as one whose request is under way. 0 claims tasks only once due.',
  }),
  pollMs: setting({
    key: 'SERVICE.DISPATCH.POLL_MS',
    env: 'TASKS_POLL_MS',
    parse: int(50, 3_600_000),
    default: 1_000,
    doc: 'Longest time the dispatcher waits without looking at the store; writes that make a task due sooner wake it at once (across servers on Redis), so this only bounds how late a missed wake-up can make a task.',
  }),
  scheduleLeadMs: setting({
    key: 'SERVICE.SCHEDULES.LEAD_MS',
    env: 'TASKS_SCHEDULE_LEAD_MS',
    parse: int(100, 60_000),
    default: 1_250,
    doc: "How far ahead of its instant a schedule's run becomes a task (executing at the instant): the dispatcher's own timer then sends it on time.",
  }),
  scheduleLimit: setting({
    key: 'SERVICE.SCHEDULES.MAX_PER_PROJECT',
    env: 'TASKS_SCHEDULE_LIMIT',
    parse: int(1, 1_000_000),
    default: 1_000,
    doc: 'Most schedules one project may hold (paused ones count); creating one more answers 409 SCHEDULES_FULL.',
  }),
  scheduleCatchUpMax: setting({
    key: 'SERVICE.SCHEDULES.CATCH_UP_MAX',
    env: 'TASKS_SCHEDULE_CATCH_UP_MAX',
    parse: int(1, 10_000),
    default: 100,
    doc: 'Most runs a schedule with catch-up policy `all` makes for the runs it missed while no server ran (the latest ones).',
  }),
  shutdownGraceMs: setting({
    key: 'SERVICE.DISPATCH.SHUTDOWN_GRACE_MS',
    env: 'TASKS_SHUTDOWN_GRACE_MS',
    parse: int(0, 600_000),
    default: 10_000,
    doc: 'On SIGTERM/SIGINT, how long requests in flight may take to finish before they are aborted (and run again after the restart).',
  }),
  signingGraceSeconds: setting({
    key: 'SERVICE.SIGNING.GRACE_SECONDS',
    env: 'TASKS_SIGNING_GRACE',
    parse: int(0, 2_592_000),
    default: 86_400,
    doc: "After `POST /v1beta/signing-secret` rotates a project's signing secret, how long every delivery is signed with the old secret as well as the new one (two signatures in `webhook-signature`), so receivers can switch over.",
  }),
  breakersCacheMs: setting({
    key: 'SERVICE.BREAKERS.CACHE_MS',
    env: 'TASKS_BREAKERS_CACHE_MS',
    parse: int(50, 60_000),
    default: 1_000,
    doc: "How long a server keeps a project's circuit breakers (its policy and its circuits that are not closed) before reading them again from the store. Within this time a circuit opened or a policy set through another server is not yet seen here; through this server, at once.",
  }),
  idempotencyWindowSeconds: setting({
    key: 'SERVICE.IDEMPOTENCY.WINDOW_SECONDS',
    env: 'TASKS_IDEMPOTENCY_WINDOW',
    parse: int(1, 2_592_000),
    default: 86_400,
    doc: "How long a subscribe's `Idempotency-Key` is remembered: the same key with the same body within this time answers the task it made (200, `Idempotent-Replayed: true`) instead of making another.",
  }),
  databaseUrl: setting<string | null>({
    key: 'DATABASE.URL',
    env: 'TASKS_DB',
    parse: text(),
    default: null,
    doc: 'Where tasks live: `sqlite:./data/tasks.db` (default), `sqlite::memory:`, or `redis://[user:pass@]host:port` (`rediss://` for TLS).',
  }),
  sqliteSynchronous: setting({
    key: 'DATABASE.SQLITE.SYNCHRONOUS',
    env: 'TASKS_SQLITE_SYNCHRONOUS',
    parse: oneOf('NORMAL', 'FULL'),
    default: 'NORMAL',
    doc: 'NORMAL survives a crash of the process (kill -9); FULL also survives power loss, at a lower write rate.',
  }),
  redisHost: setting<string | null>({
    key: 'DATABASE.REDIS.HOST',
    parse: text(),
    default: null,
    doc: 'Redis host, used when DATABASE.URL/TASKS_DB is not set.',
  }),
  redisPort: setting({ key: 'DATABASE.REDIS.PORT', parse: int(1, 65535), default: 6379, doc: 'Redis port.' }),
  redisUsername: setting<string | null>({ key: 'DATABASE.REDIS.USERNAME', parse: text(), default: null, doc: 'Redis ACL user.' }),
  redisPassword: setting<string | null>({ key: 'DATABASE.REDIS.PASSWORD', parse: text(), default: null, doc: 'Redis password.' }),
  retentionSeconds: setting({
    key: 'DATABASE.REDIS.EXPIRATION_KEY',
    env: 'TASKS_RETENTION',
    parse: int(1, 31_536_000),
    default: 259200,
    doc: 'Seconds a finished task and its timeline are kept (both stores), then deleted.',
  }),
} as const;

type SettingValues = { [K in keyof typeof SETTINGS]: (typeof SETTINGS)[K] extends Setting<infer T> ? T : never };

export type StoreTarget = { kind: 'sqlite'; path: string } | { kind: 'redis'; url: string };

export interface AppConfig extends SettingValues {
  store: StoreTarget;
  allowList: TargetList;
  denyList: TargetList;
  /** Where the configuration file was read from, or null when none was. */
  configFile: string | null;
  /** Where each setting that is not its default came from (start-up logs say, e.g., where the key came from). */
  from: Partial<Record<keyof SettingValues, SettingSource>>;
}

/** Where a setting's value came from: its environment variable or the configuration file. */
export type SettingSource = 'environment' | 'file';

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export const DEFAULT_CONFIG_FILE = 'resource/config/config.json';

function knownKeys(): Set<string> {
  const keys = new Set<string>();
  for (const s of Object.values(SETTINGS)) {
    const parts = s.key.split('.');
    for (let i = 1; i <= parts.length; i++) keys.add(parts.slice(0, i).join('.'));
  }
  return keys;
}

const LEAF_KEYS = new Set(Object.values(SETTINGS).map((s) => s.key));

function unknownKeys(value: unknown, prefix: string, known: Set<string>, out: string[]): void {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return;
  for (const [k, v] of Object.entries(value)) {
    const path = prefix ? `${prefix}.${k}` : k;
    if (!known.has(path)) out.push(`${path}: unknown key in the configuration file`);
    else if (!LEAF_KEYS.has(path) && (typeof v !== 'object' || v === null || Array.isArray(v))) {
      out.push(`${path}: must be an object (it groups other keys)`);
    } else unknownKeys(v, path, known, out);
  }
}

function at(source: unknown, path: string): unknown {
  let cursor: unknown = source;
  for (const part of path.split('.')) {
    if (typeof cursor !== 'object' || cursor === null) return undefined;
    cursor = (cursor as Record<string, unknown>)[part];
  }
  return cursor;
}

/**
 * The configuration document read from somewhere other than a local file (Secret Manager): what
 * messages call it, and its text.
 */
export interface ConfigDocument {
  name: string;
  text: string;
}

/** Where the configuration document comes from in production: a Google Cloud Secret Manager version. */
export interface SecretSource {
  /** A service account's key file (JSON), whose account may access the secret. */
  keyFilename: string;
  /** The version's resource name: `projects/<project>/secrets/<secret>/versions/<version or latest>`. */
  version: string;
  /** The Secret Manager API: Google's, or a regional or private endpoint. */
  endpoint: string;
}

const SECRET_VERSION = /^projects\/[^/]+\/secrets\/[^/]+\/versions\/[^/]+$/;
export const SECRET_MANAGER_ENDPOINT = 'https://secretmanager.googleapis.com';

/**
 * The seed's production path: with `TASKS_KEY_FILENAME` and `TASKS_VERSION` set, the configuration
 * document is a Secret Manager version rather than a local file. These three are read from the
 * environment only: they say where the document is. Null when neither is set.
 */
export function secretSourceOf(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): SecretSource | null {
  const keyFilename = env.TASKS_KEY_FILENAME || undefined;
  const version = env.TASKS_VERSION || undefined;
  if (keyFilename === undefined && version === undefined) return null;
  const problems: string[] = [];
  if (keyFilename === undefined)
    problems.push('TASKS_KEY_FILENAME (environment): must be set with TASKS_VERSION (a service account key file)');
  if (version === undefined) problems.push('TASKS_VERSION (environment): must be set with TASKS_KEY_FILENAME (the secret version to read)');
  else if (!SECRET_VERSION.test(version)) {
    problems.push('TASKS_VERSION (environment): must be a version name, projects/<project>/secrets/<secret>/versions/<number or latest>');
  }
  const endpoint = env.TASKS_SECRET_MANAGER_ENDPOINT || SECRET_MANAGER_ENDPOINT;
  try {
    const url = new URL(endpoint);
    if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.pathname !== '/' || url.search !== '') throw new Error();
  } catch {
    problems.push(`TASKS_SECRET_MANAGER_ENDPOINT (environment): "${endpoint}" must be an http(s) origin, e.g. ${SECRET_MANAGER_ENDPOINT}`);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return { keyFilename: resolve(cwd, keyFilename!), version: version!, endpoint };
}

/** Reads the local configuration file (or the one TASKS_CONFIG names): its values and where it was. */
function localDocument(env: NodeJS.ProcessEnv, cwd: string, problems: string[]): ConfigDocument | null {
  const explicitFile = env.TASKS_CONFIG === '' ? undefined : env.TASKS_CONFIG;
  const file = resolve(cwd, explicitFile ?? DEFAULT_CONFIG_FILE);
  if (existsSync(file)) return { name: file, text: readFileSync(file, 'utf8') };
  if (explicitFile !== undefined) problems.push(`TASKS_CONFIG: file ${file} does not exist`);
  return null;
}

/**
 * Reads and validates the whole configuration; throws ConfigError listing every problem. The
 * document is `document` when given (read from Secret Manager), the local file otherwise.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd(), document?: ConfigDocument): AppConfig {
  const problems: string[] = [];
  const source = document ?? localDocument(env, cwd, problems);
  const file = source?.name ?? '';
  let fileValues: unknown = {};
  if (source) {
    try {
      fileValues = JSON.parse(source.text) as unknown;
      if (typeof fileValues !== 'object' || fileValues === null || Array.isArray(fileValues)) {
        problems.push(`${file}: must hold a JSON object`);
        fileValues = {};
      }
    } catch (error) {
      problems.push(`${file}: not valid JSON (${(error as Error).message})`);
    }
  }
  const configFile = source?.name ?? null;
  unknownKeys(fileValues, '', knownKeys(), problems);

  const values: Record<string, unknown> = {};
  const from: Record<string, SettingSource> = {};
  for (const [name, s] of Object.entries(SETTINGS) as [string, Setting<unknown>][]) {
    let value = s.default;
    const fromFile = at(fileValues, s.key);
    if (fromFile !== undefined) {
      const parsed = s.parse(fromFile, false);
      if (parsed.ok) [value, from[name]] = [parsed.value, 'file'];
      else problems.push(`${s.key} (in ${file}): ${parsed.message}`);
    }
    const fromEnv = s.env ? env[s.env] : undefined;
    if (fromEnv !== undefined && fromEnv !== '') {
      const parsed = s.parse(fromEnv, true);
      if (parsed.ok) [value, from[name]] = [parsed.value, 'environment'];
      else problems.push(`${s.env} (environment): ${parsed.message}`);
    }
    values[name] = value;
  }
  const settings = values as SettingValues;

  // Node refuses a server whose headers may take longer than the whole request.
  if (settings.headersTimeoutMs > settings.requestTimeoutMs) {
    problems.push(
      `MODULE.HTTP.HEADERS_TIMEOUT_MS / TASKS_HEADERS_TIMEOUT_MS: ${settings.headersTimeoutMs} must not exceed the request timeout (${settings.requestTimeoutMs})`,
    );
  }

  const allowList = parseTargetList(settings.allowTargets);
  for (const entry of allowList.invalid) {
    problems.push(`TASKS_ALLOW_TARGETS: "${entry}" is not a CIDR, an IP address or a host name (with an optional :port)`);
  }
  const denyList = parseTargetList(settings.denyTargets);
  for (const entry of denyList.invalid) {
    problems.push(`TASKS_DENY_TARGETS: "${entry}" is not a CIDR, an IP address or a host name (with an optional :port)`);
  }
  for (const server of settings.dnsServers) {
    try {
      new Resolver().setServers([server]);
    } catch {
      problems.push(`TASKS_DNS_SERVERS: "${server}" is not an IP address with an optional port (e.g. 1.1.1.1, 127.0.0.1:5353, [::1]:53)`);
    }
  }

  let store: StoreTarget = { kind: 'sqlite', path: resolve(cwd, 'data/tasks.db') };
  const url = settings.databaseUrl ?? (settings.redisHost ? redisUrlFrom(settings) : null);
  if (url !== null) {
    const parsed = parseStoreUrl(url, cwd);
    if (typeof parsed === 'string') problems.push(`TASKS_DB / DATABASE.URL: ${parsed}`);
    else store = parsed;
  }

  if (problems.length > 0) throw new ConfigError(problems);
  return { ...settings, store, allowList, denyList, configFile, from };
}

function redisUrlFrom(s: SettingValues): string {
  const auth =
    s.redisUsername || s.redisPassword ? `${encodeURIComponent(s.redisUsername ?? '')}:${encodeURIComponent(s.redisPassword ?? '')}@` : '';
  return `redis://${auth}${s.redisHost}:${s.redisPort}`;
}

export function parseStoreUrl(url: string, cwd: string): StoreTarget | string {
  if (url === 'sqlite::memory:') return { kind: 'sqlite', path: ':memory:' };
  if (url.startsWith('sqlite:')) {
    const path = url.slice('sqlite:'.length).replace(/^\/\//, '');
    if (path === '') return 'a sqlite: URL needs a file path, e.g. sqlite:./data/tasks.db';
    return { kind: 'sqlite', path: resolve(cwd, path) };
  }
  if (url.startsWith('redis://') || url.startsWith('rediss://')) {
    try {
      new URL(url);
    } catch {
      return `"${redact(url)}" is not a valid Redis URL`;
    }
    return { kind: 'redis', url };
  }
  return `"${redact(url)}" must start with sqlite: or redis:// or rediss://`;
}

/** Whether the inbox is on: as set, else on at LEVEL DEVELOPMENT only. */
export function inboxEnabled(config: Pick<AppConfig, 'inbox' | 'level'>): boolean {
  return config.inbox ?? config.level === 'DEVELOPMENT';
}

/** The store as start-up logs name it: a SQLite file's path, or a Redis URL without its credentials. */
export function describeStore(store: StoreTarget): string {
  return store.kind === 'sqlite' ? `SQLite ${store.path === ':memory:' ? '(in memory)' : store.path}` : `Redis ${redact(store.url)}`;
}

function redact(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}
