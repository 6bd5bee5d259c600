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

/** Reads the holder's pid, giving a process that has just created the file a moment to write it. */
function readHolder(path: string): number | null {
  for (let attempt = 0; attempt < 20; attempt++) {
    const text = readFileSync(path, 'utf8').trim();
    if (text !== '') return Number(text);
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
  }
  return null;
}

export function acquireLockFile(path: string): LockFile {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      let released = false;
      return {
        release() {
          if (released) return;
          released = true;
          try {
            if (readFileSync(path, 'utf8') === String(process.pid)) unlinkSync(path);
          } catch {
            // Already gone: nothing to release.
          }
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = readHolder(path);
      if (holder === process.pid) {
        throw new Error(`This process already has the database open (lock file ${path})`, { cause: error });
      }
      if (holder !== null && Number.isInteger(holder) && holder > 0 && isAlive(holder)) {
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
