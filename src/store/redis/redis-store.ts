import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { Redis, type RedisOptions } from 'ioredis';
import type { BreakerPolicy, Circuit, ProjectBreakers, StoredCircuit } from '../../core/circuit.js';
import { type Clock, systemClock } from '../../core/clock.js';
import { AppError } from '../../core/errors.js';
import { ID_LENGTH } from '../../core/ids.js';
import type { AttemptRecord } from '../../core/attempt-log.js';
import type { Schedule, StoredSchedule } from '../../core/schedule.js';
import { decodeSchedule, encodeScheduleData, scheduleDueAt } from '../schedule-codec.js';
import { dueAtOf } from '../../core/task-machine.js';
import { type Project, type Task, type TimelineEntry, isActive, isFinished } from '../../core/task.js';
import { FLOW, type FlowSettings } from '../../core/flow.js';
import {
  type ClaimShares,
  type LeaseRef,
  PARK_WINDOW,
  type StoreReport,
  type StoredTask,
  LIST_SCAN,
  type SweepStep,
  type TaskList,
  type TaskQuery,
  type TaskStore,
  type TimelinePage,
  type TimelineRange,
  ACTIVITY_KEEP_MS,
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
  StoreInvariantError,
  type FlowStatus,
} from '../task-store.js';
import {
  attemptFromValue,
  attemptToValue,
  changedTaskFields,
  configValue,
  entryFromJson,
  entryToJson,
  projectFields,
  projectFromHash,
  pushNewTaskFields,
  SIGNING_FIELDS,
  signingFields,
  signingFromValues,
  taskFromFields,
  taskFromHash,
  taskFromLine,
} from './codec.js';
import type { Argument } from './encoded-command.js';
import { type LuaReply, type LuaScript, SCRIPTS, loadScripts } from './lua-script.js';
import { RedisClock } from './redis-clock.js';
import { parseInfo, redisReport } from './redis-report.js';
import { RESULT, idempotencyRecordOf, insertFailure, written } from './script-results.js';
import { TurnBatch } from './turn-batch.js';
import { TurnWrites } from './turn-writes.js';

/**
 * At most this many writes in one script call. A full call leaves at once (TurnBatch), so Redis
 * works on it while the turn goes on: with much larger calls the server's main thread sat waiting
 * on Redis, with smaller ones each write paid more of a call's fixed cost.
 */
export const WRITE_BATCH = 16;

/**
 * Tasks per script call of insertTasks: a call runs alone on Redis, so this bounds how long one
 * holds up other clients' commands, while the calls of a batch still leave in one write.
 */
export const INSERT_CALL_ITEMS = 250;

export interface RedisStoreOptions {
  /** redis://[user:pass@]host:port or rediss:// for TLS. */
  url: string;
  /** Seconds a finished task, its configuration and its timeline are kept (EXPIRE). */
  retentionSeconds: number;
  /** Key prefix, so one Redis can hold several independent services. */
  prefix?: string;
  /** This process's clock, which the store's clock corrects to Redis's time (default: the system's). */
  clock?: Clock;
  /** How often the offset to Redis's clock is measured again (default CLOCK_SYNC_MS). */
  clockSyncMs?: number;
}

/**
 * The shared store: several server processes on one Redis. The seed's layout is kept: database 0
 * holds projects and authorization, 1 the execution records and the due index, 2 the execution
 * configurations, 3 the timelines. Every multi-key step is one Lua script (scripts/*.lua, each with
 * a header), which SELECTs the databases it touches: a script runs atomically whatever databases it
 * spans, and its SELECT does not leak to the connection. Commands fail fast while Redis is away
 * (no offline queue) and surface as STORE_UNAVAILABLE; the client reconnects by itself.
 */
export class RedisStore implements TaskStore {
  readonly kind = 'redis';
  readonly singleNode = false;
  private readonly events = new EventEmitter();
  private readonly prefix: string;
  private readonly channel: string;
  private readonly keys;
  /** Lease tokens need to be unique, not secret: a random prefix per process and a counter. */
  private readonly tokenPrefix = `${randomBytes(9).toString('base64url')}.`;
  private claims = 0;

