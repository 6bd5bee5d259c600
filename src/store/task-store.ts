import type { AttemptRecord } from '../core/attempt-log.js';
import type { BreakerPolicy, Circuit, ProjectBreakers, StoredCircuit } from '../core/circuit.js';
import type { Clock } from '../core/clock.js';
import type { FlowLimits, FlowSettings } from '../core/flow.js';
import { AppError } from '../core/errors.js';
import type { Schedule, StoredSchedule } from '../core/schedule.js';
import type { Project, Task, TaskState, TimelineEntry } from '../core/task.js';

/** A task as read from a store: `version` changes with every write, for compare-and-set. */
export interface StoredTask extends Task {
  version: number;
}

/** What a store answers for a task refused because its project's queue is full. */
export function queueFull(limit: number): AppError {
  return new AppError('QUEUE_FULL', `The project already holds ${limit} tasks in queue (RUNNING or PAUSED)`);
}

/**
 * What one claimer (a dispatcher) may hold per group of tasks: a project (`p:<project id>`) or a
 * target host (`h:<host tag>`). A task whose group is full waits in the store.
 */
export interface ClaimShares {
  /** Most tasks of one project the claimer may hold (claimed, in flight or waiting for a slot). */
  perProject: number;
  /** Most tasks for one target host the claimer may hold. */
  perHost: number;
  /** Tasks the claimer holds now, per group key; groups it holds none of may be left out. */
  held: ReadonlyMap<string, number>;
}

/**
 * Due tasks a claim under shares may read beyond those it takes, parking the ones whose group is
 * full: bounds one claim's work when a backlog of one group falls due at once (the next claims read on).
 */
export const PARK_WINDOW = 1024;

/** The keys of ClaimShares.held. A task stored without a host tag belongs to no host group. */
export const projectGroup = (projectId: string): string => `p:${projectId}`;
export const hostGroup = (hostTag: string): string | null => (hostTag === '' ? null : `h:${hostTag}`);

/**
 * Counts a claim against the shares, for a store's claim loop: the group that is full, or null
 * when the task may be claimed (and then counts it in `held`, this claim's running count).
 */
export function takeShare(shares: ClaimShares, held: Map<string, number>, projectId: string, hostTag: string): string | null {
  const project = projectGroup(projectId);
  const host = hostGroup(hostTag);
  const projectHeld = held.get(project) ?? shares.held.get(project) ?? 0;
  if (projectHeld >= shares.perProject) return project;
  const hostHeld = host === null ? 0 : (held.get(host) ?? shares.held.get(host) ?? 0);
  if (host !== null && hostHeld >= shares.perHost) return host;
  held.set(project, projectHeld + 1);
  if (host !== null) held.set(host, hostHeld + 1);
  return null;
}

/** Room a claimer has in a group: how many of its parked tasks a claim may put back. */
export function roomIn(shares: ClaimShares, group: string): number {
  const cap = group.startsWith('p:') ? shares.perProject : shares.perHost;
  return Math.max(0, cap - (shares.held.get(group) ?? 0));
}

/**
 * A write refused because the caller broke an invariant (the project does not exist, the task id is
 * taken): a bug, not the client's doing, so the API answers it as INTERNAL. Both stores throw it.
 */
export class StoreInvariantError extends Error {
  constructor(
    readonly reason: 'NO_PROJECT' | 'ID_TAKEN',
    message: string,
  ) {
    super(message);
    this.name = 'StoreInvariantError';
  }
}

/** What a store tells about itself at start: facts for the log, and risks to acknowledged tasks. */
export interface StoreReport {
  facts: Record<string, string | number | boolean>;
  /** Each a sentence an operator can act on; empty when nothing puts acknowledged tasks at risk. */
  warnings: string[];
}

/** Where a page of a timeline starts (a position a previous page answered, 0 for the start) and how long it is. */
export interface TimelineRange {
  from: number;
  limit: number;
}

export interface TimelinePage {
  entries: TimelineEntry[];
  /** Where the next page starts; null when this one reaches the end. */
  next: number | null;
}

/** A page of a task's attempt log asked for: newest first, numbers below `before` (null: from the newest). */
export interface AttemptRange {
  before: number | null;
  limit: number;
}

