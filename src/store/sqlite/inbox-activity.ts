import type Database from 'better-sqlite3';
import { ACTIVITY_KEEP_MS, type ActivityCount, type InboxRecord } from '../task-store.js';

/*
 * The SQLite side of the inbox and the activity counts (migration 007), kept apart from the task
 * tables: SqliteStore runs these writes in its write batches and its reads as they come.
 */

const MINUTE_MS = 60_000;

/** Statements on the `inbox` and `activity` tables; each write is one call inside the caller's transaction. */
export class InboxActivityTables {
  private readonly stmt;
  /** The minute up to which old activity rows were deleted: deleting runs once per new minute, not per flush. */
  private prunedBefore = 0;

  constructor(db: Database.Database) {
    this.stmt = {
      pushInbox: db.prepare<[string, string, Uint8Array]>('INSERT OR REPLACE INTO inbox (project_id, id, sealed) VALUES (?, ?, ?)'),
      trimInbox: db.prepare<[string, string, number]>(
        'DELETE FROM inbox WHERE project_id = ? AND id IN (SELECT id FROM inbox WHERE project_id = ? ORDER BY id DESC LIMIT -1 OFFSET ?)',
      ),
      readInbox: db.prepare<[string], { id: string; sealed: Buffer }>('SELECT id, sealed FROM inbox WHERE project_id = ? ORDER BY id DESC'),
      clearInbox: db.prepare<[string]>('DELETE FROM inbox WHERE project_id = ?'),
      addActivity: db.prepare<[string, number, number, number]>(
        `INSERT INTO activity (project_id, minute, delivered, failed) VALUES (?, ?, ?, ?)
         ON CONFLICT (project_id, minute) DO UPDATE SET delivered = delivered + excluded.delivered, failed = failed + excluded.failed`,
      ),
      pruneActivity: db.prepare<[number]>('DELETE FROM activity WHERE minute < ?'),
      readActivity: db.prepare<[string, number, number], { minute: number; delivered: number; failed: number }>(
        'SELECT minute, delivered, failed FROM activity WHERE project_id = ? AND minute >= ? AND minute < ? ORDER BY minute',
      ),
    };
  }

  pushInbox(projectId: string, record: InboxRecord, keep: number): void {
    this.stmt.pushInbox.run(projectId, record.id, record.sealed);
    this.stmt.trimInbox.run(projectId, projectId, keep);
  }

  readInbox(projectId: string): InboxRecord[] {
    return this.stmt.readInbox.all(projectId).map((row) => ({ id: row.id, sealed: row.sealed }));
  }

  clearInbox(projectId: string): void {
    this.stmt.clearInbox.run(projectId);
  }

  /** Adds the counts; once per new minute of `now`, deletes the minutes past ACTIVITY_KEEP_MS. */
  addActivity(counts: readonly ActivityCount[], now: number): void {
    for (const c of counts) this.stmt.addActivity.run(c.projectId, c.minute, c.delivered, c.failed);
    const cutOff = Math.floor((now - ACTIVITY_KEEP_MS) / MINUTE_MS) * MINUTE_MS;
    if (cutOff > this.prunedBefore) {
      this.stmt.pruneActivity.run(cutOff);
      this.prunedBefore = cutOff;
    }
  }

  readActivity(projectId: string, from: number, to: number): ActivityCount[] {
    return this.stmt.readActivity.all(projectId, from, to).map((row) => ({ projectId, ...row }));
  }
}
