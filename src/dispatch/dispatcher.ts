/*
 * The dispatcher: claim -> send -> record, for as many tasks at once as `concurrency` allows.
 *
 *   idle ──(timer `aheadMs` before the earliest due time | wake-up from a write | poll)──> claiming
 *   claiming ──claimDue(now + aheadMs, free slots, shares)──> one attempt per claimed task, each:
 *       missed while no server ran?  recoverMissedRun: EXCEEDED (recorded, not sent) or Alert + send
 *       an open circuit (circuits.ts)?  deferTask: moved to when it lets a probe through, lease given back
 *       open the sealed request and sign it -> wait for its due time -> send (timeout, target
 *       guard) -> applyOutcome
 *       -> replaceTask if the version still matches; else re-read: record again while the lease is
 *          still ours (paused meanwhile), drop the outcome when it is not (cancelled, deleted,
 *          reclaimed after the lease ran out); the store refusing the write (away, full): try again,
 *          with backoff, while the lease is renewed
 *   shares: a project (or target host) holds at most its share of the slots, and of the slots plus
 *       the tasks claimed ahead; the store parks its due tasks beyond that, and a ready task whose
 *       group has its share of slots waits while later ones start, so a hanging target leaves the
 *       rest of the slots to everyone else
 *   every leaseMs/3: renew the leases of attempts in flight, so a slow target is not sent twice
 *   stop: no more claims; attempts in flight get `graceMs` to finish, then are aborted and their
 *         leases given back so another start (or node) sends them again.
 *
 * Memory holds only the attempts in flight and those claimed ahead; the schedule stays in the store's due index.
 */
import { ActivityCounter } from './activity-counter.js';
import { type Clock, monotonic } from '../core/clock.js';
import { isAppError } from '../core/errors.js';
import { type AttemptRecord, excerptAad } from '../core/attempt-log.js';
import type { Random } from '../core/retry-policy.js';
import type { RequestCipher } from '../core/sealed-request.js';
import type { Task, TimelineEntry } from '../core/task.js';
import {
  type AttemptOutcome,
  type OutcomeName,
  type Transition,
  applyOutcome,
  attemptHeaders,
  deferTask,
  outcomeName,
  recoverMissedRun,
} from '../core/task-machine.js';
import type { Logger } from '../logger.js';
import { type ClaimShares, type StoredTask, type TaskStore, hostGroup, projectGroup } from '../store/task-store.js';
import type { OpenedRequest } from '../core/request-codec.js';
import { type SigningKeys, webhookHeaders, webhookId } from '../core/signing.js';
import type { CallbackSender } from './callbacks.js';
import type { CircuitGate } from './circuits.js';
import type { DeliverySigner } from './delivery-signer.js';
import { Cancellation, type Sender, sentBody } from './http-sender.js';
import { DueGate } from './due-gate.js';
import { WakeTimer } from './wake-timer.js';

/** Told of every attempt's outcome (the metrics): how long it took and how late after its due time it was sent, in ms. */
export interface AttemptObserver {
  attempt(outcome: OutcomeName, durationMs: number, latenessMs: number): void;
}