export interface AttemptPage {
  /** Newest first. */
  attempts: AttemptRecord[];
  /** The `before` of the next page; null when this one reaches the end. */
  next: number | null;
}

/** What one step of the retention sweep did. */
export interface SweepStep {
  /** Tasks deleted (with their timelines). */
  deleted: number;
  /** False when nothing finished before the cut-off is left. */
  more: boolean;
}

/** One request an inbox kept: its id (sorts by arrival) and its content, sealed (core/inbox.ts); opaque to stores. */
export interface InboxRecord {
  id: string;
  sealed: Uint8Array;
}

/**
 * A project's signing keys as stored: each sealed by the API (RequestCipher.sealBytes, bound to the
 * project, core/signing.ts), opaque to stores.
 */
export interface StoredSigningKeys {
  current: Uint8Array;
  /** The key before the last rotation, used beside `current` until `previousUntil`; null when none. */
  previous: Uint8Array | null;
  previousUntil: number;
}

/**
 * An Idempotency-Key given with a subscribe: keyed digests of the key and of the raw body (never
 * the key or the body themselves), recorded with the task for `windowMs` from `now`.
 */
export interface IdempotencyClaim {
  keyDigest: string;
  bodyDigest: string;
  now: number;
  windowMs: number;
}

/** What a store answers when the claim's key was recorded already (and not yet expired): nothing was inserted. */
export interface IdempotencyRecord {
  taskId: string;
  bodyDigest: string;
}

/** Attempt outcomes of one project in one minute (`minute`: its start, ms). */
export interface ActivityCount {
  projectId: string;
  minute: number;
  delivered: number;
  failed: number;
}

/** How long a minute's activity counts are kept: the API reads the last hour, with room for late flushes. */
export const ACTIVITY_KEEP_MS = 2 * 60 * 60_000;
/**
 * Which of a project's tasks a listing answers. Every condition given must hold; ids bound the
 * creation time too (ids sort by it, core/ids.ts).
 */
export interface TaskFilter {
  /** Any of these states. */
  states?: readonly TaskState[];
  /** Tagged with this tag. */
  tag?: string;
  /** Sent to the host with this RequestCipher.hostTag digest. */
  hostTag?: string;
  /** A run of this schedule (the task's scheduleId). */
  scheduleId?: string;
  /** Carrying this flow key. */
  flowKey?: string;
  /** The next execution (execAt) at or after this; a task with none (0) never matches a next range. */
  nextFrom?: number;
  /** The next execution before this. */
  nextTo?: number;
}

/** A page of a listing: newest first (by id), ids below `below` and at least `atLeast`. */
export interface TaskQuery extends TaskFilter {
  /** Only ids below this one (the previous page's `next`); none: from the newest. */
  below?: string;
  /** Only ids at or above this one. */
  atLeast?: string;
  limit: number;
}

export interface TaskList {
  /** At most `limit` tasks, newest first. */
  tasks: StoredTask[];
  /**
   * Where the next page starts (its `below`); null when nothing is left. A page may hold fewer
   * than `limit` tasks and still have a next one: a filter the store's indexes do not cover reads
   * at most LIST_SCAN candidates per page.
   */
  next: string | null;
}

/** Candidates one listing page reads at most beyond the tasks it answers, checking the conditions no index covers. */
export const LIST_SCAN = 2_000;

/** A page of a project's schedules asked for: newest first (by id), ids below `below`. */
export interface ScheduleQuery {
  below?: string;
  limit: number;
}

export interface ScheduleList {
  schedules: StoredSchedule[];
  /** Where the next page starts (its `below`); null when nothing is left. */
  next: string | null;
}

/**
 * What TaskStore.makeRun did: DONE the run's task is stored and the schedule written; MOVED the
 * schedule changed (another server made the run, or it was paused or deleted) and nothing was
 * written; QUEUE_FULL the project's queue is full and nothing was written.
 */
export type RunWrite = 'DONE' | 'MOVED' | 'QUEUE_FULL';

/** A flow key's limits and what it uses now (core/flow.ts). */
export interface FlowStatus extends FlowLimits {
  key: string;
  /** The key's tasks whose lease has not ended, on every node. */
  inFlight: number;
  /** The key's due tasks held back by its limits, waiting in the store. */
  waiting: number;
}

export interface LeaseRef {
  id: string;
  token: string;
}