  /** The main client's commands of one turn in one write. */
  private readonly turnWrites: TurnWrites;
  /** The inserts of one turn, sent as one script call. */
  private readonly inserts: TurnBatch<Argument[], LuaReply>;
  /** The compare-and-sets of one turn (outcomes, mostly), sent as one script call. */
  private readonly replaces: TurnBatch<Argument[], LuaReply>;
  private constructor(
    private readonly main: Redis,
    private readonly projects: Redis,
    private readonly subscriber: Redis,
    /** Redis's time, read without a round trip (redis-clock.ts): every server on this store agrees on it. */
    readonly clock: RedisClock,
    private readonly options: RedisStoreOptions,
  ) {
    this.turnWrites = new TurnWrites(main);
    this.inserts = new TurnBatch(this.turnWrites, (batch) => this.sendBatch(SCRIPTS.insertTasks, batch), WRITE_BATCH);
    this.replaces = new TurnBatch(this.turnWrites, (batch) => this.sendBatch(SCRIPTS.replaceTasks, batch), WRITE_BATCH);
    this.prefix = options.prefix ?? 'kt:';
    this.channel = `${this.prefix}due`;
    this.keys = {
      due: `${this.prefix}due`,
      leased: `${this.prefix}leased`,
      parked: `${this.prefix}parked`,
      flowWake: `${this.prefix}flow-wake`,
      heartbeat: `${this.prefix}heartbeat`,
      project: (id: string) => `${this.prefix}project:${id}`,
      email: (email: string) => `${this.prefix}email:${email}`,
      task: (id: string) => `${this.prefix}task:${id}`,
      config: (id: string) => `${this.prefix}config:${id}`,
      timeline: (id: string) => `${this.prefix}timeline:${id}`,
      attempts: (id: string) => `${this.prefix}attempts:${id}`,
      inbox: (projectId: string) => `${this.prefix}inbox:${projectId}`,
      activity: (projectId: string, minute: number) => `${this.prefix}activity:${projectId}:${minute}`,
      schedule: (id: string) => `${this.prefix}schedule:${id}`,
      scheduleDue: `${this.prefix}schedule:due`,
      schedules: (projectId: string) => `${this.prefix}schedule:list:${projectId}`,
      circuits: (projectId: string) => `${this.prefix}circuit:${projectId}`,
    };
    this.events.setMaxListeners(0);
    subscriber.on('message', (channel: string, message: string) => {
      if (channel === this.channel) this.events.emit('due', Number(message));
    });
  }

  static async connect(options: RedisStoreOptions): Promise<RedisStore> {
    const base: RedisOptions = {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      connectTimeout: 5_000,
      retryStrategy: (times) => Math.min(100 * times, 2_000),
    };
    // No auto-pipelining: commands already share the connection without waiting for each other's
    // replies, and ioredis builds a Pipeline object for every turn that sends one; that garbage
    // survived into the old generation, whose collections showed as clusters of late deliveries.
    // TurnWrites gives the same single socket write per turn without it.
    const main = new Redis(options.url, { ...base, db: 1, connectionName: 'kuueri-tasks' });
    const projects = new Redis(options.url, { ...base, db: 0, connectionName: 'kuueri-tasks-projects' });
    // The subscriber keeps its subscription across reconnects; it needs the offline queue for that.
    const subscriber = new Redis(options.url, {
      ...base,
      enableOfflineQueue: true,
      maxRetriesPerRequest: null,
      connectionName: 'kuueri-tasks-wakeups',
    });
    const clients = [main, projects, subscriber];
    // Errors also arrive as events while reconnecting; commands report them to their callers.
    for (const client of clients) client.on('error', () => undefined);
    let clock: RedisClock | null = null;
    try {
      await Promise.all(clients.map((c) => c.connect()));
      await loadScripts(main);
      // On the projects client: the main one carries the claims and writes, whose queue would
      // lengthen the round trips the offset is measured over.
      clock = await RedisClock.start(projects, options.clock ?? systemClock, options.clockSyncMs);
      const store = new RedisStore(main, projects, subscriber, clock, options);
      await subscriber.subscribe(store.channel);
      return store;
    } catch (error) {
      clock?.stop();
      clients.forEach((c) => c.disconnect());
      throw new Error(`Cannot connect to Redis at ${redactUrl(options.url)}: ${(error as Error).message}`, { cause: error });
    }
  }

  /** Redis being away is a 503 for whoever asked, not a crash. */
  private async call<T>(work: () => Promise<T>): Promise<T> {
    this.turnWrites.hold();
    try {
      return await work();
    } catch (error) {
      if (error instanceof AppError) throw error;
      throw storeUnavailable(error) ?? error;
    }
  }

