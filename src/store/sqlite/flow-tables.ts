import type Database from 'better-sqlite3';
import {
  FLOW,
  type FlowLimits,
  type FlowSettings,
  type FlowUse,
  flowRoom,
  flowWakeAt,
  paceAfterStart,
  rateWindowStart,
} from '../../core/flow.js';
import type { FlowStatus } from '../task-store.js';

/*
 * The SQLite side of flow control (migration 014; the rules are core/flow.ts). A key's limits are a
 * row of `flows`; what it uses is read from the tasks themselves (its leases, through a partial
 * index of keyed tasks) and from `flow_starts` (its starts within the rate window). A due task of a
 * key with no room is parked under the group `f:<project id>:<key>` (the `parked` column of 006),
 * and `flows.wake_at` tells when a claim should look at the key again (nextDueAt answers it).
 * Every method runs inside the store's write batch or a claim's transaction.
 */

interface FlowRow {
  project_id: string;
  flow_key: string;
  rate_limit: number;
  rate_period_ms: number;
  parallelism: number;
  ordered: number;
  paused: number;
  pace: number;
}

/** A wake_at the next claim meets whatever its time: the key is looked at by the next claim. */
export const AT_ONCE = 0;

/** The group a key's waiting tasks are parked under (never a share group: those start with `p:` or `h:`). */
export function flowParkGroup(projectId: string, key: string): string {
  return `f:${projectId}:${key}`;
}

function limitsOf(row: FlowRow): FlowLimits {
  return {
    rate: row.rate_limit > 0 ? { limit: row.rate_limit, periodMs: row.rate_period_ms } : null,
    parallelism: row.parallelism > 0 ? row.parallelism : null,
    ordered: row.ordered === 1,
    paused: row.paused === 1,
  };
}

/** One key as a claim sees it: its limits, its use, and what this claim took of its room. */
interface ClaimedFlow {
  projectId: string;
  key: string;
  /** Null: the project set no limits for the key (its tasks flow freely). */
  limits: FlowLimits | null;
  use: FlowUse;
  room: number;
  /** The rid of the key's oldest active task, for an ordered key. */
  head: number | null;
  /** The pace as loaded, to write it back only when a start moved it. */
  loadedPace: number;
}

export class FlowTables {
  private readonly stmt;
  /** The earliest wake_at stored (this process is the database's only writer): claims before it skip the look. */
  private earliestWake: number;