/**
 * The persistence contract every adapter implements (SQLite embedded, Redis shared). Adapters only
 * persist: every decision about a task is made in core/task-machine.ts, and the conformance suite in
 * test/store/ runs unchanged on each adapter.
 *
 * Writes are atomic: a task, its project's queue count and its timeline change together or not at
 * all. Where entries are appended, the timeline is kept within its bound (core/timeline.ts): past
 * TIMELINE.maxEntries, its first entries, one `Omitted` entry counting what was left out, its latest. Failures are `AppError`s with codes from core/errors.ts (EMAIL_TAKEN, QUEUE_FULL,
 * STORE_UNAVAILABLE); anything else is a bug.
 */
export interface TaskStore {
  /** `sqlite` or `redis`, for logs and health. */
  readonly kind: string;
  /**
   * True when no other server process can share this store (the SQLite adapter holds a lock file):
   * then every start follows a time when no server ran, and every lease left behind is dead.
   */
  readonly singleNode: boolean;
  /**
   * The time of this store's records: due times, leases, heartbeats and every timestamp the server
   * writes are read from it. Every server sharing the store reads the same time (on Redis, Redis's).
   */
  readonly clock: Clock;

  close(): Promise<void>;
  /** Cheap round trip, for /healthz. */
  ping(): Promise<void>;
  /** Facts about durability read from the engine itself, logged at start (docs/storage.md). */
  inspect(): Promise<StoreReport>;

  /** Inserts a project (EMAIL_TAKEN when its email is registered), with its signing keys when given. */
  insertProject(project: Project, signing?: StoredSigningKeys): Promise<void>;
  findProject(id: string): Promise<Project | null>;
  /** The project's signing keys; null when it has none (registered before signing) or does not exist. */
  readSigningKeys(projectId: string): Promise<StoredSigningKeys | null>;
  /** Replaces the signing keys of an existing project (a rotation). */
  writeSigningKeys(projectId: string, keys: StoredSigningKeys): Promise<void>;
  /** Tasks of the project that are RUNNING or PAUSED. */
  countActive(projectId: string): Promise<number>;

  /**
   * Inserts a new task with its first timeline entries, unless the project already holds
   * `activeLimit` active tasks (QUEUE_FULL). The project must exist.
   *
   * With `idempotency`: when the project recorded the same key digest within its window, nothing is
   * inserted and the record is answered (the caller compares the body digests); else the key is
   * recorded with the task, in the same atomic write, for `windowMs`. Answers null when inserted.
   */
  insertTask(
    task: Task,
    entries: readonly TimelineEntry[],
    activeLimit: number,
    idempotency?: IdempotencyClaim,
  ): Promise<IdempotencyRecord | null>;
  /**
   * Inserts new tasks (with no timeline entries) in one write: each alone is all or nothing, and
   * each is counted against `activeLimit` in order, as if inserted one after the other. Answers
   * one flag per task, in order: true stored, false refused because the project's queue was full
   * (nothing of it written). Tasks of one call may belong to several projects, each of which must
   * exist. Listeners of onDue hear of the earliest due time stored, as after insertTask.
   */
  insertTasks(tasks: readonly Task[], activeLimit: number): Promise<boolean[]>;
  findTask(projectId: string, id: string): Promise<StoredTask | null>;
  /**
   * A page of the task's stored timeline, oldest first: up to `page.limit` entries from position
   * `page.from` on (the whole timeline when `page` is left out); null when the task does not exist
   * in this project. Positions are the store's own (they survive entries being appended and left
   * out; a position whose entry was left out reads on from the `Omitted` entry that stands for it).
   */
  readTimeline(projectId: string, id: string, page?: TimelineRange): Promise<TimelinePage | null>;
  /**
   * Writes `next` and appends `entries` if the task still has `prev.version`; false otherwise
   * (changed or gone). A task's id, project, startAt, config and sealed request never
   * change after the insert; adapters may keep them as first written. `prev` is the task as this
   * store answered it (a claim or a read), unchanged: adapters may write only what differs from it.
   * `attempt` (an outcome's) joins the task's attempt log in the same write, which keeps the log's
   * latest ATTEMPT_LOG.maxEntries records (core/limits.ts); numbers grow by one per attempt of a task.
   */
  replaceTask(prev: StoredTask, next: Task, entries: readonly TimelineEntry[], attempt?: AttemptRecord): Promise<boolean>;
  /** A page of the task's attempt log, newest first; null when the task does not exist in this project. */
  readAttempts(projectId: string, id: string, page: AttemptRange): Promise<AttemptPage | null>;
  /**
   * A page of the project's tasks matching `query`, newest first (by id: keyset paging, so a task
   * that existed before the first page is answered exactly once, whatever is written meanwhile,
   * unless it leaves the filter). Tasks of other projects never show.
   */
  listTasks(projectId: string, query: TaskQuery): Promise<TaskList>;
  /** Deletes the task, its timeline and its attempt log if it still has `prev.version`. */
  deleteTask(prev: StoredTask): Promise<boolean>;