  async close(): Promise<void> {
    this.clock.stop();
    this.events.removeAllListeners();
    await Promise.allSettled([this.main.quit(), this.projects.quit(), this.subscriber.quit()]);
    this.main.disconnect();
    this.projects.disconnect();
    this.subscriber.disconnect();
  }

  async ping(): Promise<void> {
    await this.call(() => this.main.ping());
  }

  async inspect(): Promise<StoreReport> {
    const info = await this.call(() => this.projects.info());
    // Refused to a user without it, and unknown before Redis 6: the report says "unknown" then.
    const user = await this.projects.call('ACL', 'WHOAMI').then(String, () => null);
    const report = redisReport(parseInfo(info), user);
    // Not a risk (the servers use Redis's time), but a machine whose clock is off shows here.
    report.facts.clockOffsetMs = this.clock.offsetMs;
    return report;
  }

  async insertProject(project: Project, signing?: StoredSigningKeys): Promise<void> {
    const fields = projectFields(project);
    if (signing) fields.push(...signingFields(signing));
    const inserted = await this.call(() =>
      SCRIPTS.insertProject.run(this.main, [this.keys.email(project.email), this.keys.project(project.id)], [project.id, ...fields]),
    );
    if (!written(inserted)) throw new AppError('EMAIL_TAKEN');
  }

  async readSigningKeys(projectId: string): Promise<StoredSigningKeys | null> {
    const values = await this.call(() => this.projects.hmget(this.keys.project(projectId), ...SIGNING_FIELDS));
    return signingFromValues(values);
  }

  async writeSigningKeys(projectId: string, keys: StoredSigningKeys): Promise<void> {
    // Projects are never deleted, and only an authenticated project rotates its keys: the hash exists.
    await this.call(() => this.projects.hset(this.keys.project(projectId), ...signingFields(keys)));
  }

  async sweepIdempotencyKeys(): Promise<number> {
    return 0; // each record expires by itself (PX, insert-tasks-1.lua)
  }

  async findProject(id: string): Promise<Project | null> {
    const hash = await this.call(() => this.projects.hgetall(this.keys.project(id)));
    return projectFromHash(hash);
  }

  async countActive(projectId: string): Promise<number> {
    const active = await this.call(() => this.projects.hget(this.keys.project(projectId), 'active'));
    return Number(active ?? 0);
  }

  /** One task's values, in the order insert-tasks-1.lua reads them; `run`: the schedule a run writes with it (makeRun). */
  private insertArgs(
    task: Task,
    entries: readonly TimelineEntry[],
    activeLimit: number,
    idempotency?: IdempotencyClaim,
    run?: { prev: StoredSchedule; next: Schedule },
  ): Argument[] {
    const due = dueAtOf(task);
    const args: Argument[] = [
      task.projectId,
      task.id,
      String(activeLimit),
      isActive(task.state) ? '1' : '0',
      due === null ? '' : String(due),
      configValue(task),
      idempotency?.keyDigest ?? '',
      idempotency?.bodyDigest ?? '',
      String(idempotency?.windowMs ?? 0),
    ];
    args.push(String(entries.length));
    for (const entry of entries) args.push(entryToJson(entry));
    pushNewTaskFields(args, task, 1);
    if (run) args.push('4', run.prev.id, String(run.prev.version), String(scheduleDueAt(run.next) ?? ''), encodeScheduleData(run.next));
    else args.push('0');
    return args;
  }

  async insertTask(
    task: Task,
    entries: readonly TimelineEntry[],
    activeLimit: number,
    idempotency?: IdempotencyClaim,
  ): Promise<IdempotencyRecord | null> {
    const result = await this.call(() => this.inserts.add(this.insertArgs(task, entries, activeLimit, idempotency)));
    const recorded = idempotencyRecordOf(result);
    if (recorded) return recorded;
    const failure = insertFailure(result, { taskId: task.id, projectId: task.projectId, limit: activeLimit });
    if (failure) throw failure;
    return null;
  }

  async insertTasks(tasks: readonly Task[], activeLimit: number): Promise<boolean[]> {
    if (tasks.length === 0) return [];
    const items = tasks.map((task) => this.insertArgs(task, [], activeLimit));
    // Calls of INSERT_CALL_ITEMS, sent in one socket write (pipelined) and run in order, so the
    // queue limit counts the tasks in order across them.
    const replies = await this.call(() => {
      const calls: Promise<LuaReply[]>[] = [];
      for (let i = 0; i < items.length; i += INSERT_CALL_ITEMS)
        calls.push(this.sendBatch(SCRIPTS.insertTasks, items.slice(i, i + INSERT_CALL_ITEMS)));
      this.turnWrites.sendSoon();
      return Promise.all(calls);
    });
    return replies.flat().map((code, i) => {
      if (code === RESULT.QUEUE_FULL) return false;
      const task = tasks[i]!;
      const failure = insertFailure(code, { taskId: task.id, projectId: task.projectId, limit: activeLimit });
      if (failure) throw failure;
      return true;
    });
  }

