import type { AppConfig } from '../config.js';
import type { Clock } from '../core/clock.js';
import { RedisStore } from './redis/redis-store.js';
import { SqliteStore } from './sqlite/sqlite-store.js';
import type { TaskStore } from './task-store.js';

/**
 * Opens the store that configuration names (TASKS_DB). `clock` is this process's clock (default:
 * the system's); the store's own clock (`TaskStore.clock`) is built on it.
 */
export async function openStore(
  config: Pick<AppConfig, 'store' | 'sqliteSynchronous' | 'retentionSeconds'>,
  clock?: Clock,
): Promise<TaskStore> {
  switch (config.store.kind) {
    case 'sqlite':
      return new SqliteStore({ path: config.store.path, synchronous: config.sqliteSynchronous, clock });
    case 'redis':
      return RedisStore.connect({ url: config.store.url, retentionSeconds: config.retentionSeconds, clock });
  }
}