  constructor(db: Database.Database) {
    this.stmt = {
      read: db.prepare<[string, string], FlowRow>('SELECT * FROM flows WHERE project_id = ? AND flow_key = ?'),
      list: db.prepare<[string], FlowRow>('SELECT * FROM flows WHERE project_id = ? ORDER BY flow_key'),
      count: db.prepare<[string], { n: number }>('SELECT count(*) AS n FROM flows WHERE project_id = ?'),
      put: db.prepare<[string, string, number, number, number, number, number | null]>(
        `INSERT INTO flows (project_id, flow_key, rate_limit, rate_period_ms, parallelism, ordered, wake_at) VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (project_id, flow_key) DO UPDATE SET rate_limit = excluded.rate_limit, rate_period_ms = excluded.rate_period_ms,
           parallelism = excluded.parallelism, ordered = excluded.ordered, wake_at = excluded.wake_at`,
      ),
      pause: db.prepare<[string, string]>(
        `INSERT INTO flows (project_id, flow_key, paused, wake_at) VALUES (?, ?, 1, NULL)
         ON CONFLICT (project_id, flow_key) DO UPDATE SET paused = 1, wake_at = NULL`,
      ),
      resume: db.prepare<[number | null, string, string]>('UPDATE flows SET paused = 0, wake_at = ? WHERE project_id = ? AND flow_key = ?'),
      delete: db.prepare<[string, string]>('DELETE FROM flows WHERE project_id = ? AND flow_key = ?'),
      deleteStarts: db.prepare<[string, string]>('DELETE FROM flow_starts WHERE project_id = ? AND flow_key = ?'),
      earliestWake: db.prepare<[], { at: number | null }>('SELECT MIN(wake_at) AS at FROM flows WHERE wake_at IS NOT NULL'),
      dueForLook: db.prepare<[number], { project_id: string; flow_key: string }>(
        'SELECT project_id, flow_key FROM flows WHERE wake_at <= ? ORDER BY wake_at LIMIT 64',
      ),
      setWake: db.prepare<[number | null, string, string]>('UPDATE flows SET wake_at = ? WHERE project_id = ? AND flow_key = ?'),
      setPace: db.prepare<[number, string, string]>('UPDATE flows SET pace = ? WHERE project_id = ? AND flow_key = ?'),
      defer: db.prepare<[number, string]>('UPDATE tasks SET due_at = ? WHERE rid IN (SELECT value FROM json_each(?))'),
      // A lease given up: look at the key now, if its tasks wait.
      wakeNow: db.prepare<[number, string, string]>(
        'UPDATE flows SET wake_at = ? WHERE project_id = ? AND flow_key = ? AND wake_at IS NOT NULL AND paused = 0',
      ),
      leases: db.prepare<[string, string, number], { n: number; first: number | null }>(
        `SELECT count(*) AS n, MIN(lease_until) AS first FROM tasks
         WHERE project_id = ? AND flow_key = ? AND flow_key <> '' AND lease_token IS NOT NULL AND lease_until > ?`,
      ),
      dropStarts: db.prepare<[string, string, number]>('DELETE FROM flow_starts WHERE project_id = ? AND flow_key = ? AND at <= ?'),
      starts: db.prepare<[string, string], { n: number; first: number | null }>(
        'SELECT count(*) AS n, MIN(at) AS first FROM flow_starts WHERE project_id = ? AND flow_key = ?',
      ),
      addStart: db.prepare<[string, string, number]>('INSERT INTO flow_starts (project_id, flow_key, at) VALUES (?, ?, ?)'),
      head: db.prepare<[string, string], { rid: number; parked: string | null }>(
        `SELECT rid, parked FROM tasks WHERE project_id = ? AND flow_key = ? AND flow_key <> '' AND state IN ('RUNNING', 'PAUSED')
         ORDER BY rid LIMIT 1`,
      ),
      waiting: db.prepare<[string], { n: number }>('SELECT count(*) AS n FROM tasks WHERE parked = ?'),
      unpark: db.prepare<[string, number]>(
        `UPDATE tasks SET due_at = exec_at, parked = NULL
         WHERE rid IN (SELECT rid FROM tasks WHERE parked = ? ORDER BY exec_at LIMIT ?)`,
      ),
      unparkOne: db.prepare<[number, string]>('UPDATE tasks SET due_at = exec_at, parked = NULL WHERE rid = ? AND parked = ?'),
      park: db.prepare<[string, string]>('UPDATE tasks SET due_at = NULL, parked = ? WHERE rid IN (SELECT value FROM json_each(?))'),
    };
    this.earliestWake = this.stmt.earliestWake.get()?.at ?? Infinity;
  }

  /** When a claim should look at a key next (the earliest wake_at); null when no key waits. */
  nextWake(): number | null {
    return Number.isFinite(this.earliestWake) ? this.earliestWake : null;
  }

  private noteWake(at: number | null): void {
    if (at !== null && at < this.earliestWake) this.earliestWake = at;
  }

  /** Answers false when the key is new and the project holds FLOW.keysMax keys. */
  put(projectId: string, key: string, settings: FlowSettings): boolean {
    if (!this.stmt.read.get(projectId, key) && (this.stmt.count.get(projectId)?.n ?? 0) >= FLOW.keysMax) return false;
    const waiting = this.waitingCount(projectId, key) > 0;
    this.stmt.put.run(
      projectId,
      key,
      settings.rate?.limit ?? 0,
      settings.rate?.periodMs ?? 0,
      settings.parallelism ?? 0,
      settings.ordered ? 1 : 0,
      // Looked at by the next claim, by the new limits, when tasks wait.
      waiting ? AT_ONCE : null,
    );
    if (waiting) this.noteWake(AT_ONCE);
    return true;
  }

  read(projectId: string, key: string, now: number): FlowStatus | null {
    const row = this.stmt.read.get(projectId, key);
    return row ? this.statusOf(row, now) : null;
  }

  list(projectId: string, now: number): FlowStatus[] {
    return this.stmt.list.all(projectId).map((row) => this.statusOf(row, now));
  }

  /** Removes the key's limits; its waiting tasks are due again at once. */
  delete(projectId: string, key: string): boolean {
    if (this.stmt.delete.run(projectId, key).changes === 0) return false;
    this.stmt.deleteStarts.run(projectId, key);
    this.stmt.unpark.run(flowParkGroup(projectId, key), -1);
    return true;
  }

