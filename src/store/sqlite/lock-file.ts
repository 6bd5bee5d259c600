import { lstatSync, readFileSync, readlinkSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
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
 *
 * The lock must be one per database file, not per path that names it. Its name is derived from the
 * file's real path (symbolic links resolved, as SQLite resolves them for its -wal and -shm files),
 * so every symbolic link and every mount of the folder reaches the same lock file, which the kernel
 * locks by inode. A hard link is a second real path: a database file with more than one link is
 * refused outright, since SQLite names its -wal and -shm files after the path it was opened by and
 * a server reaching the file by another link (even after the first stopped) would miss the writes
 * still in the first one's WAL. Guarded by test/store/sqlite-lock.test.ts.
 */

/** The lock file of the database at `path`, whatever link or folder mount names it. */
export function lockPathFor(path: string): string {
  return `${realPath(path)}.lock`;
}

/**
 * Refuses a database file with more than one hard link (see above). A file not created yet has
 * none to refuse.
 */
export function refuseHardLinks(path: string): void {
  let links: number;
  try {
    links = statSync(path).nlink;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  if (links <= 1) return;
  const real = realPath(path);
  throw new Error(
    `The database file ${real} has ${links} hard links. SQLite names its -wal and -shm files after the path it opens, so ` +
      'a server reaching the file through another link would miss writes in the WAL and could corrupt it, and two servers ' +
      `could write it at once. Keep one link: find the others with \`find ${dirname(real)} -samefile ${real}\` (and ` +
      'elsewhere on that file system) and remove them.',
  );
}

/** The path with every symbolic link resolved; for a file not created yet, its folder's (and a link's target). */
export function realPath(path: string, depth = 0): string {
  try {
    return realpathSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || depth > 32) throw error;
  }
  // A link to a file not created yet: SQLite creates the file it points to.
  if (isSymlink(path)) return realPath(resolve(dirname(path), readlinkSync(path)), depth + 1);
  return join(realpathSync(dirname(path)), basename(path));
}

function isSymlink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}

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
