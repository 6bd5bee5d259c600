import type Database from 'better-sqlite3';
import { type AttemptRecord, ERROR_CLASSES, type ErrorClass } from '../../core/attempt-log.js';
import { ATTEMPT_LOG } from '../../core/limits.js';
import type { AttemptPage, AttemptRange } from '../task-store.js';

/*
 * The SQLite side of the attempt log (migration 011): a task's records keyed by its rid and their
 * number. SqliteStore writes a record in the write batch of the outcome it belongs to, and cuts the
 * log to ATTEMPT_LOG.maxEntries there: numbers grow by one per attempt, so the cut is one range
 * delete below the newest number, without counting rows.
 */

interface AttemptRow {
  number: number;
  started_at: number;
  duration_ms: number;
  status_code: number;
  error_class: string | null;
  excerpt: Buffer | null;
}

const CLASSES = new Set<string>(ERROR_CLASSES);

function recordFromRow(row: AttemptRow): AttemptRecord {
  return {
    number: row.number,
    startedAt: row.started_at,
    durationMs: row.duration_ms,
    statusCode: row.status_code,
    errorClass: row.error_class === null ? null : CLASSES.has(row.error_class) ? (row.error_class as ErrorClass) : 'other',
    excerpt: row.excerpt,
  };
}

/** Statements on the `attempts` table; each write is one call inside the caller's transaction. */
export class AttemptLogTable {
  private readonly stmt;

  constructor(db: Database.Database) {
    this.stmt = {
      insert: db.prepare<[number, number, number, number, number, string | null, Uint8Array | null]>(
        `INSERT OR REPLACE INTO attempts (task_rid, number, started_at, duration_ms, status_code, error_class, excerpt)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
      ),
      cut: db.prepare<[number, number]>('DELETE FROM attempts WHERE task_rid = ? AND number <= ?'),
      // Limit -1 reads to the end.
      read: db.prepare<[number, number, number], AttemptRow>(
        `SELECT number, started_at, duration_ms, status_code, error_class, excerpt FROM attempts
         WHERE task_rid = ? AND number < ? ORDER BY number DESC LIMIT ?`,
      ),
      deleteAll: db.prepare<[number]>('DELETE FROM attempts WHERE task_rid = ?'),
      count: db.prepare<[number], { n: number }>('SELECT count(*) AS n FROM attempts WHERE task_rid = ?'),
    };
  }

  /**
   * Adds the record to the log of the task whose row is `rid` (the outcome's UPDATE answers it) and
   * keeps the log's latest ATTEMPT_LOG.maxEntries: nothing is cut until a task has made more attempts.
   */
  write(rid: number, record: AttemptRecord): void {
    this.stmt.insert.run(rid, record.number, record.startedAt, record.durationMs, record.statusCode, record.errorClass, record.excerpt);
    if (record.number > ATTEMPT_LOG.maxEntries) this.stmt.cut.run(rid, record.number - ATTEMPT_LOG.maxEntries);
  }

  read(rid: number, page: AttemptRange): AttemptPage {
    // One row more than the page tells whether there is a next one.
    const rows = this.stmt.read.all(rid, page.before ?? Number.MAX_SAFE_INTEGER, page.limit + 1);
    const more = rows.length > page.limit;
    if (more) rows.pop();
    const attempts = rows.map(recordFromRow);
    return { attempts, next: more ? attempts.at(-1)!.number : null };
  }

  /** The records the task whose row is `rid` has (at most ATTEMPT_LOG.maxEntries). */
  count(rid: number): number {
    return this.stmt.count.get(rid)!.n;
  }

  deleteAll(rid: number): void {
    this.stmt.deleteAll.run(rid);
  }
}
