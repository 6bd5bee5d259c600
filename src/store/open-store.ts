import type { AppConfig } from '../config.js';
import { SqliteStore } from './sqlite/sqlite-store.js';
import type { TaskStore } from './task-store.js';

/** Opens the store that configuration names (TASKS_DB). */
export async function openStore(config: Pick<AppConfig, 'store' | 'sqliteSynchronous' | 'retentionSeconds'>): Promise<TaskStore> {
  switch (config.store.kind) {
    case 'sqlite':
      return new SqliteStore({ path: config.store.path, synchronous: config.sqliteSynchronous });
    case 'redis':
      throw new Error('The Redis store is not available in this build yet; use TASKS_DB=sqlite:...');
  }
}
