import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';

/**
 * One server process per SQLite database: the embedded store assumes it is the only scheduler, so
 * that at start every lease left behind belongs to a process that is gone. A second process on the
 * same file is refused with a clear message instead of delivering tasks twice.
 */
export interface LockFile {
  release(): void;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function acquireLockFile(path: string): LockFile {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return {
        release() {
          try {
            if (readFileSync(path, 'utf8') === String(process.pid)) unlinkSync(path);
          } catch {
            // Already gone: nothing to release.
          }
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = Number(readFileSync(path, 'utf8').trim());
      if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && isAlive(holder)) {
        throw new Error(
          `Another Kuueri Tasks process (pid ${holder}) is using this database (lock file ${path}). ` +
            'Run one server per SQLite database, or use Redis (TASKS_DB=redis://...) for several.',
          { cause: error },
        );
      }
      // The holder died without cleaning up (kill -9): the lock is stale.
      unlinkSync(path);
    }
  }
  throw new Error(`Could not take the lock file ${path}`);
}
