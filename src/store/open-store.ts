import type { AppConfig } from '../config.js';
import { RedisStore } from './redis/redis-store.js';
import { SqliteStore } from './sqlite/sqlite-store.js';
import type { TaskStore } from './task-store.js';

/** Opens the store that configuration names (TASKS_DB). */
export async function openStore(config: Pick<AppConfig, 'store' | 'sqliteSynchronous' | 'retentionSeconds'>): Promise<TaskStore> {
  switch (config.store.kind) {
    case 'sqlite':
      return new SqliteStore({ path: config.store.path, synchronous: config.sqliteSynchronous });
    case 'redis':
      return RedisStore.connect({ url: config.store.url, retentionSeconds: config.retentionSeconds });
  }
}
