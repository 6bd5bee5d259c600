import Database from 'better-sqlite3';
import { LIST_SCAN, type TaskQuery } from '../task-store.js';
import { TASK_SELECT, type TaskRow, idOf } from './rows.js';

/*
 * Listings (TaskStore.listTasks) on SQLite. A page is driven by one index range, newest id first
 * from the cursor on (migrations 008, 009 and 016): the schedule's when a schedule is asked for,
 * else the tag's rows of task_tags, else the flow key's, else the host's, else one range per state
 * asked for (merged), else the project's. The conditions
 * that index does not cover are checked on the rows it leads to, at most LIST_SCAN of them a page;
 * a page that runs out of them before it is full answers where it stopped as its next cursor.
 * Statements are built per shape of query (which conditions are present) and kept.
 *
 * A file's listings read through a connection of their own (listingConnection) that maps the file
 * into memory: a page reads its rows, their requests and the index pages leading to them from all
 * over the file, and each of those read through read() calls was a system call and a copy. Only
 * this connection maps the file, so the rest of the store keeps SQLite's own page cache. It only
 * reads, outside any transaction, so each page sees what was committed when it began.
 */

/** As much of the file as SQLite maps at most (its build's limit); the pages a listing never touches cost nothing. */
const MAPPED_BYTES = 0x7fff0000;

/** A connection for listings of the database file at `path` (which exists: the store opened it first). */
export function listingConnection(path: string): Database.Database {
  const db = new Database(path, { fileMustExist: true });
  db.pragma('busy_timeout = 5000');
  db.pragma('query_only = ON');
  db.pragma(`mmap_size = ${MAPPED_BYTES}`);
  return db;
}

type Driver = 'schedule' | 'tag' | 'flow' | 'host' | 'states' | 'project';

interface Shape {
  driver: Driver;
  states: number;
  below: boolean;
  atLeast: boolean;
  residual: { states: boolean; tag: boolean; flow: boolean; host: boolean; next: boolean; nextFrom: boolean; nextTo: boolean };
}

type Params = Record<string, string | number>;

function shapeOf(query: TaskQuery): Shape {
  const states = query.states?.length ?? 0;
  // The narrowest index first: a schedule's runs, then a tag's, a flow key's, a host's tasks.
  const driver: Driver =
    query.scheduleId !== undefined
      ? 'schedule'
      : query.tag !== undefined
        ? 'tag'
        : query.flowKey !== undefined
          ? 'flow'
          : query.hostTag !== undefined
            ? 'host'
            : states > 0
              ? 'states'
              : 'project';
  const nextFrom = query.nextFrom !== undefined;
  const nextTo = query.nextTo !== undefined;
  return {
    driver,
    states,
    below: query.below !== undefined,
    atLeast: query.atLeast !== undefined,
    residual: {
      states: states > 0 && driver !== 'states',
      tag: query.tag !== undefined && driver !== 'tag',
      flow: query.flowKey !== undefined && driver !== 'flow',
      host: query.hostTag !== undefined && driver !== 'host',
      next: nextFrom || nextTo,
      nextFrom,
      nextTo,
    },
  };
}

/** The (rid, id) of the driving index range, newest first, at most @scan. */
function driverSql(shape: Shape): string {
  const bounds = `${shape.below ? ' AND id < @below' : ''}${shape.atLeast ? ' AND id >= @atLeast' : ''}`;
  const range = (from: string, where: string): string => `SELECT rid, id FROM ${from} WHERE ${where}${bounds} ORDER BY id DESC LIMIT @scan`;
  switch (shape.driver) {
    // The partial indexes (016) hold no '' value: the condition says so, or SQLite cannot use them.
    case 'schedule':
      return range('tasks INDEXED BY tasks_project_schedule', "project_id = @project AND schedule_id = @schedule AND schedule_id <> ''");
    case 'tag':
      return range('task_tags', 'project_id = @project AND tag = @tag');
    case 'flow':
      return range('tasks INDEXED BY tasks_project_flow', "project_id = @project AND flow_key = @flow AND flow_key <> ''");
    case 'host':
      return range('tasks INDEXED BY tasks_project_host', 'project_id = @project AND host_tag = @host');
    case 'project':
      return range('tasks INDEXED BY tasks_project_list', 'project_id = @project');
    case 'states': {
      const one = (i: number): string =>
        `SELECT * FROM (${range('tasks INDEXED BY tasks_project_state', `project_id = @project AND state = @s${i}`)})`;
      const ranges = Array.from({ length: shape.states }, (_, i) => one(i));
      return ranges.length === 1 ? ranges[0]! : `SELECT * FROM (${ranges.join(' UNION ALL ')}) ORDER BY id DESC LIMIT @scan`;
    }
  }
}