  /**
   * One call of a batch script for the writes of a turn (see TurnBatch): the due index is its key;
   * the wake-up channel, the key prefix and the count come first, then each item's values.
   */
  private async sendBatch(script: LuaScript, batch: Argument[][]): Promise<LuaReply[]> {
    const reply = await script.run(this.main, [this.keys.due], [this.channel, this.prefix, batch.length], batch);
    if (!Array.isArray(reply)) throw new Error(`${script.name} answered ${String(reply)}`);
    return reply;
  }

  async findTask(projectId: string, id: string): Promise<StoredTask | null> {
    const reply = await this.call(() =>
      SCRIPTS.findTask.run(this.main, [this.keys.task(id), this.keys.config(id)], [projectId], [], { buffers: true }),
    );
    if (!Array.isArray(reply)) return null;
    return taskFromHash(id, reply[0] as Buffer[], reply[1] as Buffer);
  }

  async listTasks(projectId: string, query: TaskQuery): Promise<TaskList> {
    const args: (string | number)[] = [
      this.prefix,
      projectId,
      query.below ?? '',
      query.atLeast ?? '',
      query.limit,
      LIST_SCAN,
      query.nextFrom ?? '',
      query.nextTo ?? '',
      query.hostTag ?? '',
      query.tag ?? '',
      query.scheduleId ?? '',
      query.flowKey ?? '',
      query.states?.length ?? 0,
      ...(query.states ?? []),
    ];
    const reply = await this.call(() => SCRIPTS.listTasks.run(this.main, [], args, [], { buffers: true }));
    if (!Array.isArray(reply)) throw new Error(`list-tasks answered ${String(reply)}`);
    const tasks: StoredTask[] = [];
    for (let i = 1; i + 2 < reply.length; i += 3) {
      tasks.push(taskFromFields(String(reply[i]), reply[i + 1] as (Buffer | null)[], reply[i + 2] as Buffer));
    }
    const next = String(reply[0] ?? '');
    return { tasks, next: next === '' ? null : next };
  }

  async readTimeline(projectId: string, id: string, page?: TimelineRange): Promise<TimelinePage | null> {
    const reply = await this.call(() =>
      SCRIPTS.readTimeline.run(this.main, [this.keys.task(id), this.keys.timeline(id)], [projectId, page?.from ?? 0, page?.limit ?? -1]),
    );
    if (!Array.isArray(reply)) return null;
    const next = String(reply[0] ?? '');
    return { entries: reply.slice(1).map((json) => entryFromJson(String(json))), next: next === '' ? null : Number(next) };
  }

  async readAttempts(projectId: string, id: string, page: AttemptRange): Promise<AttemptPage | null> {
    const args = [projectId, page.before ?? '', page.limit];
    const reply = await this.call(() =>
      SCRIPTS.readAttempts.run(this.main, [this.keys.task(id), this.keys.attempts(id)], args, [], { buffers: true }),
    );
    if (!Array.isArray(reply)) return null;
    const next = String(reply[0] ?? '');
    return { attempts: reply.slice(1).map((value) => attemptFromValue(value as Buffer, id)), next: next === '' ? null : Number(next) };
  }

  async replaceTask(prev: StoredTask, next: Task, entries: readonly TimelineEntry[], attempt?: AttemptRecord): Promise<boolean> {
    const due = dueAtOf(next);
    const delta = Number(isActive(next.state)) - Number(isActive(prev.state));
    const fields = changedTaskFields(prev, next);
    const args: Argument[] = [
      prev.id,
      prev.projectId,
      String(prev.version),
      String(delta),
      due === null ? '' : String(due),
      next.leaseToken !== null ? '1' : '0',
      isFinished(next.state) ? String(this.options.retentionSeconds) : '',
      String(entries.length),
      ...entries.map(entryToJson),
      String(fields.length),
      ...fields,
      ...(attempt ? ['1', attemptToValue(attempt)] : ['0']),
    ];
    const done = written(await this.call(() => this.replaces.add(args)));
    if (done && prev.flowKey !== '' && (prev.leaseToken !== null || isActive(prev.state) !== isActive(next.state))) this.settleFlow(prev);
    return done;
  }

