/*
 * The settings the tests start a server with, in this process (test-server.ts) or in its own
 * (server-process.ts): listening on a free loopback port, targets on loopback allowed (the guard
 * refuses them by default), and rate limits no test reaches unless it sets its own; plus the store.
 */
import { join } from 'node:path';

const BASE_ENV: Readonly<Record<string, string>> = {
  PORT: '0',
  HOST: '127.0.0.1',
  TASKS_ALLOW_TARGETS: '127.0.0.0/8',
  TASKS_THROTTLE_LIMIT: '1000000',
  TASKS_REGISTER_LIMIT: '1000000',
  TASKS_AUTH_FAILURE_LIMIT: '1000000',
};

/** A server in this process: silent, and a short shutdown grace so a test's `close` is quick. */
export const IN_PROCESS_ENV: Readonly<Record<string, string>> = { ...BASE_ENV, TASKS_LOG_LEVEL: 'silent', TASKS_SHUTDOWN_GRACE_MS: '2000' };

/** A server in its own process: it logs at info (the tests read its log lines), with room for many tasks. */
export const PROCESS_ENV: Readonly<Record<string, string>> = { ...BASE_ENV, TASKS_LOG_LEVEL: 'info', TASKS_QUEUE_LIMIT: '100000' };

/** The key of the servers the tests start on Redis (the Redis store requires one). */
export const TEST_CRYPTO_KEY = 'e'.repeat(64);

export type StoreKind = 'sqlite' | 'redis';

/** The store settings: the redis-server at `redisUrl` when given (with the crypto key), else a SQLite file in `dir`. */
export function storeEnv(dir: string, redisUrl?: string | null): Record<string, string> {
  return redisUrl ? { TASKS_DB: redisUrl, TASKS_CRYPTO_KEY: TEST_CRYPTO_KEY } : { TASKS_DB: `sqlite:${join(dir, 'tasks.db')}` };
}