  pause(projectId: string, key: string, paused: boolean): boolean {
    if (paused) {
      this.stmt.pause.run(projectId, key);
      return true;
    }
    const waiting = this.waitingCount(projectId, key) > 0;
    const changed = this.stmt.resume.run(waiting ? AT_ONCE : null, projectId, key).changes > 0;
    if (changed && waiting) this.noteWake(AT_ONCE);
    return changed;
  }

  /** A lease of the key was given up (an outcome, a release, a delete): its waiting tasks are looked at now. */
  leaseGivenUp(projectId: string, key: string): void {
    if (this.stmt.wakeNow.run(AT_ONCE, projectId, key).changes > 0) this.noteWake(AT_ONCE);
  }

  private waitingCount(projectId: string, key: string): number {
    return this.stmt.waiting.get(flowParkGroup(projectId, key))?.n ?? 0;
  }

  private statusOf(row: FlowRow, now: number): FlowStatus {
    const leases = this.stmt.leases.get(row.project_id, row.flow_key, now);
    return {
      key: row.flow_key,
      ...limitsOf(row),
      inFlight: leases?.n ?? 0,
      waiting: this.waitingCount(row.project_id, row.flow_key),
    };
  }

  /** A claim's view of the keys it meets; call inside the claim's transaction. */
  claim(now: number): FlowClaim {
    return new FlowClaim(this, now);
  }

  /** @internal FlowClaim's reads and writes. */
  load(projectId: string, key: string, now: number): ClaimedFlow {
    const row = this.stmt.read.get(projectId, key);
    const use: FlowUse = { inFlight: 0, leaseEnd: null, starts: 0, oldestStart: null, pace: row?.pace ?? 0, headWaits: false };
    if (!row) return { projectId, key, limits: null, use, room: Infinity, head: null, loadedPace: use.pace };
    const limits = limitsOf(row);
    const leases = this.stmt.leases.get(projectId, key, now);
    use.inFlight = leases?.n ?? 0;
    use.leaseEnd = leases?.first ?? null;
    if (limits.rate) {
      this.stmt.dropStarts.run(projectId, key, rateWindowStart(limits.rate, now));
      const starts = this.stmt.starts.get(projectId, key);
      use.starts = starts?.n ?? 0;
      use.oldestStart = starts?.first ?? null;
    }
    const first = limits.ordered ? this.stmt.head.get(projectId, key) : undefined;
    const head = first?.rid ?? null;
    use.headWaits = first?.parked === flowParkGroup(projectId, key);
    return { projectId, key, limits, use, room: flowRoom(limits, use, now), head, loadedPace: use.pace };
  }

  /** @internal Puts back as many of the key's waiting tasks as it has room for (an ordered key: its head only). */
  unparkWithin(flow: ClaimedFlow): void {
    const group = flowParkGroup(flow.projectId, flow.key);
    if (flow.limits?.ordered) {
      if (flow.room > 0 && flow.head !== null && this.stmt.unparkOne.run(flow.head, group).changes > 0) flow.use.headWaits = false;
    } else if (flow.room > 0) this.stmt.unpark.run(group, Number.isFinite(flow.room) ? flow.room : -1);
  }

  /** @internal */
  recordStart(flow: ClaimedFlow, now: number): void {
    if (!flow.limits?.rate) return;
    this.stmt.addStart.run(flow.projectId, flow.key, now);
    flow.use.pace = paceAfterStart(flow.limits.rate, flow.use.pace, now);
  }

  /** @internal Tasks whose lease ran out while their key has no room: due again at `at`, their lease left as it is. */
  defer(rids: number[], at: number): void {
    this.stmt.defer.run(at, JSON.stringify(rids));
  }

  /** @internal */
  park(group: string, rids: number[]): void {
    this.stmt.park.run(group, JSON.stringify(rids));
  }

  /** @internal Sets when a claim looks at the key next: never when nothing of it waits. */
  settle(flow: ClaimedFlow, now: number): void {
    const waiting = this.waitingCount(flow.projectId, flow.key) > 0;
    const wake = !waiting ? null : flow.limits ? flowWakeAt(flow.limits, flow.use, now) : now;
    if (flow.limits || waiting) this.stmt.setWake.run(wake, flow.projectId, flow.key);
    if (flow.use.pace !== flow.loadedPace) this.stmt.setPace.run(flow.use.pace, flow.projectId, flow.key);
    this.noteWake(wake);
  }