  /**
   * After a write that may have given up a lease of a keyed task: frees its place in its key and
   * wakes the key's waiting tasks (flow-settle-0.lua). Not awaited: the claim script heals what
   * a lost call leaves (a lease counts until its end), and the write it follows is done.
   */
  private settleFlow(task: StoredTask): void {
    const args = [this.prefix, this.channel, task.projectId, task.flowKey, task.id];
    this.call(() => SCRIPTS.flowSettle.run(this.main, [], args)).catch(() => undefined);
  }

  async deleteTask(prev: StoredTask): Promise<boolean> {
    const result = await this.call(() =>
      SCRIPTS.deleteTask.run(
        this.main,
        [
          this.keys.project(prev.projectId),
          this.keys.task(prev.id),
          this.keys.due,
          this.keys.leased,
          this.keys.config(prev.id),
          this.keys.timeline(prev.id),
          this.keys.attempts(prev.id),
        ],
        [prev.version, isActive(prev.state) ? -1 : 0, prev.id, this.prefix],
      ),
    );
    const done = written(result);
    if (done && prev.flowKey !== '') this.settleFlow(prev);
    return done;
  }

  async claimDue(now: number, limit: number, leaseMs: number, shares?: ClaimShares): Promise<StoredTask[]> {
    if (limit <= 0) return [];
    const token = `${this.tokenPrefix}${++this.claims}`;
    const held = shares ? [...shares.held].flat() : [];
    const args = [
      now,
      limit,
      token,
      now + leaseMs,
      this.prefix,
      PARK_WINDOW,
      shares?.perProject ?? 0,
      shares?.perHost ?? 0,
      held.length,
      ...held,
    ];
    const reply = await this.call(() => {
      const sent = SCRIPTS.claimDue.run(this.main, [this.keys.due, this.keys.leased, this.keys.parked], args, [], { buffers: true });
      // Claims start from the dispatcher's setImmediate: sent at the end of the turn they would wait a whole turn.
      this.turnWrites.sendSoon();
      return sent;
    });
    if (!Array.isArray(reply)) return [];
    const tasks: StoredTask[] = [];
    for (let i = 0; i + 3 < reply.length; i += 4) {
      tasks.push(taskFromLine(String(reply[i]), reply[i + 1] as Buffer, reply[i + 2] as Buffer, reply[i + 3] as Buffer));
    }
    return tasks;
  }

  async renewLeases(leases: readonly LeaseRef[], until: number): Promise<number> {
    if (leases.length === 0) return 0;
    const args = leases.flatMap((l) => [l.id, l.token]);
    const result = await this.call(() => SCRIPTS.renewLeases.run(this.main, [this.keys.due], [until, this.prefix, ...args]));
    return Number(result);
  }

  async releaseLeases(leases: readonly LeaseRef[]): Promise<number> {
    if (leases.length === 0) return 0;
    const args = leases.flatMap((l) => [l.id, l.token]);
    const result = await this.call(() =>
      SCRIPTS.releaseLeases.run(this.main, [this.keys.due, this.keys.leased], [this.prefix, this.channel, ...args]),
    );
    return Number(result);
  }

  async releaseAllLeases(): Promise<number> {
    const result = await this.call(() =>
      SCRIPTS.releaseLeases.run(this.main, [this.keys.due, this.keys.leased], [this.prefix, this.channel]),
    );
    return Number(result);
  }

  async nextDueAt(): Promise<number | null> {
    // The earliest due task, and the earliest time a flow key with waiting tasks is to be looked at
    // (claim-due-3.lua): both leave in one write.
    const [first, wake] = await this.call(() =>
      Promise.all([this.main.zrange(this.keys.due, '0', '0', 'WITHSCORES'), this.main.zrange(this.keys.flowWake, '0', '0', 'WITHSCORES')]),
    );
    const due = first.length === 2 ? Number(first[1]) : null;
    const look = wake.length === 2 ? Number(wake[1]) : null;
    return look === null ? due : due === null ? look : Math.min(due, look);
  }

  private async writeFlow(projectId: string, key: string, op: string, extra: (string | number)[]): Promise<boolean> {
    const args = [this.prefix, this.channel, projectId, key, op, ...extra];
    return Number(await this.call(() => SCRIPTS.writeFlow.run(this.main, [], args))) === 1;
  }

