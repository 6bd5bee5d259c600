import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import Database from 'better-sqlite3';

/*
 * One server process per SQLite database: the embedded store assumes it is the only scheduler, so
 * that at start every lease left behind belongs to a process that is gone. A second process on the
 * same file is refused with a clear message instead of delivering tasks twice.
 *
 * The lock is an exclusive SQLite lock on `<db>.lock`, held for the life of the store: the kernel
 * drops it when the process dies however it dies, so a crash never leaves a lock that blocks the
 * next start (a pid file would, once the pid is reused — after a reboot, or as PID 1 in a
 * container). `<db>.lock.pid` only says who holds it, for the message.
 */

export interface LockFile {
  release(): void;
}

export function acquireLockFile(path: string): LockFile {
  const open = (): Database.Database => {
    const db = new Database(path);
    db.pragma('busy_timeout = 0');
    db.pragma('locking_mode = EXCLUSIVE');
    db.pragma('journal_mode = MEMORY'); // the lock database holds nothing: no journal file beside it
    return db;
  };
  let db: Database.Database;
  try {
    db = open();
    db.exec('BEGIN EXCLUSIVE');
  } catch (error) {
    const code = (error as { code?: string }).code ?? '';
    if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED') {
      let holder = 'another process';
      try {
        holder = `pid ${readFileSync(`${path}.pid`, 'utf8').trim()}`;
      } catch {
        // No pid recorded yet: the holder is starting.
      }
      throw new Error(
        `Another Kuueri Tasks process (${holder}) is using this database (lock ${path}). ` +
          'Run one server per SQLite database, or use Redis (TASKS_DB=redis://...) for several.',
        { cause: error },
      );
    }
    if (code !== 'SQLITE_NOTADB') throw error;
    // A lock file from an older version (a plain pid file): nobody can hold it as a lock.
    rmSync(path, { force: true });
    db = open();
    db.exec('BEGIN EXCLUSIVE');
  }
  writeFileSync(`${path}.pid`, String(process.pid), { mode: 0o600 });
  let released = false;
  return {
    release() {
      if (released) return;
      released = true;
      rmSync(`${path}.pid`, { force: true });
      db.close();
    },
  };
}
