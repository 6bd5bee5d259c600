import { EventEmitter } from 'node:events';
import { chmodSync, existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';
import { type Clock, systemClock } from '../../core/clock.js';
import { AppError } from '../../core/errors.js';
import { dueAtOf } from '../../core/task-machine.js';
import { type Project, type Task, type TimelineEntry, isActive } from '../../core/task.js';
import { OMITTED_LABEL, TIMELINE, omittedCount } from '../../core/timeline.js';
import {
  type ClaimShares,
  type LeaseRef,
  type StoreReport,
  StoreInvariantError,
  type StoredTask,
  type SweepStep,
  type TaskList,
  type TaskQuery,
  type TaskStore,
  PARK_WINDOW,
  queueFull,
  roomIn,
  takeShare,
  type TimelinePage,
  type TimelineRange,
  type ActivityCount,
  type AttemptPage,
  type AttemptRange,
  type InboxRecord,
  type IdempotencyClaim,
  type IdempotencyRecord,
  type StoredSigningKeys,
  type RunWrite,
  type ScheduleList,
  type ScheduleQuery,
  type FlowStatus,
} from '../task-store.js';
import { acquireLockFile, type LockFile, lockPathFor, realPath, refuseHardLinks } from './lock-file.js';
import { migrate } from './migrate.js';
import {
  INSERT_REQUEST,
  INSERT_TASK,
  type ProjectRow,
  type SqlValue,
  TASK_SELECT,
  type TaskRow,
  type TimelineRow,
  UPDATE_TASK,
  insertValues,
  flowKeyOf,
  leaseRow,
  leasedRow,
  parseMetadata,
  projectIdOf,
  projectFromRow,
  requestValue,
  ridOf,
  taskFromRow,
  timelineFromRow,
  updateValues,
} from './rows.js';
import { Checkpointer } from './checkpointer.js';
import { WriteBatcher } from './write-batcher.js';
import { ActiveCounts } from './active-counts.js';
import { InboxActivityTables } from './inbox-activity.js';
import type { BreakerPolicy, Circuit, ProjectBreakers, StoredCircuit } from '../../core/circuit.js';
import { BreakerTables } from './breaker-tables.js';
import { ProjectKeyTables } from './project-keys.js';
import { TaskLister, listingConnection } from './task-lister.js';
import { TaskInserter } from './task-inserter.js';
import { AttemptLogTable } from './attempt-log.js';
import { type FlowClaim, FlowTables } from './flow-tables.js';
import type { FlowSettings } from '../../core/flow.js';
import type { AttemptRecord } from '../../core/attempt-log.js';
import type { Schedule, StoredSchedule } from '../../core/schedule.js';
import { ScheduleTable } from './schedule-table.js';

/** The page size of a new database file (SQLite's default is 4096). */
export const PAGE_BYTES = 8192;

function restrictToOwner(path: string): void {
  if (existsSync(path)) chmodSync(path, 0o600);
}

export interface SqliteStoreOptions {
  /** A file path, or ":memory:". */
  path: string;
  /** NORMAL survives a process crash (kill -9); FULL also survives power loss, at a cost in write rate. */
  synchronous?: 'NORMAL' | 'FULL';
  /** The server's clock (default: the system's); one process per database, so its own clock is the store's. */
  clock?: Clock;
}

/**
 * The embedded store: one SQLite file in WAL mode, driven synchronously by better-sqlite3 (each
 * statement takes microseconds, so the event loop never waits on I/O for long). Every multi-row
 * write is one transaction.
 */
export class SqliteStore implements TaskStore {
  readonly kind = 'sqlite';
  readonly singleNode = true;
  readonly clock: Clock;
  private readonly db: Database.Database;
  private readonly lock: LockFile | null;
  private readonly events = new EventEmitter();
  private readonly stmt;
  private readonly writes: WriteBatcher;
  /** Active tasks per project, counted in memory during a write batch and stored at its end. */
  private readonly active: ActiveCounts;
  private checkpointer: Checkpointer | null = null;
  private readonly inboxActivity: InboxActivityTables;
  private readonly breakers: BreakerTables;
  private readonly projectKeys: ProjectKeyTables;
  private readonly lister: TaskLister;
  private readonly inserter: TaskInserter;
  private readonly attempts: AttemptLogTable;
  private readonly schedules: ScheduleTable;
  private readonly flows: FlowTables;
  /** Lease tokens need to be unique, not secret: a random prefix per store and a counter. */
  private readonly tokenPrefix = `${randomBytes(6).toString('base64url')}.`;
  private claims = 0;
  /** Groups that may have parked tasks (claimDue); a group found empty leaves it. */
  private readonly parkedGroups = new Set<string>();
  /** Timeline order; this process is the database's only writer (the lock file sees to it). */
  private seq: number;

  constructor(options: SqliteStoreOptions) {
    const memory = options.path === ':memory:';
    this.clock = options.clock ?? systemClock;
    // The folder and the files hold token hashes and sealed requests: owner only.
    if (!memory) mkdirSync(dirname(options.path), { recursive: true, mode: 0o700 });
    this.lock = memory ? null : acquireLockFile(lockPathFor(options.path));
    try {
      if (!memory) refuseHardLinks(options.path);
      this.db = new Database(options.path);
      if (!memory) restrictToOwner(options.path);
      // Set before the first table exists, so it shapes new files only; an older file keeps its 4 KiB
      // pages and works the same. A sealed request is most of a kilobyte, so it wastes less of a
      // larger page, and a commit writes fewer WAL frames (docs/performance.md).
      this.db.pragma(`page_size = ${PAGE_BYTES}`);
      this.db.pragma('journal_mode = WAL');
      this.db.pragma(`synchronous = ${options.synchronous ?? 'NORMAL'}`);
      this.db.pragma('busy_timeout = 5000');
      this.db.pragma('temp_store = MEMORY');
      migrate(this.db);
      // Beside the real file: SQLite names them after the path with its symbolic links resolved.
      if (!memory) for (const suffix of ['-wal', '-shm', '.lock']) restrictToOwner(realPath(options.path) + suffix);
      if (!memory) {
        // Checkpoints happen in a worker (checkpointer.ts); this threshold is only a safety net.
        this.db.pragma('wal_autocheckpoint = 20000');
        this.checkpointer = new Checkpointer(options.path);
      }
    } catch (error) {
      this.lock?.release();
      throw error;
    }
    this.events.setMaxListeners(0);
    const db = this.db;
    this.stmt = {
      insertProject: db.prepare(
        'INSERT INTO projects (id, email, token_hash, created_at, "as") VALUES (@id, @email, @tokenHash, @createdAt, @as)',
      ),
      findProject: db.prepare<[string], ProjectRow>('SELECT * FROM projects WHERE id = ?'),
      countActive: db.prepare<[string], { active: number }>('SELECT active FROM projects WHERE id = ?'),
      adjustActive: db.prepare('UPDATE projects SET active = active + ? WHERE id = ?'),
      insertTask: db.prepare(INSERT_TASK),
      updateTask: db.prepare<[SqlValue[]], { rid: number; timeline_length: number }>(UPDATE_TASK),
      insertRequest: db.prepare(INSERT_REQUEST),
      findTask: db
        .prepare<[string, string], TaskRow>(
          `SELECT ${TASK_SELECT} FROM tasks t JOIN requests r ON r.rid = t.rid WHERE t.id = ? AND t.project_id = ?`,
        )
        .raw(true),
      findRid: db.prepare<[string, string], { rid: number }>('SELECT rid FROM tasks WHERE id = ? AND project_id = ?'),
      deleteRequest: db.prepare('DELETE FROM requests WHERE rid = ?'),
      deleteTask: db.prepare<[string, number], { rid: number }>('DELETE FROM tasks WHERE id = ? AND version = ? RETURNING rid'),
      insertEntry: db.prepare('INSERT INTO timeline (task_rid, seq, label, description, created_at, metadata) VALUES (?, ?, ?, ?, ?, ?)'),
      setTimelineLength: db.prepare('UPDATE tasks SET timeline_length = ? WHERE rid = ?'),
      lastSeq: db.prepare<[], { seq: number | null }>('SELECT MAX(seq) AS seq FROM timeline'),
      // Limit -1 reads to the end.
      readTimeline: db.prepare<[number, number, number], TimelineRow>(
        'SELECT seq, label, description, created_at, metadata FROM timeline WHERE task_rid = ? AND seq >= ? ORDER BY seq LIMIT ?',
      ),
      /** The entry at an offset of a task's timeline (0: the oldest). */
      entryAt: db.prepare<[number, number], TimelineRow>(
        'SELECT seq, label, description, created_at, metadata FROM timeline WHERE task_rid = ? ORDER BY seq LIMIT 1 OFFSET ?',
      ),
      deleteEntries: db.prepare('DELETE FROM timeline WHERE task_rid = ? AND seq BETWEEN ? AND ?'),
      deleteNewestEntries: db.prepare<[number, number, number]>(
        'DELETE FROM timeline WHERE task_rid = ? AND seq IN (SELECT seq FROM timeline WHERE task_rid = ? ORDER BY seq DESC LIMIT ?)',
      ),
      deleteTimeline: db.prepare('DELETE FROM timeline WHERE task_rid = ?'),
      dueTasks: db
        .prepare<[number, number], TaskRow>(
          `SELECT ${TASK_SELECT} FROM tasks t JOIN requests r ON r.rid = t.rid WHERE t.due_at <= ? ORDER BY t.due_at LIMIT ?`,
        )
        .raw(true),
      dueShares: db
        .prepare<[number, number], [rid: number, projectId: string, hostTag: string, leased: 0 | 1, flowKey: string]>(
          'SELECT rid, project_id, host_tag, lease_token IS NOT NULL, flow_key FROM tasks WHERE due_at <= ? ORDER BY due_at LIMIT ?',
        )
        .raw(true),
      tasksByRid: db
        .prepare<[string], TaskRow>(
          `SELECT ${TASK_SELECT} FROM tasks t JOIN requests r ON r.rid = t.rid
           WHERE t.rid IN (SELECT value FROM json_each(?)) ORDER BY t.due_at`,
        )
        .raw(true),
      park: db.prepare<[string, string]>('UPDATE tasks SET due_at = NULL, parked = ? WHERE rid IN (SELECT value FROM json_each(?))'),
      unpark: db.prepare<[string, number]>(
        `UPDATE tasks SET due_at = exec_at, parked = NULL
         WHERE rid IN (SELECT rid FROM tasks WHERE parked = ? ORDER BY exec_at LIMIT ?)`,
      ),
      parkedGroups: db.prepare<[], { parked: string }>('SELECT DISTINCT parked FROM tasks WHERE parked IS NOT NULL'),
      // One statement for the whole batch: the rids arrive as a JSON array.
      claimRids: db.prepare<[string, number, number, string]>(
        `UPDATE tasks SET lease_token = ?, lease_until = ?, due_at = ?, version = version + 1
         WHERE rid IN (SELECT value FROM json_each(?))`,
      ),
      // A paused task keeps its lease but is never due; due_at stays NULL for it.
      renewLease: db.prepare(
        `UPDATE tasks SET lease_until = @until, due_at = CASE WHEN due_at IS NULL THEN NULL ELSE @until END,
           version = version + 1
         WHERE id = @id AND lease_token = @token`,
      ),
      releaseAll: db.prepare(
        `UPDATE tasks SET lease_token = NULL, lease_until = NULL,
           due_at = CASE WHEN state = 'RUNNING' THEN exec_at ELSE NULL END, version = version + 1
         WHERE lease_token IS NOT NULL`,
      ),
      releaseOne: db.prepare<[string, string], { due_at: number | null; project_id: string; flow_key: string }>(
        `UPDATE tasks SET lease_token = NULL, lease_until = NULL,
           due_at = CASE WHEN state = 'RUNNING' THEN exec_at ELSE NULL END, version = version + 1
         WHERE id = ? AND lease_token = ? RETURNING due_at, project_id, flow_key`,
      ),
      nextDue: db.prepare<[], { due: number | null }>('SELECT MIN(due_at) AS due FROM tasks WHERE due_at IS NOT NULL'),
      // Reads at most `cap` entries of the due index.
      countDue: db.prepare<[number, number], { n: number }>('SELECT count(*) AS n FROM (SELECT 1 FROM tasks WHERE due_at <= ? LIMIT ?)'),
      getMeta: db.prepare<[string], { value: string }>('SELECT value FROM meta WHERE key = ?'),
      setMeta: db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value'),
      finishedBefore: db.prepare<[number, number], { rid: number; timeline_length: number }>(
        'SELECT rid, timeline_length FROM tasks WHERE finished_at < ? ORDER BY finished_at LIMIT ?',
      ),
      deleteByRid: db.prepare('DELETE FROM tasks WHERE rid = ?'),
      ping: db.prepare('SELECT 1'),
    };
    this.seq = this.stmt.lastSeq.get()?.seq ?? 0;
    for (const { parked } of this.stmt.parkedGroups.all()) this.parkedGroups.add(parked);
    const stmt = this.stmt;
    this.active = new ActiveCounts(
      (projectId) => stmt.countActive.get(projectId)?.active,
      (projectId, change) => stmt.adjustActive.run(change, projectId),
    );
    this.writes = new WriteBatcher(this.db, (error) => this.translate(error), this.active);
    this.inboxActivity = new InboxActivityTables(db);
    this.breakers = new BreakerTables(db);
    this.projectKeys = new ProjectKeyTables(db);
    // An in-memory database is this connection's alone.
    this.lister = this.db.memory ? new TaskLister(this.db, false) : new TaskLister(listingConnection(options.path), true);
    this.inserter = new TaskInserter(this.db, this.active);
    this.attempts = new AttemptLogTable(this.db);
    this.schedules = new ScheduleTable(this.db);
    this.flows = new FlowTables(this.db);
  }

  /** Tells listeners; a listener that throws must not turn a committed write into a failure. */
  private notifyDue(dueAt: number | null): void {
    if (dueAt === null) return;
    try {
      this.events.emit('due', dueAt);
    } catch {
      // The write is committed; the scheduler's poll finds the task anyway.
    }
  }

  /**
   * SQLite failing underneath (busy past the timeout, disk full, I/O error, closed) is the store
   * being unavailable; constraint and logic errors stay what they are.
   */
  private guard<T>(work: () => T): T {
    try {
      return work();
    } catch (error) {
      throw this.translate(error);
    }
  }

  private translate(error: unknown): unknown {
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string' && /^SQLITE_(BUSY|LOCKED|FULL|IOERR|CANTOPEN|READONLY|NOMEM|PROTOCOL)/.test(code)) {
      return new AppError('STORE_UNAVAILABLE', undefined, [], { cause: error });
    }
    if (error instanceof TypeError && !this.db.open) return new AppError('STORE_UNAVAILABLE', undefined, [], { cause: error });
    return error;
  }

  async close(): Promise<void> {
    this.writes.flush(); // nothing asked for is dropped
    await this.checkpointer?.close();
    this.events.removeAllListeners();
    this.lister.close();
    if (this.db.open) this.db.close();
    this.lock?.release();
  }

  async ping(): Promise<void> {
    this.guard(() => this.stmt.ping.get());
  }

  async inspect(): Promise<StoreReport> {
    const pragma = (name: string): string | number => this.guard(() => this.db.pragma(name, { simple: true }) as string | number);
    const facts = { file: this.db.name, journalMode: pragma('journal_mode'), synchronous: pragma('synchronous') === 2 ? 'FULL' : 'NORMAL' };
    const warnings = this.db.memory ? ['The SQLite store is in memory: nothing survives a restart.'] : [];
    return { facts, warnings };
  }

  async insertProject(project: Project, signing?: StoredSigningKeys): Promise<void> {
    this.guard(() =>
      this.db.transaction(() => {
        try {
          this.stmt.insertProject.run({
            id: project.id,
            email: project.email,
            tokenHash: project.tokenHash,
            createdAt: project.createdAt,
            as: project.as,
          });
        } catch (error) {
          if ((error as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') throw new AppError('EMAIL_TAKEN');
          throw error;
        }
        if (signing) this.projectKeys.writeSigning(project.id, signing);
      })(),
    );
  }

  async readSigningKeys(projectId: string): Promise<StoredSigningKeys | null> {
    return this.guard(() => this.projectKeys.readSigning(projectId));
  }

  async writeSigningKeys(projectId: string, keys: StoredSigningKeys): Promise<void> {
    const found = await this.writes.run(() => this.projectKeys.writeSigning(projectId, keys));
    if (!found) throw new StoreInvariantError('NO_PROJECT', `Project ${projectId} does not exist`);
  }

  async findProject(id: string): Promise<Project | null> {
    const row = this.guard(() => this.stmt.findProject.get(id));
    return row ? projectFromRow(row) : null;
  }

  async countActive(projectId: string): Promise<number> {
    return this.guard(() => this.stmt.countActive.get(projectId)?.active ?? 0);
  }

  /**
   * Writes `entries` to the timeline of the task whose row is `rid`, `length` entries long with them
   * (the row counts them), and keeps it within its bound (core/timeline.ts).
   */
  private appendEntries(rid: number, length: number, entries: readonly TimelineEntry[]): void {
    for (const e of entries) {
      this.stmt.insertEntry.run(rid, ++this.seq, e.label, e.description, e.createdAt, e.metadata ? JSON.stringify(e.metadata) : null);
    }
    if (length > TIMELINE.maxEntries) this.boundTimeline(rid, length);
  }

  /**
   * Cuts a timeline of `length` entries to TIMELINE.maxEntries: the oldest entries after the first
   * TIMELINE.keepFirst (and after the `Omitted` entry, when there is one already) are deleted, and
   * one `Omitted` entry counts them all. It takes the position (seq) of the latest entry it stands
   * for, so it stays between the first entries and the rest, and a page cursor that pointed at a
   * deleted entry reads on from it.
   */
  private boundTimeline(rid: number, length: number): void {
    const { keepFirst, maxEntries } = TIMELINE;
    const first = this.stmt.entryAt.get(rid, keepFirst);
    if (!first) return;
    const marker = first.label === OMITTED_LABEL;
    const before = marker ? omittedCount(parseMetadata(first.metadata)) : 0;
    // Room for the Omitted entry too when there was none.
    const drop = length - maxEntries + (marker ? 0 : 1);
    const last = this.stmt.entryAt.get(rid, keepFirst + (marker ? 1 : 0) + drop - 1);
    if (!last) return;
    this.stmt.deleteEntries.run(rid, first.seq, last.seq);
    this.stmt.insertEntry.run(rid, last.seq, OMITTED_LABEL, '', last.created_at, JSON.stringify({ omitted: before + drop }));
    this.stmt.setTimelineLength.run(maxEntries, rid);
  }

  /**
   * One task's insert, inside a write batch. A full queue is answered, not thrown: nothing was
   * written yet, and a throw would make the whole batch run again with savepoints (write-batcher.ts).
   */
  private insertRow(
    task: Task,
    entries: readonly TimelineEntry[],
    activeLimit: number,
    idempotency?: IdempotencyClaim,
  ): boolean | IdempotencyRecord {
    if (idempotency) {
      const recorded = this.projectKeys.findKey(task.projectId, idempotency);
      if (recorded) return recorded;
    }
    const active = isActive(task.state);
    if (active && !this.active.hasRoom(task.projectId, activeLimit)) return false;
    let rid: number;
    try {
      rid = Number(this.stmt.insertTask.run(insertValues(task, entries.length)).lastInsertRowid);
    } catch (error) {
      if ((error as { code?: string }).code !== 'SQLITE_CONSTRAINT_UNIQUE') throw error;
      throw new StoreInvariantError('ID_TAKEN', `A task with id ${task.id} exists`);
    }
    this.stmt.insertRequest.run(rid, requestValue(task));
    this.appendEntries(rid, entries.length, entries);
    if (idempotency) this.projectKeys.putKey(task.projectId, task.id, idempotency);
    if (active) this.active.change(task.projectId, 1); // last: a write undone by its savepoint changed no count
    return true;
  }

  async insertTask(
    task: Task,
    entries: readonly TimelineEntry[],
    activeLimit: number,
    idempotency?: IdempotencyClaim,
  ): Promise<IdempotencyRecord | null> {
    const stored = await this.writes.run(() => this.insertRow(task, entries, activeLimit, idempotency));
    if (stored === false) throw queueFull(activeLimit);
    if (stored !== true) return stored;
    this.notifyDue(dueAtOf(task));
    return null;
  }

  async insertTasks(tasks: readonly Task[], activeLimit: number): Promise<boolean[]> {
    if (tasks.length === 0) return [];
    // One write of the batch (so one transaction, shared with the turn's other writes): a task
    // refused for a full queue writes nothing, and those after it see the count without it.
    const stored = await this.writes.run(() => this.inserter.insert(tasks, activeLimit));
    let earliest = Infinity;
    stored.forEach((ok, i) => {
      const due = ok ? dueAtOf(tasks[i]!) : null;
      if (due !== null && due < earliest) earliest = due;
    });
    if (Number.isFinite(earliest)) this.notifyDue(earliest);
    return stored;
  }

  async findTask(projectId: string, id: string): Promise<StoredTask | null> {
    const row = this.guard(() => this.stmt.findTask.get(id, projectId));
    return row ? taskFromRow(row) : null;
  }

  async readTimeline(projectId: string, id: string, page?: TimelineRange): Promise<TimelinePage | null> {
    return this.guard(() => {
      const task = this.stmt.findRid.get(id, projectId);
      if (!task) return null;
      // A position is an entry's seq. One row more than the page tells where the next page starts.
      const rows = this.stmt.readTimeline.all(task.rid, page?.from ?? 0, page ? page.limit + 1 : -1);
      const next = page && rows.length > page.limit ? rows.pop()!.seq : null;
      return { entries: rows.map(timelineFromRow), next };
    });
  }

  async readAttempts(projectId: string, id: string, page: AttemptRange): Promise<AttemptPage | null> {
    return this.guard(() => {
      const task = this.stmt.findRid.get(id, projectId);
      return task ? this.attempts.read(task.rid, page) : null;
    });
  }

  async listTasks(projectId: string, query: TaskQuery): Promise<TaskList> {
    const { rows, next } = this.guard(() => this.lister.list(projectId, query));
    return { tasks: rows.map(taskFromRow), next };
  }

  async replaceTask(prev: StoredTask, next: Task, entries: readonly TimelineEntry[], attempt?: AttemptRecord): Promise<boolean> {
    const written = await this.writes.run((): boolean => {
      const row = this.stmt.updateTask.get(updateValues(next, prev.version, entries.length));
      if (row === undefined) return false;
      this.appendEntries(row.rid, row.timeline_length, entries);
      if (attempt) this.attempts.write(row.rid, attempt);
      this.active.change(prev.projectId, Number(isActive(next.state)) - Number(isActive(prev.state)));
      if (prev.flowKey !== '' && (prev.leaseToken !== null || isActive(prev.state) !== isActive(next.state))) {
        this.flows.leaseGivenUp(prev.projectId, prev.flowKey);
      }
      return true;
    });
    if (written) this.notifyDue(dueAtOf(next));
    return written;
  }

  async deleteTask(prev: StoredTask): Promise<boolean> {
    return this.writes.run((): boolean => {
      const row = this.stmt.deleteTask.get(prev.id, prev.version);
      if (!row) return false;
      this.stmt.deleteTimeline.run(row.rid);
      this.attempts.deleteAll(row.rid);
      this.stmt.deleteRequest.run(row.rid);
      if (isActive(prev.state)) this.active.change(prev.projectId, -1);
      if (prev.flowKey !== '') this.flows.leaseGivenUp(prev.projectId, prev.flowKey);
      return true;
    });
  }

  async claimDue(now: number, limit: number, leaseMs: number, shares?: ClaimShares): Promise<StoredTask[]> {
    if (limit <= 0) return [];
    const token = `${this.tokenPrefix}${++this.claims}`;
    const until = now + leaseMs;
    // In the write batch: the claim shares its commit with the outcomes recorded in the same turn.
    const rows = await this.writes.run((): TaskRow[] => {
      const flows = this.flows.claim(now);
      const due = shares ? this.dueWithin(now, limit, shares, flows) : this.admitted(this.stmt.dueTasks.all(now, limit), flows);
      flows.settle();
      if (due.length === 0) return [];
      this.stmt.claimRids.run(token, until, until, JSON.stringify(due.map(ridOf)));
      // The rows as the UPDATE left them (this process is the database's only writer), earliest first.
      for (const row of due) leaseRow(row, token, until);
      return due;
    });
    return rows.map(taskFromRow);
  }

  /** The due rows a claim without shares takes: all but those of a flow key without room (core/flow.ts). */
  private admitted(rows: TaskRow[], flows: FlowClaim): TaskRow[] {
    let refused = false;
    for (const row of rows) {
      const key = flowKeyOf(row);
      if (key !== '' && !flows.admit(ridOf(row), projectIdOf(row), key, leasedRow(row))) {
        flows.refuse(ridOf(row), projectIdOf(row), key, leasedRow(row));
        refused = true;
      }
    }
    if (!refused) return rows;
    return rows.filter((row) => !flows.refused(ridOf(row)));
  }

  /**
   * The due tasks a claim under `shares` takes: parked tasks of groups with room go back to the due
   * index first; then due tasks earliest first, parking those whose group is full. A parked task
   * leaves the due index, so the next claim does not read it again: each claim reads at most what
   * it takes and what it parks.
   */
  private dueWithin(now: number, limit: number, shares: ClaimShares, flows: FlowClaim): TaskRow[] {
    for (const group of this.parkedGroups) {
      const room = roomIn(shares, group);
      if (room > 0 && this.stmt.unpark.run(group, room).changes < room) this.parkedGroups.delete(group);
    }
    const taken: number[] = [];
    const parked = new Map<string, number[]>();
    const held = new Map<string, number>();
    // Decided on the index and three short columns: a task that is parked is never read whole.
    // Statements cannot run while the read is open; the tasks to park are written after it.
    // Tasks with a flow key are judged after the read (their key's use is read with statements).
    const keyed: [rid: number, projectId: string, hostTag: string, leased: 0 | 1, flowKey: string][] = [];
    const share = (rid: number, projectId: string, hostTag: string, leased: 0 | 1): void => {
      const full = takeShare(shares, held, projectId, hostTag);
      // A task whose lease ran out is taken whatever the shares: its holder is presumed gone.
      if (full === null || leased === 1) taken.push(rid);
      else {
        const rids = parked.get(full);
        if (rids) rids.push(rid);
        else parked.set(full, [rid]);
      }
    };
    for (const row of this.stmt.dueShares.iterate(now, limit + PARK_WINDOW)) {
      if (row[4] !== '') keyed.push(row);
      else share(row[0], row[1], row[2], row[3]);
      if (taken.length + keyed.length === limit) break;
    }
    for (const [rid, projectId, hostTag, leased, key] of keyed) {
      if (flows.admit(rid, projectId, key, leased === 1)) share(rid, projectId, hostTag, leased);
      else flows.refuse(rid, projectId, key, leased === 1);
    }
    for (const [group, rids] of parked) {
      this.stmt.park.run(group, JSON.stringify(rids));
      this.parkedGroups.add(group);
    }
    return taken.length === 0 ? [] : this.stmt.tasksByRid.all(JSON.stringify(taken));
  }

  async putFlow(projectId: string, key: string, settings: FlowSettings): Promise<boolean> {
    const written = await this.writes.run(() => this.flows.put(projectId, key, settings));
    if (written) this.notifyDue(this.flows.nextWake());
    return written;
  }

  async readFlow(projectId: string, key: string): Promise<FlowStatus | null> {
    return this.guard(() => this.flows.read(projectId, key, this.clock.now()));
  }

  async listFlows(projectId: string): Promise<FlowStatus[]> {
    return this.guard(() => this.flows.list(projectId, this.clock.now()));
  }

  async deleteFlow(projectId: string, key: string): Promise<boolean> {
    const deleted = await this.writes.run(() => this.flows.delete(projectId, key));
    if (deleted) this.notifyDue(this.stmt.nextDue.get()?.due ?? null);
    return deleted;
  }

  async pauseFlow(projectId: string, key: string, paused: boolean): Promise<boolean> {
    const written = await this.writes.run(() => this.flows.pause(projectId, key, paused));
    if (written && !paused) this.notifyDue(this.flows.nextWake());
    return written;
  }

  async releaseLeases(leases: readonly LeaseRef[]): Promise<number> {
    if (leases.length === 0) return 0;
    const due = this.guard(() =>
      this.db
        .transaction((): number[] => {
          const released: number[] = [];
          for (const lease of leases) {
            const row = this.stmt.releaseOne.get(lease.id, lease.token);
            if (row) released.push(row.due_at ?? Infinity);
            if (row && row.flow_key !== '') this.flows.leaseGivenUp(row.project_id, row.flow_key);
          }
          return released;
        })
        .immediate(),
    );
    const earliest = Math.min(...due);
    if (Number.isFinite(earliest)) this.notifyDue(earliest);
    return due.length;
  }

  async renewLeases(leases: readonly LeaseRef[], until: number): Promise<number> {
    if (leases.length === 0) return 0;
    return this.guard(() =>
      this.db
        .transaction((): number => {
          let renewed = 0;
          for (const lease of leases) renewed += this.stmt.renewLease.run({ id: lease.id, token: lease.token, until }).changes;
          return renewed;
        })
        .immediate(),
    );
  }

  async releaseAllLeases(): Promise<number> {
    const changes = this.guard(() => this.stmt.releaseAll.run().changes);
    if (changes > 0) this.notifyDue(this.guard(() => this.stmt.nextDue.get()?.due ?? null));
    return changes;
  }

  async nextDueAt(): Promise<number | null> {
    const due = this.guard(() => this.stmt.nextDue.get()?.due ?? null);
    // A flow key whose tasks wait is looked at when it may have room (core/flow.ts flowWakeAt).
    const wake = this.flows.nextWake();
    return wake === null ? due : due === null ? wake : Math.min(due, wake);
  }

  async countDue(now: number, cap: number): Promise<number> {
    return this.guard(() => this.stmt.countDue.get(now, Math.max(0, cap))?.n ?? 0);
  }

  onDue(listener: (dueAt: number) => void): () => void {
    this.events.on('due', listener);
    return () => this.events.off('due', listener);
  }

  async bindKeyId(keyId: string): Promise<string> {
    return this.guard(() =>
      this.db
        .transaction((): string => {
          const bound = this.stmt.getMeta.get('key_id');
          if (bound) return bound.value;
          this.stmt.setMeta.run('key_id', keyId);
          return keyId;
        })
        .immediate(),
    );
  }

  async heartbeat(now: number): Promise<number | null> {
    return this.guard(() =>
      this.db
        .transaction((): number | null => {
          const previous = this.stmt.getMeta.get('heartbeat');
          this.stmt.setMeta.run('heartbeat', String(now));
          return previous ? Number(previous.value) : null;
        })
        .immediate(),
    );
  }

  async sweepFinished(before: number, budget: number): Promise<SweepStep> {
    return this.guard(() =>
      this.db
        .transaction((): SweepStep => {
          const rows = this.stmt.finishedBefore.all(before, budget);
          let left = budget;
          let deleted = 0;
          for (const row of rows) {
            const cost = row.timeline_length + this.attempts.count(row.rid) + 1;
            if (cost > left) {
              // Too long for what is left of this step: the next step takes it. Too long for a
              // whole step (a timeline stored before the bound): this one deletes part of it.
              if (left === budget) {
                const removed = this.stmt.deleteNewestEntries.run(row.rid, row.rid, budget).changes;
                this.stmt.setTimelineLength.run(row.timeline_length - removed, row.rid);
              }
              return { deleted, more: true };
            }
            this.stmt.deleteTimeline.run(row.rid);
            this.attempts.deleteAll(row.rid);
            this.stmt.deleteRequest.run(row.rid);
            this.stmt.deleteByRid.run(row.rid);
            left -= cost;
            deleted++;
          }
          return { deleted, more: rows.length === budget };
        })
        .immediate(),
    );
  }

  async sweepIdempotencyKeys(now: number, budget: number): Promise<number> {
    return this.writes.run(() => this.projectKeys.sweepKeys(now, budget));
  }

  async pushInbox(projectId: string, record: InboxRecord, keep: number): Promise<void> {
    await this.writes.run(() => this.inboxActivity.pushInbox(projectId, record, keep));
  }

  async readInbox(projectId: string): Promise<InboxRecord[]> {
    return this.guard(() => this.inboxActivity.readInbox(projectId));
  }

  async clearInbox(projectId: string): Promise<void> {
    await this.writes.run(() => this.inboxActivity.clearInbox(projectId));
  }

  async addActivity(counts: readonly ActivityCount[]): Promise<void> {
    if (counts.length === 0) return;
    const now = this.clock.now();
    await this.writes.run(() => this.inboxActivity.addActivity(counts, now));
  }

  async readActivity(projectId: string, from: number, to: number): Promise<ActivityCount[]> {
    return this.guard(() => this.inboxActivity.readActivity(projectId, from, to));
  }

  async insertSchedule(schedule: Schedule, limit: number): Promise<boolean> {
    return this.writes.run(() => {
      if (this.stmt.countActive.get(schedule.projectId) === undefined) {
        throw new StoreInvariantError('NO_PROJECT', `Project ${schedule.projectId} does not exist`);
      }
      if (this.schedules.count(schedule.projectId, limit) >= limit) return false;
      this.schedules.insert(schedule);
      return true;
    });
  }

  async findSchedule(projectId: string, id: string): Promise<StoredSchedule | null> {
    return this.guard(() => this.schedules.find(projectId, id));
  }

  async listSchedules(projectId: string, query: ScheduleQuery): Promise<ScheduleList> {
    return this.guard(() => this.schedules.list(projectId, query));
  }

  async replaceSchedule(prev: StoredSchedule, next: Schedule): Promise<boolean> {
    return this.writes.run(() => this.schedules.update(prev, next));
  }

  async deleteSchedule(prev: StoredSchedule): Promise<boolean> {
    return this.writes.run(() => this.schedules.remove(prev));
  }

  async makeRun(
    prev: StoredSchedule,
    next: Schedule,
    task: Task,
    entries: readonly TimelineEntry[],
    activeLimit: number,
  ): Promise<RunWrite> {
    // One write of the batch, so one transaction: the version checked, the task inserted (or
    // refused with nothing written), the schedule advanced.
    const result = await this.writes.run((): RunWrite => {
      if (!this.schedules.hasVersion(prev.id, prev.version)) return 'MOVED';
      if (this.insertRow(task, entries, activeLimit) === false) return 'QUEUE_FULL';
      this.schedules.update(prev, next);
      return 'DONE';
    });
    if (result === 'DONE') this.notifyDue(dueAtOf(task));
    return result;
  }

  async dueSchedules(until: number, limit: number): Promise<StoredSchedule[]> {
    return this.guard(() => this.schedules.due(until, limit));
  }

  async nextScheduleAfter(after: number): Promise<number | null> {
    return this.guard(() => this.schedules.nextAfter(after));
  }

  async readBreakers(projectId: string): Promise<ProjectBreakers> {
    return this.guard(() => this.breakers.read(projectId));
  }

  async writeBreakerPolicy(projectId: string, policy: BreakerPolicy | null): Promise<void> {
    await this.writes.run(() => this.breakers.writePolicy(projectId, policy));
  }

  async writeCircuit(projectId: string, prev: StoredCircuit | null, next: Circuit | null): Promise<boolean> {
    return this.writes.run(() => this.breakers.writeCircuit(projectId, prev, next));
  }
}