  async putFlow(projectId: string, key: string, settings: FlowSettings): Promise<boolean> {
    const { rate, parallelism, ordered } = settings;
    return this.writeFlow(projectId, key, 'put', [rate?.limit ?? 0, rate?.periodMs ?? 0, parallelism ?? 0, ordered ? 1 : 0, FLOW.keysMax]);
  }

  async pauseFlow(projectId: string, key: string, paused: boolean): Promise<boolean> {
    return this.writeFlow(projectId, key, paused ? 'pause' : 'resume', paused ? [FLOW.keysMax] : []);
  }

  async deleteFlow(projectId: string, key: string): Promise<boolean> {
    return this.writeFlow(projectId, key, 'delete', []);
  }

  private async readFlows(projectId: string, key: string): Promise<FlowStatus[]> {
    const reply = await this.call(() => SCRIPTS.readFlows.run(this.main, [], [this.prefix, this.clock.now(), projectId, key]));
    if (!Array.isArray(reply)) return [];
    const flows: FlowStatus[] = [];
    for (let i = 0; i + 7 < reply.length; i += 8) {
      const [flowKey, rateLimit, periodMs, parallelism, ordered, paused, inFlight, waiting] = reply.slice(i, i + 8).map(String) as [
        string,
        string,
        string,
        string,
        string,
        string,
        string,
        string,
      ];
      flows.push({
        key: flowKey,
        rate: Number(rateLimit) > 0 ? { limit: Number(rateLimit), periodMs: Number(periodMs) } : null,
        parallelism: Number(parallelism) > 0 ? Number(parallelism) : null,
        ordered: ordered === '1',
        paused: paused === '1',
        inFlight: Number(inFlight),
        waiting: Number(waiting),
      });
    }
    return flows;
  }

  async readFlow(projectId: string, key: string): Promise<FlowStatus | null> {
    return (await this.readFlows(projectId, key))[0] ?? null;
  }

  async listFlows(projectId: string): Promise<FlowStatus[]> {
    return this.readFlows(projectId, '');
  }

  async countDue(now: number, cap: number): Promise<number> {
    // ZCOUNT costs O(log n) whatever the count: the cap only keeps the answer the same as SQLite's.
    const due = await this.call(() => this.main.zcount(this.keys.due, '-inf', String(now)));
    return Math.min(due, Math.max(0, cap));
  }

  onDue(listener: (dueAt: number) => void): () => void {
    this.events.on('due', listener);
    return () => this.events.off('due', listener);
  }

  async bindKeyId(keyId: string): Promise<string> {
    const bound = await this.call(() => this.projects.set(`${this.prefix}keyid`, keyId, 'NX', 'GET'));
    return bound ?? keyId;
  }

  async heartbeat(now: number): Promise<number | null> {
    const previous = await this.call(() => this.main.set(this.keys.heartbeat, String(now), 'GET'));
    return previous === null ? null : Number(previous);
  }

  /**
   * Finished tasks expire by themselves (EXPIRE set when they finish); each key is small, as a
   * timeline is bounded (core/timeline.ts).
   */
  async sweepFinished(): Promise<SweepStep> {
    return { deleted: 0, more: false };
  }

  // The inbox: a list per project, newest first, each item the record's id then its sealed bytes.

  async pushInbox(projectId: string, record: InboxRecord, keep: number): Promise<void> {
    const key = this.keys.inbox(projectId);
    const item = Buffer.concat([Buffer.from(record.id, 'latin1'), record.sealed]);
    await this.call(() =>
      this.main
        .multi()
        .lpush(key, item)
        .ltrim(key, 0, keep - 1)
        .exec(),
    );
  }

  async readInbox(projectId: string): Promise<InboxRecord[]> {
    const items = await this.call(() => this.main.lrangeBuffer(this.keys.inbox(projectId), 0, -1));
    return items.map((item) => ({ id: item.subarray(0, ID_LENGTH).toString('latin1'), sealed: item.subarray(ID_LENGTH) }));
  }

  async clearInbox(projectId: string): Promise<void> {
    await this.call(() => this.main.del(this.keys.inbox(projectId)));
  }

  // Activity: a hash per project and minute ({d: delivered, f: failed}), added to by every server.
  // Each add pushes its expiry ACTIVITY_KEEP_MS on: a duration, so it holds whatever the clock says.