export interface DispatcherOptions {
  store: TaskStore;
  sender: Sender;
  cipher: RequestCipher;
  /** The projects' signing keys: every attempt is signed with them (core/signing.ts). */
  signer: DeliverySigner;
  /** Sends the callbacks of recorded attempts (config.callback). */
  callbacks: CallbackSender;
  /** Circuit breakers (dispatch/circuits.ts): asked before each attempt, told each outcome; none: every task is sent. */
  circuits?: Pick<CircuitGate, 'admit' | 'report'>;
  clock: Clock;
  logger: Logger;
  /** Besides the activity counts, who hears of each outcome. */
  observer?: AttemptObserver;
  /** Attempts in flight at most. */
  concurrency: number;
  /** How long a claim holds before the task is due again; renewed while the attempt runs. */
  leaseMs: number;
  /** Tasks claimed per store round trip at most. */
  batchSize?: number;
  /**
   * Tasks claimed ahead of free slots (default `concurrency`: a whole round of slots). A claim takes
   * a round trip, during which slots keep freeing; on Redis under load that trip is as long as an
   * attempt's write, and a quarter of the slots claimed ahead left a quarter of them idle.
   */
  prefetch?: number;
  /** Longest sleep without looking at the store, in case a wake-up was missed. */
  maxIdleMs?: number;
  /**
   * How far ahead of their due time tasks are claimed, opened and signed (default 0), each then
   * sent at its due time: the claim's write, the opening and the signing are out of the way when
   * it comes, and a burst due at one instant goes out back to back. The claim is made as of that
   * much later (claimDue's `now`), so a lease whose holder stopped renewing it is taken over that
   * much before it ends, and a task paused or cancelled in that window may still be sent once (as
   * one whose request is under way).
   */
  aheadMs?: number;
  /**
   * The most of this dispatcher's slots one project may fill, and one target host (0 < share <= 1;
   * default 1, no limit). A project's or host's tasks beyond its share wait in the store (parked),
   * so a target that hangs cannot take the slots everyone else needs.
   */
  projectShare?: number;
  hostShare?: number;
  /** Multi-node stores: how often this node says it is alive, and when silence means all were down. */
  heartbeatMs?: number;
  staleAfterMs?: number;
  /** Draws a retry policy's jitter (default Math.random; seeded in tests). */
  random?: Random;
}

/** The first wait before writing an outcome the store refused again; doubled each time, up to 2 s. */
const FIRST_PAUSE_MS = 100;

/** A claimed task's request, opened and signed; or the outcome of an attempt that cannot send it. */
type Prepared = { request: OpenedRequest; headers: Record<string, string> } | { failed: AttemptOutcome };

/** Adds `delta` to a group's count, leaving out a group that counts none. */
function addTo(counts: Map<string, number>, group: string, delta: number): void {
  const n = (counts.get(group) ?? 0) + delta;
  if (n === 0) counts.delete(group);
  else counts.set(group, n);
}

/** A claimed task: it holds a lease. */
type Claimed = StoredTask & { leaseToken: string };
const isClaimed = (task: StoredTask): task is Claimed => task.leaseToken !== null;

interface InFlight {
  /** The latest claim of the task by this process: its lease is the one held, and an outcome is recorded against it. */
  claim: Claimed;
  cancellation: Cancellation;
  done: Promise<void>;
}

export class Dispatcher {
  private readonly store: TaskStore;
  private readonly options: Required<
    Omit<
      DispatcherOptions,
      'store' | 'sender' | 'cipher' | 'clock' | 'logger' | 'observer' | 'random' | 'signer' | 'callbacks' | 'circuits'
    >
  >;
  private readonly inFlight = new Map<string, InFlight>();
  /** Attempts in flight per share group (projectGroup, hostGroup). */
  private readonly slotsByGroup = new Map<string, number>();
  /** Tasks held per share group: in flight or claimed ahead (what a claim's shares count). */
  private readonly heldByGroup = new Map<string, number>();
  /** Most attempts in flight per project and per host; most tasks held (in flight or ready) per each. */
  private readonly slotCap: { project: number; host: number };
  private readonly holdCap: { project: number; host: number };
  private running = false;
  private pumping = false;
  /** Claimed, waiting for a free slot (at most `prefetch` beyond the slots). */
  private ready: StoredTask[] = [];
  private pumpScheduled = false;
  private wanted = false;
  /** At the earliest due time: the next claim round. */
  private readonly timer: WakeTimer;
  /** Holds attempts claimed ahead until they are due. */
  private readonly gate: DueGate;
  private renewTimer: NodeJS.Timeout | null = null;
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private unsubscribeDue: (() => void) | null = null;
  /** Executions due at or before this time fell due while no server ran. */
  private recoveryUntil = 0;
  private drained: (() => void) | null = null;
  private prepared = false;
  /** Outcomes per project and minute, for GET /v1beta/activity: counted here, written in batches. */
  private readonly activity: ActivityCounter;

