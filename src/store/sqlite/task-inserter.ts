import type Database from 'better-sqlite3';
import { type Task, isActive } from '../../core/task.js';
import { StoreInvariantError } from '../task-store.js';
import type { ActiveCounts } from './active-counts.js';
import { type SqlValue, insertRequestsSql, insertTasksSql, pushInsertValues, pushRequestValues } from './rows.js';

/*
 * Inserts of many tasks at once (TaskStore.insertTasks: a batch subscribe) on SQLite, inside a write
 * batch. The queue limit is judged task by task, in order; the tasks it lets in are written as
 * multi-row INSERTs of up to CHUNK rows into `tasks` and `requests`: a statement's fixed cost
 * (binding, a step, a reset, a call from JavaScript) is then paid once per chunk rather than twice
 * per task. The rids are given rather than taken from each insert: the rows go in after the largest
 * rid, as SQLite's own choice would put them (this process is the database's only writer, in the
 * batch's transaction), so the requests' rows need no answer from the tasks' insert.
 */

/** Rows per statement: a few dozen share a statement's cost, far below SQLite's limit of bound values. */
const CHUNK = 50;

export class TaskInserter {
  private readonly statements = new Map<string, Database.Statement<[SqlValue[]]>>();
  private readonly lastRid: Database.Statement<[], number | null>;

  constructor(
    private readonly db: Database.Database,
    private readonly active: ActiveCounts,
  ) {
    this.lastRid = db.prepare<[], number | null>('SELECT max(rid) FROM tasks').pluck();
  }

  /**
   * Which of `tasks` were stored: one the queue limit refuses is not, nor written. Throws (with
   * nothing written, once its savepoint or transaction is undone) when a project is missing or an id
   * is taken; the counts it raised are lowered again.
   */
  insert(tasks: readonly Task[], activeLimit: number): boolean[] {
    const stored = new Array<boolean>(tasks.length);
    const accepted: Task[] = [];
    try {
      for (let i = 0; i < tasks.length; i++) {
        const task = tasks[i]!;
        const active = isActive(task.state);
        stored[i] = !active || this.active.hasRoom(task.projectId, activeLimit);
        if (!stored[i]) continue;
        accepted.push(task);
        // At once: the tasks after this one see the count with it.
        if (active) this.active.change(task.projectId, 1);
      }
      this.write(accepted);
    } catch (error) {
      for (const task of accepted) if (isActive(task.state)) this.active.change(task.projectId, -1);
      throw error;
    }
    return stored;
  }

  private write(tasks: readonly Task[]): void {
    const first = (this.lastRid.get() ?? 0) + 1;
    for (let at = 0; at < tasks.length; at += CHUNK) {
      const count = Math.min(CHUNK, tasks.length - at);
      const rows: SqlValue[] = [];
      const requests: SqlValue[] = [];
      for (let k = 0; k < count; k++) {
        const rid = first + at + k;
        pushInsertValues(tasks[at + k]!, rid, rows);
        pushRequestValues(tasks[at + k]!, rid, requests);
      }
      try {
        this.statement('tasks', count).run(rows);
      } catch (error) {
        if ((error as { code?: string }).code !== 'SQLITE_CONSTRAINT_UNIQUE') throw error;
        throw new StoreInvariantError('ID_TAKEN', 'A task of the batch has the id of a task that exists');
      }
      this.statement('requests', count).run(requests);
    }
  }

  private statement(table: 'tasks' | 'requests', count: number): Database.Statement<[SqlValue[]]> {
    const key = `${table}:${count}`;
    let stmt = this.statements.get(key);
    if (!stmt) {
      stmt = this.db.prepare<[SqlValue[]]>(table === 'tasks' ? insertTasksSql(count) : insertRequestsSql(count));
      this.statements.set(key, stmt);
    }
    return stmt;
  }
}
