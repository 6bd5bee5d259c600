import type Database from 'better-sqlite3';
import type { Schedule, StoredSchedule } from '../../core/schedule.js';
import { decodeSchedule, encodeScheduleData, scheduleDueAt } from '../schedule-codec.js';
import type { ScheduleList, ScheduleQuery } from '../task-store.js';

/*
 * The SQLite side of schedules (migration 013): statements on the `schedules` table. SqliteStore
 * calls the writes inside its write batches, so a run's schedule write and its task's insert
 * commit together (TaskStore.makeRun).
 */

interface ScheduleRow {
  id: string;
  project_id: string;
  version: number;
  request: Buffer;
  data: string;
}

const fromRow = (row: ScheduleRow): StoredSchedule => decodeSchedule(row.id, row.project_id, row.version, row.request, row.data);

export class ScheduleTable {
  private readonly stmt;

  constructor(db: Database.Database) {
    const columns = 'id, project_id, version, request, data';
    this.stmt = {
      insert: db.prepare<[string, string, number | null, Uint8Array, string]>(
        'INSERT INTO schedules (id, project_id, version, due_at, request, data) VALUES (?, ?, 1, ?, ?, ?)',
      ),
      find: db.prepare<[string, string], ScheduleRow>(`SELECT ${columns} FROM schedules WHERE id = ? AND project_id = ?`),
      list: db.prepare<[string, string, number], ScheduleRow>(
        `SELECT ${columns} FROM schedules WHERE project_id = ? AND id < ? ORDER BY id DESC LIMIT ?`,
      ),
      update: db.prepare<[number | null, string, string, number]>(
        'UPDATE schedules SET version = version + 1, due_at = ?, data = ? WHERE id = ? AND version = ?',
      ),
      remove: db.prepare<[string, number]>('DELETE FROM schedules WHERE id = ? AND version = ?'),
      version: db.prepare<[string], { version: number }>('SELECT version FROM schedules WHERE id = ?'),
      due: db.prepare<[number, number], ScheduleRow>(
        `SELECT ${columns} FROM schedules WHERE due_at IS NOT NULL AND due_at <= ? ORDER BY due_at LIMIT ?`,
      ),
      nextAfter: db.prepare<[number], { due: number | null }>('SELECT MIN(due_at) AS due FROM schedules WHERE due_at > ?'),
      // On the (project_id, id) index, and no further than `limit` rows.
      count: db.prepare<[string, number], { n: number }>(
        'SELECT count(*) AS n FROM (SELECT 1 FROM schedules WHERE project_id = ? LIMIT ?)',
      ),
    };
  }

  insert(schedule: Schedule): void {
    this.stmt.insert.run(schedule.id, schedule.projectId, scheduleDueAt(schedule), schedule.request, encodeScheduleData(schedule));
  }

  /** The project's schedules, counted up to `limit` at most. */
  count(projectId: string, limit: number): number {
    return this.stmt.count.get(projectId, limit)?.n ?? 0;
  }

  find(projectId: string, id: string): StoredSchedule | null {
    const row = this.stmt.find.get(id, projectId);
    return row ? fromRow(row) : null;
  }

  list(projectId: string, query: ScheduleQuery): ScheduleList {
    // Ids are base32 digits and capitals: '~' sorts after every one of them.
    const rows = this.stmt.list.all(projectId, query.below ?? '~', query.limit + 1);
    const more = rows.length > query.limit;
    if (more) rows.pop();
    return { schedules: rows.map(fromRow), next: more ? rows.at(-1)!.id : null };
  }

  /** Whether the schedule still has `version` (inside a write: then a write conditioned on it holds). */
  hasVersion(id: string, version: number): boolean {
    return this.stmt.version.get(id)?.version === version;
  }

  update(prev: StoredSchedule, next: Schedule): boolean {
    return this.stmt.update.run(scheduleDueAt(next), encodeScheduleData(next), prev.id, prev.version).changes === 1;
  }

  remove(prev: StoredSchedule): boolean {
    return this.stmt.remove.run(prev.id, prev.version).changes === 1;
  }

  due(until: number, limit: number): StoredSchedule[] {
    return this.stmt.due.all(until, limit).map(fromRow);
  }

  nextAfter(after: number): number | null {
    return this.stmt.nextAfter.get(after)?.due ?? null;
  }
}