  constructor(private readonly deps: DispatcherOptions) {
    this.store = deps.store;
    this.activity = new ActivityCounter(deps.store, deps.clock, deps.logger);
    this.options = {
      concurrency: deps.concurrency,
      leaseMs: deps.leaseMs,
      batchSize: deps.batchSize ?? 256,
      prefetch: deps.prefetch ?? deps.concurrency,
      maxIdleMs: deps.maxIdleMs ?? 1_000,
      aheadMs: deps.aheadMs ?? 0,
      heartbeatMs: deps.heartbeatMs ?? 1_000,
      staleAfterMs: deps.staleAfterMs ?? 5_000,
      projectShare: deps.projectShare ?? 1,
      hostShare: deps.hostShare ?? 1,
    };
    this.timer = new WakeTimer(deps.clock, this.options.maxIdleMs, () => this.kick());
    this.gate = new DueGate(deps.clock);
    const { concurrency, prefetch, projectShare, hostShare } = this.options;
    const cap = (share: number, slots: number): number => Math.max(1, Math.ceil(share * slots));
    this.slotCap = { project: cap(projectShare, concurrency), host: cap(hostShare, concurrency) };
    this.holdCap = { project: cap(projectShare, concurrency + prefetch), host: cap(hostShare, concurrency + prefetch) };
  }

  /** Attempts in flight now. */
  get active(): number {
    return this.inFlight.size;
  }

  /**
   * Before the server takes requests: decide whether this start follows a time when no server ran,
   * and if so let go of the leases left behind. Called by start() when not called before.
   */
  async prepare(): Promise<void> {
    if (this.prepared) return;
    await this.detectDowntime(this.deps.clock.now());
    this.prepared = true;
  }

  async start(): Promise<void> {
    if (this.running) return;
    await this.prepare();
    this.running = true;
    this.unsubscribeDue = this.store.onDue((dueAt) => this.onDue(dueAt));
    this.renewTimer = setInterval(() => void this.renewLeases(), Math.max(50, Math.floor(this.options.leaseMs / 3)));
    this.renewTimer.unref();
    this.activity.start();
    if (!this.store.singleNode) {
      this.heartbeatTimer = setInterval(() => {
        this.store.heartbeat(this.deps.clock.now()).catch((error: unknown) => this.deps.logger.warn({ err: error }, 'heartbeat failed'));
      }, this.options.heartbeatMs);
      this.heartbeatTimer.unref();
    }
    this.kick();
  }

  /**
   * Was no server running before this one? Then executions that fell due meanwhile get the restart
   * rules, and every lease left behind belongs to a dead process and is let go at once.
   */
  private async detectDowntime(now: number): Promise<void> {
    const previous = await this.store.heartbeat(now);
    const wasDown = this.store.singleNode || (previous !== null && now - previous > this.options.staleAfterMs);
    if (!wasDown) return;
    this.recoveryUntil = now;
    const released = await this.store.releaseAllLeases();
    if (released > 0) this.deps.logger.info({ released }, 'released leases left by a previous run');
  }

  private onDue(dueAt: number): void {
    if (!this.running) return;
    const claimAt = dueAt - this.options.aheadMs;
    if (claimAt <= this.deps.clock.now()) this.kick();
    else if (this.timer.soonerThan(claimAt)) this.timer.arm(claimAt);
  }