  /**
   * Claims up to `limit` tasks due at `now`, earliest first: each gets a fresh lease until
   * `now + leaseMs` (and is due again then, should its holder vanish). Atomic across processes.
   * With `shares`, a due task whose project or host the claimer holds its share of is not claimed
   * but parked: it leaves the due index, unchanged, until a claim whose claimer has room for its
   * group puts it back (any claim, on any node). Parked tasks neither fail nor use up attempts. A
   * task due because its lease ran out is claimed whatever the shares (its holder is presumed gone).
   *
   * Flow control (core/flow.ts): a due task with a flow key whose project set limits for it is
   * claimed only as flowRoom allows (rate, parallelism, order, pause), counted in the store so every
   * claimer sees it; the others wait in the store (out of the due index, unchanged, no attempt used)
   * until the key has room: the store then makes them due again, and nextDueAt answers when that is
   * (flowWakeAt). A task whose lease ran out is claimed whatever the key's limits, and counted.
   * A task without a flow key costs the claim nothing of this.
   */
  claimDue(now: number, limit: number, leaseMs: number, shares?: ClaimShares): Promise<StoredTask[]>;
  /** Extends the leases still held; returns how many were. */
  renewLeases(leases: readonly LeaseRef[], until: number): Promise<number>;
  /**
   * Gives leases back (a stopping server's attempts in flight): each task still held by the token
   * is due again at its execution time, at once, and listeners are told. Returns how many.
   */
  releaseLeases(leases: readonly LeaseRef[]): Promise<number>;
  /**
   * Sets a flow key's limits (its paused state kept; a new key starts unpaused) and makes its waiting
   * tasks due again for a claim to judge them by the new limits. Answers false when the project
   * already holds FLOW.keysMax keys and this one is new (nothing written).
   */
  putFlow(projectId: string, key: string, settings: FlowSettings): Promise<boolean>;
  /** The key's limits and use; null when the project set none for it. */
  readFlow(projectId: string, key: string): Promise<FlowStatus | null>;
  /** The project's keys with limits, by key. */
  listFlows(projectId: string): Promise<FlowStatus[]>;
  /** Removes the key's limits (its tasks flow freely; those waiting are due again). False when it had none. */
  deleteFlow(projectId: string, key: string): Promise<boolean>;
  /**
   * Pauses or resumes a whole key. Pausing a key with no limits records it with none but the pause;
   * resuming one that has none answers false. Resuming makes its waiting tasks due again.
   */
  pauseFlow(projectId: string, key: string, paused: boolean): Promise<boolean>;
  /** Drops every lease: only after no server ran, so every holder is dead. Returns how many. */
  releaseAllLeases(): Promise<number>;
  /** The earliest due time, or null when nothing is scheduled. */
  nextDueAt(): Promise<number | null>;
  /**
   * How many tasks are due at `now` and not held (never claimed, or their lease ran out), counting
   * no further than `cap`: the cost stays bounded however many are due (the due backlog metric).
   * Parked tasks are not counted.
   */
  countDue(now: number, cap: number): Promise<number>;
  /**
   * Calls `listener` with the due time when a write, in any process sharing the store, makes a task
   * due earlier than every task that was scheduled (or when nothing was): that is when a sleeping
   * scheduler must wake sooner. Adapters may report other writes too.
   */
  onDue(listener: (dueAt: number) => void): () => void;