  async addActivity(counts: readonly ActivityCount[]): Promise<void> {
    if (counts.length === 0) return;
    const batch = this.main.multi();
    for (const c of counts) {
      const key = this.keys.activity(c.projectId, c.minute);
      if (c.delivered > 0) batch.hincrby(key, 'd', c.delivered);
      if (c.failed > 0) batch.hincrby(key, 'f', c.failed);
      batch.pexpire(key, ACTIVITY_KEEP_MS);
    }
    await this.call(() => batch.exec());
  }

  async readActivity(projectId: string, from: number, to: number): Promise<ActivityCount[]> {
    const minutes: number[] = [];
    for (let minute = Math.ceil(from / MINUTE_MS) * MINUTE_MS; minute < to; minute += MINUTE_MS) minutes.push(minute);
    if (minutes.length === 0) return [];
    const batch = this.main.pipeline();
    for (const minute of minutes) batch.hmget(this.keys.activity(projectId, minute), 'd', 'f');
    const replies = (await this.call(() => batch.exec())) ?? [];
    const counts: ActivityCount[] = [];
    replies.forEach(([error, value], i) => {
      if (error) throw storeUnavailable(error) ?? error;
      const [delivered, failed] = value as [string | null, string | null];
      if (delivered === null && failed === null) return;
      counts.push({ projectId, minute: minutes[i]!, delivered: Number(delivered ?? 0), failed: Number(failed ?? 0) });
    });
    return counts;
  }

  // Schedules: write-schedule-2.lua and, for a run, insert-tasks-1.lua (its header says the layout).

  /** `limit`: an insert's most schedules per project. */
  private writeSchedule(mode: 'insert' | 'replace' | 'delete', schedule: Schedule, version: number, limit = 0): Promise<LuaReply> {
    const args: Argument[] = [mode, this.prefix, schedule.id, schedule.projectId, String(version)];
    if (mode !== 'delete') args.push(String(scheduleDueAt(schedule) ?? ''), encodeScheduleData(schedule));
    if (mode === 'insert') args.push(Buffer.from(schedule.request), String(limit));
    return this.call(() => SCRIPTS.writeSchedule.run(this.main, [this.keys.schedule(schedule.id), this.keys.scheduleDue], args));
  }

  async insertSchedule(schedule: Schedule, limit: number): Promise<boolean> {
    const result = await this.writeSchedule('insert', schedule, 0, limit);
    if (result === RESULT.NO_PROJECT) throw new StoreInvariantError('NO_PROJECT', `Project ${schedule.projectId} does not exist`);
    if (result === RESULT.FULL) return false;
    if (!written(result)) throw new Error(`write-schedule answered ${String(result)}`);
    return true;
  }

  /** The schedules of these ids, in order, leaving out those gone (or of another project, when `projectId` is given). */
  private async readSchedules(ids: readonly string[], projectId?: string): Promise<StoredSchedule[]> {
    if (ids.length === 0) return [];
    const batch = this.main.pipeline();
    for (const id of ids) batch.hmgetBuffer(this.keys.schedule(id), 'projectId', 'version', 'request', 'data');
    const replies = (await this.call(() => batch.exec())) ?? [];
    const schedules: StoredSchedule[] = [];
    replies.forEach(([error, value], i) => {
      if (error) throw storeUnavailable(error) ?? error;
      const [project, version, request, data] = value as (Buffer | null)[];
      if (!project || !version || !request || !data) return;
      if (projectId !== undefined && project.toString() !== projectId) return;
      schedules.push(decodeSchedule(ids[i]!, project.toString(), Number(version.toString()), request, data.toString()));
    });
    return schedules;
  }

  async findSchedule(projectId: string, id: string): Promise<StoredSchedule | null> {
    return (await this.readSchedules([id], projectId))[0] ?? null;
  }

  async listSchedules(projectId: string, query: ScheduleQuery): Promise<ScheduleList> {
    const max = query.below === undefined ? '+' : `(${query.below}`;
    const ids = await this.call(() => this.main.zrevrangebylex(this.keys.schedules(projectId), max, '-', 'LIMIT', 0, query.limit + 1));
    const more = ids.length > query.limit;
    const page = more ? ids.slice(0, query.limit) : ids;
    return { schedules: await this.readSchedules(page, projectId), next: more ? page.at(-1)! : null };
  }

  async replaceSchedule(prev: StoredSchedule, next: Schedule): Promise<boolean> {
    return written(await this.writeSchedule('replace', next, prev.version));
  }

  async deleteSchedule(prev: StoredSchedule): Promise<boolean> {
    return written(await this.writeSchedule('delete', prev, prev.version));
  }