  /**
   * Asks for a claim round at the end of this turn of the event loop, not now: attempts that end
   * together then free their slots together, and one claim takes all of them (a claim per slot
   * would cost a transaction or a round trip each).
   */
  private kick(): void {
    this.wanted = true;
    if (this.pumping || this.pumpScheduled) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      if (!this.pumping) void this.pump();
    });
  }

  /** Starts claimed tasks while slots are free, earliest claimed first, skipping those whose project or host has its share of slots. */
  private startReady(): void {
    let i = 0;
    // The project and host of the latest task found without a slot: launching others only fills
    // groups, so the tasks after it of the same pair wait too, without looking their groups up
    // (one project's tasks fill the ready queue while it holds its share).
    let blocked: StoredTask | null = null;
    while (this.inFlight.size < this.options.concurrency && i < this.ready.length) {
      const task = this.ready[i]!;
      if (blocked !== null && task.projectId === blocked.projectId && task.hostTag === blocked.hostTag) i++;
      else if (this.hasSlotFor(task)) {
        this.ready.splice(i, 1);
        this.launch(task);
      } else {
        blocked = task;
        i++;
      }
    }
  }

  private hasSlotFor(task: StoredTask): boolean {
    if ((this.slotsByGroup.get(projectGroup(task.projectId)) ?? 0) >= this.slotCap.project) return false;
    const host = hostGroup(task.hostTag);
    return host === null || (this.slotsByGroup.get(host) ?? 0) < this.slotCap.host;
  }

  /** Counts `task` in or out of its groups in `counts` (slotsByGroup or heldByGroup). */
  private count(counts: Map<string, number>, task: StoredTask, delta: 1 | -1): void {
    addTo(counts, projectGroup(task.projectId), delta);
    const host = hostGroup(task.hostTag);
    if (host !== null) addTo(counts, host, delta);
  }

  /** What the next claim may take per group: the caps, less what this dispatcher holds (in flight and ready). */
  private shares(): ClaimShares | undefined {
    if (this.options.projectShare >= 1 && this.options.hostShare >= 1) return undefined;
    return { perProject: this.holdCap.project, perHost: this.holdCap.host, held: new Map(this.heldByGroup) };
  }

  private async pump(): Promise<void> {
    this.pumping = true;
    try {
      while (this.wanted && this.running) {
        this.wanted = false;
        // Claim a little ahead of the free slots: a slot that frees starts a claimed task at once
        // instead of waiting for a claim's round trip (most of the wait, on Redis).
        const free = this.options.concurrency + this.options.prefetch - this.inFlight.size - this.ready.length;
        if (free <= 0) break; // an attempt that ends kicks again
        // While claimed tasks still wait for slots, let freed slots add up: a claim has a fixed
        // cost (a statement and a commit on SQLite, a round trip on Redis) that a few tasks at a
        // time would pay over and over.
        // (Ready tasks while slots are free wait for their group's share, not for a slot.)
        if (this.ready.length > 0 && this.inFlight.size >= this.options.concurrency && free < this.options.prefetch / 2) break;
        const limit = Math.min(free, this.options.batchSize);
        const claimAs = this.deps.clock.now() + this.options.aheadMs;
        const claimed = await this.store.claimDue(claimAs, limit, this.options.leaseMs, this.shares());
        for (const task of claimed) this.accept(task);
        this.startReady();
        if (claimed.length === limit) {
          this.wanted = true;
          continue;
        }
        const next = await this.store.nextDueAt();
        const claimAt = next === null ? Infinity : next - this.options.aheadMs;
        if (claimAt <= this.deps.clock.now()) this.wanted = true;
        else this.timer.arm(claimAt);
      }
    } catch (error) {
      this.deps.logger.error({ err: error }, 'claiming due tasks failed; trying again shortly');
      if (this.running) this.timer.arm(this.deps.clock.now() + 500);
    } finally {
      this.pumping = false;
    }
  }

  /**
   * A claimed task joins the queue of ready ones, unless this process holds it already: its lease
   * ran out while the attempt ran or waited for a slot (renewals came too late on a starved event
   * loop) and this claim took it again. Sending it twice would be a duplicate with no crash to
   * excuse it, so the attempt keeps going under the new lease.
   */
  private accept(task: StoredTask): void {
    const slot = this.inFlight.get(task.id);
    const waiting = slot ? -1 : this.ready.findIndex((t) => t.id === task.id);
    if (!slot && waiting < 0) {
      this.ready.push(task);
      this.count(this.heldByGroup, task, 1);
      return;
    }
    this.deps.logger.warn({ taskId: task.id }, 'a lease ran out while this process held the task; kept it under the new claim');
    if (slot && isClaimed(task)) slot.claim = task;
    if (waiting >= 0) this.ready[waiting] = task;
  }

  private launch(task: StoredTask): void {
    if (!isClaimed(task)) {
      this.count(this.heldByGroup, task, -1);
      return;
    }
    const slot: InFlight = { claim: task, cancellation: new Cancellation(), done: Promise.resolve() };
    this.inFlight.set(task.id, slot);
    this.count(this.slotsByGroup, task, 1);
    slot.done = this.attempt(slot)
      .catch((error: unknown) => this.deps.logger.error({ err: error, taskId: task.id }, 'attempt failed unexpectedly'))
      .finally(() => {
        this.inFlight.delete(task.id);
        this.count(this.slotsByGroup, task, -1);
        this.count(this.heldByGroup, task, -1);
        if (this.running) {
          this.startReady();
          this.kick();
        }
        if (this.inFlight.size === 0) this.drained?.();
      });
  }

  private async attempt(slot: InFlight): Promise<void> {
    const { claim: claimed, cancellation } = slot;
    const { clock } = this.deps;
    let before: TimelineEntry[] = [];
    if (claimed.execAt <= this.recoveryUntil) {
      const recovered = recoverMissedRun(claimed, clock.now());
      if (!recovered.run) {
        await this.record(slot, (current) => recoverMissedRun(current, clock.now()));
        return;
      }
      before = recovered.entries;
    }

    // An open circuit holds the task: its next execution moves, its lease is given back, no attempt is used.
    const gate = this.deps.circuits?.admit(claimed) ?? null;
    const heldUntil = gate instanceof Promise ? await gate : gate;
    if (heldUntil !== null) {
      const entries = before;
      const why = "A circuit it passes through (its target host's or its flow key's) is open";
      const held = await this.record(slot, (current) => deferTask(current, heldUntil, why, clock.now(), entries));
      this.deps.logger.info({ taskId: claimed.id, projectId: claimed.projectId, until: heldUntil, recorded: held !== null }, why);
      return;
    }

    const prepared = await this.openAndSign(claimed);
    // Claimed ahead (aheadMs): sent at its due time, never before, with everything due then, on a
    // connection opened meanwhile unless one will be free.
    let reserved = false;
    if (claimed.execAt > clock.now()) {
      if (!('failed' in prepared)) reserved = this.deps.sender.reserve(prepared.request, { projectId: claimed.projectId });
      await this.gate.until(claimed.execAt);
    }
    if (cancellation.aborted && !this.running) return; // shutting down: the lease is given back, the task runs again
    const startedAt = clock.now();
    const lateMs = startedAt - claimed.execAt;
    const sentAt = monotonic();
    const outcome =
      'failed' in prepared
        ? prepared.failed
        : await this.deps.sender.send(prepared.request, prepared.headers, claimed.config.timeout, cancellation, {
            projectId: claimed.projectId,
            reserved,
          });
    if (cancellation.aborted && !this.running) return; // shutting down: the lease is given back, the task runs again

    const took = monotonic() - sentAt;
    const ms = Math.round(took);
    const name = outcomeName(outcome);
    this.deps.circuits?.report(claimed, outcome);
    // Every outcome is counted here and only here: the activity counts and the metrics.
    this.activity.count(claimed.projectId, outcome.ok);
    this.deps.observer?.attempt(name, took, lateMs);
    const random = this.deps.random ?? Math.random;
    const recorded = await this.record(slot, (current) => {
      const next = applyOutcome(current, outcome, clock.now(), random);
      return { task: next.task, entries: [...before, ...next.entries], attempt: this.attemptRecord(current, outcome, startedAt, ms) };
    });
    if (recorded) this.deps.callbacks.notify(recorded, outcome, startedAt);
    // One line per attempt, from what the task machine was told: never the URL, a header or a body
    // (any of them may hold a secret), only the answer's status or why there was none.
    this.deps.logger.info(
      {
        taskId: claimed.id,
        projectId: claimed.projectId,
        attempt: claimed.attempts + 1,
        outcome: name,
        statusCode: outcome.statusCode,
        error: outcome.error,
        ms,
        state: recorded?.state ?? 'not recorded',
      },
      outcome.ok ? 'attempt succeeded' : 'attempt failed',
    );
  }

  /** Opens the task's request and signs it with its project's keys; or why it cannot be sent. */
  private async openAndSign(claimed: Claimed): Promise<Prepared> {
    let keys: SigningKeys | null;
    try {
      const cached = this.deps.signer.keysFor(claimed.projectId);
      keys = cached instanceof Promise ? await cached : cached;
    } catch (error) {
      // Nothing was sent; the next attempt reads them again (the store away, most likely).
      this.deps.logger.error({ err: error, taskId: claimed.id }, "the project's signing keys cannot be read");
      return { failed: { ok: false, statusCode: 0, error: 'the signing keys could not be read; nothing was sent', errorClass: 'other' } };
    }
    let request: OpenedRequest;
    try {
      request = this.deps.cipher.open(claimed.request, claimed.id);
    } catch (error) {
      this.deps.logger.error({ err: error, taskId: claimed.id }, 'stored request cannot be opened');
      const failed: AttemptOutcome = {
        ok: false,
        statusCode: 0,
        error: 'the stored request cannot be decrypted (was the key changed?)',
        errorClass: 'unreadable',
        permanent: true,
      };
      return { failed };
    }
    // The timestamp is the send time (the due time of a task claimed ahead); the signature covers the exact body sent.
    const sentAt = Math.max(this.deps.clock.now(), claimed.execAt);
    const headers = webhookHeaders(keys, webhookId(claimed), sentAt, sentBody(request), attemptHeaders(claimed));
    return { request, headers };
  }

  /**
   * The attempt log's record of this attempt (core/attempt-log.ts): numbered after the attempts the
   * task counts, its answer's first bytes sealed as the request is, for the task and that number.
   */
  private attemptRecord(task: Task, outcome: AttemptOutcome, startedAt: number, durationMs: number): AttemptRecord {
    const number = task.attempts + 1;
    const excerpt =
      outcome.excerpt && outcome.excerpt.length > 0 ? this.deps.cipher.sealBytes(outcome.excerpt, excerptAad(task.id, number)) : null;
    const errorClass = outcome.errorClass ?? (outcome.statusCode > 0 ? null : 'other');
    return { number, startedAt, durationMs, statusCode: outcome.statusCode, errorClass, excerpt };
  }

  /**
   * Compare-and-set the step while the lease is still ours; re-read after a concurrent write.
   * Answers the task as recorded, or null when the outcome was not. While
   * the store refuses the write (away, read-only, Redis at maxmemory), keep trying with backoff: the
   * attempt keeps its slot, so its lease is still renewed and no one sends the task again. Ends
   * when the outcome is recorded, when the task is no longer ours (a write after the store came
   * back took it: cancelled, deleted, reclaimed after the lease ran out), or when a stopping server
   * aborts the attempt (its lease is given back and the task runs again: at-least-once).
   */
  private async record(slot: InFlight, step: (current: StoredTask) => Transition): Promise<Task | null> {
    const claimed = slot.claim;
    let current: StoredTask | null = claimed;
    let conflicts = 0;
    let pause = FIRST_PAUSE_MS;
    while (current && conflicts < 8) {
      // The latest claim's token: a later claim of this process may have taken the task over.
      const stillOurs = current.leaseToken === slot.claim.leaseToken && (current.state === 'RUNNING' || current.state === 'PAUSED');
      if (!stillOurs) return null; // cancelled, deleted, or reclaimed after the lease ran out
      try {
        const next = step(current);
        if (await this.store.replaceTask(current, next.task, next.entries, next.attempt)) return next.task;
        conflicts++;
        current = await this.store.findTask(claimed.projectId, claimed.id);
      } catch (error) {
        if (!isAppError(error) || error.code !== 'STORE_UNAVAILABLE') throw error;
        if (slot.cancellation.aborted) {
          this.deps.logger.warn({ taskId: claimed.id }, 'stopping before the store took the outcome; the task runs again');
          return null;
        }
        if (pause === FIRST_PAUSE_MS)
          this.deps.logger.warn({ err: error, taskId: claimed.id }, 'the store refused an outcome; trying again');
        await slot.cancellation.pause(pause);
        pause = Math.min(pause * 2, 2_000);
      }
    }
    if (current) this.deps.logger.warn({ taskId: claimed.id }, 'gave up recording an outcome after repeated conflicts');
    return null;
  }

  private heldLeases(): { id: string; token: string }[] {
    const leases = [...this.inFlight].map(([id, slot]) => ({ id, token: slot.claim.leaseToken }));
    for (const task of this.ready) if (task.leaseToken !== null) leases.push({ id: task.id, token: task.leaseToken });
    return leases;
  }

  private async renewLeases(): Promise<void> {
    if (this.inFlight.size === 0 && this.ready.length === 0) return;
    const leases = this.heldLeases();
    try {
      await this.store.renewLeases(leases, this.deps.clock.now() + this.options.leaseMs);
    } catch (error) {
      this.deps.logger.warn({ err: error }, 'renewing leases failed');
    }
  }

  /** Gives leases back at shutdown; when that fails the tasks still run again once their leases end. */
  private async giveBack(leases: { id: string; token: string }[]): Promise<void> {
    try {
      await this.store.releaseLeases(leases);
    } catch (error) {
      this.deps.logger.warn(
        { err: error, tasks: leases.length },
        'could not give leases back at shutdown; those tasks run again when their leases end',
      );
    }
  }

  /** Stops claiming; waits up to `graceMs` for attempts in flight, then aborts them and gives their tasks back. */
  async stop(graceMs: number): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.unsubscribeDue?.();
    this.timer.stop();
    for (const timer of [this.renewTimer, this.heartbeatTimer]) if (timer) clearTimeout(timer);
    // A claim under way may still hand over tasks: wait for it, then give back what never started.
    while (this.pumping) await new Promise((resolve) => setImmediate(resolve));
    const unstarted = this.ready.flatMap((task) => (task.leaseToken !== null ? [{ id: task.id, token: task.leaseToken }] : []));
    for (const task of this.ready) this.count(this.heldByGroup, task, -1);
    this.ready = [];
    if (unstarted.length > 0) await this.giveBack(unstarted);
    if (this.inFlight.size > 0) {
      const drained = new Promise<void>((resolve) => (this.drained = resolve));
      const timeout = new Promise<void>((resolve) => setTimeout(resolve, graceMs).unref());
      await Promise.race([drained, timeout]);
    }
    if (this.inFlight.size > 0) {
      const leases = [...this.inFlight].map(([id, slot]) => ({ id, token: slot.claim.leaseToken }));
      for (const slot of this.inFlight.values()) slot.cancellation.cancel();
      this.gate.releaseAll();
      await Promise.allSettled([...this.inFlight.values()].map((slot) => slot.done));
      await this.giveBack(leases);
      this.deps.logger.warn({ tasks: leases.length }, 'aborted attempts still in flight at shutdown; they will run again');
    }
    await this.activity.stop();
  }
}