function residualSql(shape: Shape): string {
  const where: string[] = [];
  if (shape.residual.states) where.push(`t.state IN (${Array.from({ length: shape.states }, (_, i) => `@s${i}`).join(', ')})`);
  if (shape.residual.tag) where.push('EXISTS (SELECT 1 FROM task_tags g WHERE g.project_id = @project AND g.tag = @tag AND g.id = t.id)');
  if (shape.residual.flow) where.push('t.flow_key = @flow');
  if (shape.residual.host) where.push('t.host_tag = @host');
  if (shape.residual.next) where.push('t.exec_at > 0');
  if (shape.residual.nextFrom) where.push('t.exec_at >= @nextFrom');
  if (shape.residual.nextTo) where.push('t.exec_at < @nextTo');
  return where.length === 0 ? '' : `WHERE ${where.join(' AND ')}`;
}

function hasResidual(shape: Shape): boolean {
  const { states, tag, flow, host, next } = shape.residual;
  return states || tag || flow || host || next;
}

export class TaskLister {
  private readonly pages = new Map<string, Database.Statement<[Params], TaskRow>>();
  private readonly scans = new Map<string, Database.Statement<[Params], { n: number; last: string | null }>>();

  /** `own`: the connection is the lister's (listingConnection), closed with it. */
  constructor(
    private readonly db: Database.Database,
    private readonly own: boolean,
  ) {}

  close(): void {
    if (this.own && this.db.open) this.db.close();
  }

  /** Rows of the page (newest first, at most `limit`) and where the next page starts. */
  list(projectId: string, query: TaskQuery): { rows: TaskRow[]; next: string | null } {
    const shape = shapeOf(query);
    const key = JSON.stringify(shape);
    const residual = hasResidual(shape);
    const params: Params = { project: projectId, scan: residual ? LIST_SCAN : query.limit + 1, take: query.limit + 1 };
    if (query.below !== undefined) params.below = query.below;
    if (query.atLeast !== undefined) params.atLeast = query.atLeast;
    if (query.tag !== undefined) params.tag = query.tag;
    if (query.hostTag !== undefined) params.host = query.hostTag;
    if (query.scheduleId !== undefined) params.schedule = query.scheduleId;
    if (query.flowKey !== undefined) params.flow = query.flowKey;
    query.states?.forEach((state, i) => (params[`s${i}`] = state));
    if (query.nextFrom !== undefined) params.nextFrom = query.nextFrom;
    if (query.nextTo !== undefined) params.nextTo = query.nextTo;

    const rows = this.page(key, shape).all(params);
    if (rows.length > query.limit) {
      rows.length = query.limit;
      return { rows, next: idOf(rows[rows.length - 1]!) };
    }
    if (!residual) return { rows, next: null };
    // Short: the range may hold more than the candidates read; the next page reads on from the last.
    const scanned = this.scan(key, shape).get(params);
    return { rows, next: scanned && scanned.n >= LIST_SCAN ? scanned.last : null };
  }

  private page(key: string, shape: Shape): Database.Statement<[Params], TaskRow> {
    let stmt = this.pages.get(key);
    if (!stmt) {
      stmt = this.db
        .prepare<[Params], TaskRow>(
          `SELECT ${TASK_SELECT} FROM (${driverSql(shape)}) c JOIN tasks t ON t.rid = c.rid JOIN requests r ON r.rid = t.rid
           ${residualSql(shape)} ORDER BY c.id DESC LIMIT @take`,
        )
        .raw(true);
      this.pages.set(key, stmt);
    }
    return stmt;
  }

  private scan(key: string, shape: Shape): Database.Statement<[Params], { n: number; last: string | null }> {
    let stmt = this.scans.get(key);
    if (!stmt) {
      stmt = this.db.prepare<[Params], { n: number; last: string | null }>(
        `SELECT count(*) AS n, min(id) AS last FROM (${driverSql(shape)})`,
      );
      this.scans.set(key, stmt);
    }
    return stmt;
  }
}