  async makeRun(
    prev: StoredSchedule,
    next: Schedule,
    task: Task,
    entries: readonly TimelineEntry[],
    activeLimit: number,
  ): Promise<RunWrite> {
    const result = await this.call(() => this.inserts.add(this.insertArgs(task, entries, activeLimit, undefined, { prev, next })));
    if (result === RESULT.STALE) return 'MOVED';
    if (result === RESULT.QUEUE_FULL) return 'QUEUE_FULL';
    const failure = insertFailure(result, { taskId: task.id, projectId: task.projectId, limit: activeLimit });
    if (failure) throw failure;
    return 'DONE';
  }

  async dueSchedules(until: number, limit: number): Promise<StoredSchedule[]> {
    const ids = await this.call(() => this.main.zrangebyscore(this.keys.scheduleDue, '-inf', String(until), 'LIMIT', 0, limit));
    return this.readSchedules(ids);
  }

  async nextScheduleAfter(after: number): Promise<number | null> {
    const first = await this.call(() => this.main.zrangebyscore(this.keys.scheduleDue, `(${after}`, '+inf', 'WITHSCORES', 'LIMIT', 0, 1));
    return first.length === 2 ? Number(first[1]) : null;
  }

  // Breakers: a hash per project, `kt:circuit:<project>`: field `policy` (JSON) while breakers are
  // on, and a field `<kind>:<key>` per circuit that is not closed and clean (JSON, see circuitJson).

  async readBreakers(projectId: string): Promise<ProjectBreakers> {
    const fields = await this.call(() => this.main.hgetall(this.keys.circuits(projectId)));
    let policy: BreakerPolicy | null = null;
    const circuits: StoredCircuit[] = [];
    for (const [field, value] of Object.entries(fields)) {
      if (field === POLICY_FIELD) policy = JSON.parse(value) as BreakerPolicy;
      else circuits.push(circuitFromJson(value));
    }
    circuits.sort((a, b) => (a.kind === b.kind ? (a.key < b.key ? -1 : 1) : a.kind < b.kind ? -1 : 1));
    return { policy, circuits };
  }

  async writeBreakerPolicy(projectId: string, policy: BreakerPolicy | null): Promise<void> {
    const key = this.keys.circuits(projectId);
    await this.call(() => (policy ? this.main.hset(key, POLICY_FIELD, JSON.stringify(policy)) : this.main.del(key)));
  }

  async writeCircuit(projectId: string, prev: StoredCircuit | null, next: Circuit | null): Promise<boolean> {
    const { kind, key } = (next ?? prev)!;
    const version = prev?.version ?? 0;
    const value = next ? circuitJson(next, version + 1) : '';
    const reply = await this.call(() =>
      SCRIPTS.writeCircuit.run(this.main, [this.keys.circuits(projectId)], [`${kind}:${key}`, String(version), value]),
    );
    return reply === 1;
  }
}

const MINUTE_MS = 60_000;

/** The field of a project's circuit hash that holds its breaker policy (circuits are `<kind>:<key>`). */
const POLICY_FIELD = 'policy';

/** A circuit as its hash field holds it: the record with its version, the sealed name as base64. */
function circuitJson(circuit: Circuit, version: number): string {
  return JSON.stringify({ ...circuit, version, name: circuit.name ? Buffer.from(circuit.name).toString('base64') : null });
}

function circuitFromJson(value: string): StoredCircuit {
  const parsed = JSON.parse(value) as Omit<StoredCircuit, 'name'> & { name: string | null };
  return { ...parsed, name: parsed.name === null ? null : Buffer.from(parsed.name, 'base64') };
}

/**
 * Redis failing underneath is the store being unavailable, with the reason kept as the cause for
 * the log: no connection, or Redis refusing to write (loading, busy script, a read-only replica, out
 * of memory, unable to persist, no permission). Other replies (a script's own error) are bugs.
 */
const UNAVAILABLE_REPLY = /^(LOADING|BUSY|MASTERDOWN|READONLY|TRYAGAIN|CLUSTERDOWN|OOM|MISCONF|NOREPLICAS|NOPERM|NOAUTH|WRONGPASS)/;

function storeUnavailable(error: unknown): AppError | null {
  const reply = error instanceof Error && error.name === 'ReplyError';
  if (reply && !UNAVAILABLE_REPLY.test(error.message)) return null;
  return new AppError('STORE_UNAVAILABLE', undefined, [], { cause: error });
}

function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}