  /**
   * Records which key seals the stored requests (its fingerprint, never the key) the first time,
   * and answers the one recorded: a server started with another key must not run, as it could open
   * none of the stored requests.
   */
  bindKeyId(keyId: string): Promise<string>;
  /** Records that a server is alive at `now`; answers the previous record (null when none). */
  heartbeat(now: number): Promise<number | null>;
  /**
   * One small step of the retention sweep: deletes tasks that finished before `before`, with their
   * timelines, removing about `budget` rows at most (a task and each of its entries count one). A
   * timeline longer than a whole step is deleted over several steps, its task with the last one.
   * Stores that expire finished tasks themselves (Redis EXPIRE) answer `{deleted: 0, more: false}`.
   */
  sweepFinished(before: number, budget: number): Promise<SweepStep>;
  /**
   * Deletes up to `budget` Idempotency-Key records that expired before `now`; answers how many.
   * Stores whose records expire by themselves (Redis key TTL) answer 0.
   */
  sweepIdempotencyKeys(now: number, budget: number): Promise<number>;

  /** Keeps a request the project's inbox received; past `keep` of them, the oldest are dropped. */
  pushInbox(projectId: string, record: InboxRecord, keep: number): Promise<void>;
  /** The project's inbox, newest first. */
  readInbox(projectId: string): Promise<InboxRecord[]>;
  /** Empties the project's inbox. */
  clearInbox(projectId: string): Promise<void>;
  /**
   * Adds the counts to those stored (every server adds its own, so they sum across nodes). A
   * minute's counts are kept at least ACTIVITY_KEEP_MS after it, by the store's clock, then dropped.
   */
  addActivity(counts: readonly ActivityCount[]): Promise<void>;
  /** The project's counts for the minutes starting in [from, to), oldest first; minutes with none are left out. */
  readActivity(projectId: string, from: number, to: number): Promise<ActivityCount[]>;

  // Schedules (core/schedule.ts). A schedule is due at its nextRunAt while ACTIVE (scheduleDueAt).

  /** Inserts a new schedule (version 1). The project must exist. */
  /** Stores a new schedule; false (nothing written) when its project holds `limit` schedules already. */
  insertSchedule(schedule: Schedule, limit: number): Promise<boolean>;
  findSchedule(projectId: string, id: string): Promise<StoredSchedule | null>;
  /** A page of the project's schedules, newest first (by id); other projects' never show. */
  listSchedules(projectId: string, query: ScheduleQuery): Promise<ScheduleList>;
  /** Writes `next` if the schedule still has `prev.version`; false otherwise (changed or gone). */
  replaceSchedule(prev: StoredSchedule, next: Schedule): Promise<boolean>;
  /** Deletes the schedule if it still has `prev.version` (the tasks it made stay). */
  deleteSchedule(prev: StoredSchedule): Promise<boolean>;
  /**
   * Makes a run, in one atomic write conditioned on the schedule's version: writes `next` and
   * inserts `task` with `entries` (counted against `activeLimit` as insertTask counts it), or
   * writes nothing (MOVED, QUEUE_FULL). Two servers reading the same schedule cannot both make
   * its run. Listeners of onDue hear of the task as after insertTask.
   */
  makeRun(prev: StoredSchedule, next: Schedule, task: Task, entries: readonly TimelineEntry[], activeLimit: number): Promise<RunWrite>;
  /** Schedules (of every project) due at or before `until`, earliest first, at most `limit`. */
  dueSchedules(until: number, limit: number): Promise<StoredSchedule[]>;
  /** The earliest due time of a schedule after `after`, or null when none. */
  nextScheduleAfter(after: number): Promise<number | null>;
  /** The project's breaker policy (null: breakers off) and its circuits that hold a record (core/circuit.ts), in one read. */
  readBreakers(projectId: string): Promise<ProjectBreakers>;
  /** Sets the project's breaker policy; null turns breakers off and forgets every circuit of the project. */
  writeBreakerPolicy(projectId: string, policy: BreakerPolicy | null): Promise<void>;
  /**
   * Compare-and-set of one circuit of the project (kind and key from `next`, else from `prev`):
   * written, or deleted when `next` is null, if the stored record still has `prev`'s version (`prev`
   * null: if none is stored). Answers false otherwise. The stored version grows by one per write.
   */
  writeCircuit(projectId: string, prev: StoredCircuit | null, next: Circuit | null): Promise<boolean>;
}
