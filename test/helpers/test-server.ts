/*
 * The real server (API + dispatcher + SQLite file in a temporary folder) started in this process on
 * a free port. Targets on 127.0.0.0/8 are allowed explicitly, as the guard refuses them by default.
 * With KUUERI_TEST_STORE=redis (scripts/run-tests.mjs runs the HTTP suite a second time so), each
 * server gets its own real redis-server instead: the same tests, on the other store.
 */
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { type RunningServer, type ServerOverrides, startServer } from '../../src/server.js';
import { ApiClient } from './api-client.js';
import { type RedisServer, startRedisServer } from './redis-server.js';
import { IN_PROCESS_ENV, type StoreKind, storeEnv } from './server-env.js';
import { makeTempDir, removeDir } from './temp-dir.js';

/** The store of the servers started here: a redis-server with KUUERI_TEST_STORE=redis, else SQLite. */
export const TEST_STORE: StoreKind = process.env.KUUERI_TEST_STORE === 'redis' ? 'redis' : 'sqlite';

export interface TestServer {
  server: RunningServer;
  client: ApiClient;
  url: string;
  dir: string;
  /** The redis-server's URL when the store is Redis (for tests that read what it holds), else null. */
  redisUrl: string | null;
  close(): Promise<void>;
}

const sharedRedis = new Map<string, Promise<RedisServer>>();
const startedRedis: RedisServer[] = [];

/** One redis-server per test folder, alive until the test process exits. */
function redisFor(dir: string): Promise<RedisServer> {
  let server = sharedRedis.get(dir);
  if (!server) {
    server = startRedisServer().then((started) => {
      startedRedis.push(started);
      return started;
    });
    sharedRedis.set(dir, server);
    if (sharedRedis.size === 1) process.once('exit', () => startedRedis.forEach((s) => s.killSync()));
  }
  return server;
}

export async function startTestServer(
  options: { env?: Record<string, string>; overrides?: ServerOverrides; dir?: string } = {},
): Promise<TestServer> {
  const dir = options.dir ?? makeTempDir('test');
  // A server restarted on the same `dir` finds its data again: on Redis, the same redis-server.
  const redis = TEST_STORE === 'redis' ? (options.dir ? await redisFor(options.dir) : await startRedisServer()) : null;
  const env = { ...storeEnv(dir, redis?.url), ...IN_PROCESS_ENV, ...options.env };
  try {
    const config = loadConfig(env, dir);
    const logger = createLogger(config.logLevel);
    const server = await startServer(config, logger, options.overrides);
    return {
      server,
      client: new ApiClient(server.url),
      url: server.url,
      dir,
      redisUrl: redis?.url ?? null,
      async close() {
        await server.close();
        if (!options.dir) {
          await redis?.close();
          removeDir(dir);
        }
      },
    };
  } catch (error) {
    if (!options.dir) await redis?.close();
    throw error;
  }
}