  /** @internal When a deferred task of the key is due again: when the key may have room, never now. */
  deferUntil(flow: ClaimedFlow, now: number): number {
    const wake = flow.limits ? flowWakeAt(flow.limits, flow.use, now) : null;
    return Math.max(now + 1, wake ?? now + FLOW.recheckMs);
  }

  /** @internal */
  keysToLook(now: number): { project_id: string; flow_key: string }[] {
    if (now < this.earliestWake) return [];
    const keys = this.stmt.dueForLook.all(now);
    if (keys.length === 0) this.earliestWake = this.stmt.earliestWake.get()?.at ?? Infinity;
    return keys;
  }

  /** @internal After a claim settled its keys: the earliest wake stored. */
  refreshEarliest(): void {
    this.earliestWake = this.stmt.earliestWake.get()?.at ?? Infinity;
  }
}

/**
 * The flow side of one claim: first the keys due for a look get their waiting tasks back (as many
 * as they have room for); then each due task with a key is judged by `admit`; at the end `settle`
 * parks those refused and sets each key's next look.
 */
export class FlowClaim {
  private readonly flows = new Map<string, ClaimedFlow>();
  private readonly parked = new Map<string, number[]>();
  private readonly refusedRids = new Set<number>();
  /** Refused tasks whose lease ran out, by key. */
  private readonly deferred = new Map<string, number[]>();

  constructor(
    private readonly tables: FlowTables,
    private readonly now: number,
  ) {
    for (const { project_id, flow_key } of tables.keysToLook(now)) {
      const flow = this.flowOf(project_id, flow_key);
      tables.unparkWithin(flow);
    }
  }

  private flowOf(projectId: string, key: string): ClaimedFlow {
    const name = `${projectId}:${key}`;
    let flow = this.flows.get(name);
    if (!flow) {
      flow = this.tables.load(projectId, key, this.now);
      this.flows.set(name, flow);
    }
    return flow;
  }

  /**
   * May this due task of the key start now? Counts it when it may. A task whose lease ran out (its
   * holder presumed gone) needs room too, so a dead node's tasks cannot push the key past its
   * limits; it is not the head's turn that it waits for.
   */
  admit(rid: number, projectId: string, key: string, leased: boolean): boolean {
    const flow = this.flowOf(projectId, key);
    if (!flow.limits) return true;
    const allowed = flow.room > 0 && (!flow.limits.ordered || flow.head === rid || leased);
    if (!allowed) return false;
    flow.room = Math.max(0, flow.room - 1);
    flow.use.inFlight++;
    if (flow.limits.rate) {
      flow.use.starts++;
      flow.use.oldestStart ??= this.now;
      this.tables.recordStart(flow, this.now);
    }
    return true;
  }

  /**
   * A task `admit` refused: it waits parked under its key; one whose lease ran out stays in the due
   * index (parking it would hide it from the renewals and releases of that lease), due again when
   * the key may have room.
   */
  refuse(rid: number, projectId: string, key: string, leased: boolean): void {
    this.refusedRids.add(rid);
    if (leased) {
      const name = `${projectId}:${key}`;
      const rids = this.deferred.get(name);
      if (rids) rids.push(rid);
      else this.deferred.set(name, [rid]);
      return;
    }
    const group = flowParkGroup(projectId, key);
    const flow = this.flows.get(`${projectId}:${key}`);
    if (flow && flow.head === rid) flow.use.headWaits = true;
    const rids = this.parked.get(group);
    if (rids) rids.push(rid);
    else this.parked.set(group, [rid]);
  }

  refused(rid: number): boolean {
    return this.refusedRids.has(rid);
  }

  /** Parks the refused tasks and sets each key's next look. */
  settle(): void {
    for (const [group, rids] of this.parked) this.tables.park(group, rids);
    for (const [name, rids] of this.deferred) this.tables.defer(rids, this.tables.deferUntil(this.flows.get(name)!, this.now));
    if (this.flows.size === 0) return;
    for (const flow of this.flows.values()) this.tables.settle(flow, this.now);
    this.tables.refreshEarliest();
  }
}
