/*
 * Flow control: a project's limits for the tasks that carry one flow key, and the arithmetic a
 * claim decides by. Stores keep the limits and what the key uses (its tasks in flight, its recent
 * starts) and call these to know how many of its due tasks may start; the rest wait in the store.
 *
 *   rate         at most `limit` starts in any window of `periodMs` (a sliding log of the starts,
 *                exact), spaced `periodMs / limit` apart (a pace: the time of the next start, one
 *                spacing on per start; a claim that comes late catches up what it missed, within
 *                rateCatchUp), so the key's starts flow evenly instead of in a burst per period
 *   parallelism  at most this many of the key's tasks hold a lease (claimed or in flight) on any node;
 *                a lease that ended stops counting, so a dead node's tasks free their places
 *   ordered      strict FIFO by subscription order: only the key's oldest active task (RUNNING or
 *                PAUSED) may start, and only while none of the key's tasks is in flight
 *   paused       nothing of the key starts
 *
 * The Redis claim script (store/redis/scripts/claim-due-3.lua, flowRoom and flowWake) mirrors
 * flowRoom and flowWakeAt line for line; the conformance suite holds both stores to the same answers.
 */

/** The bounds of a key's limits (the route's schema reads them). */
export const FLOW = {
  /** Most starts a rate may allow per period: each start in the window is kept until the window passes it. */
  rateLimitMax: 10_000,
  periodMsMin: 1,
  periodMsMax: 86_400_000,
  parallelismMax: 10_000,
  /**
   * Longest a key with waiting tasks goes without a claim looking at it. Its tasks are also put
   * back as soon as one of its leases is given up (an outcome, a release) and when its limits
   * change; this is the safety net for what no write announces (a task cancelled while it waited).
   */
  recheckMs: 1_000,
  /** Keys one project may hold limits for. */
  keysMax: 1_000,
  /** How late a rate's pace may be caught up at most (rateCatchUp; never more than its period). */
  catchUpMs: 1_000,
  /**
   * Shortest wait before a key held by its pace is looked at again: a fast rate is then claimed a
   * few starts at a time (the pace catches them up) rather than with a claim per start, whose fixed
   * cost (a transaction, a round trip) would bound the rate on a busy machine.
   */
  paceLookMs: 10,
} as const;

export interface FlowRate {
  limit: number;
  periodMs: number;
}

/** What `PUT /v1beta/flow/:key` sets; null: no limit of that kind. */
export interface FlowSettings {
  rate: FlowRate | null;
  parallelism: number | null;
  ordered: boolean;
}

/** A key's limits as stored. */
export interface FlowLimits extends FlowSettings {
  paused: boolean;
}

/** What a key uses now, as a claim counts it. */
export interface FlowUse {
  /** The key's tasks whose lease has not ended, on every node. */
  inFlight: number;
  /** The earliest end of those leases; null when none. */
  leaseEnd: number | null;
  /** Starts in the rate window (after `now - periodMs`); 0 without a rate. */
  starts: number;
  /** The earliest of those; null when none. */
  oldestStart: number | null;
  /**
   * The rate's pace: the theoretical time of the key's next start (generic cell rate); each start
   * moves it one spacing on. 0 for a key that has not started anything.
   */
  pace: number;
  /** An ordered key: its head (the oldest active task) is among the waiting tasks (else it is scheduled, or in flight). */
  headWaits: boolean;
}

/** Starts at or before this no longer count against the rate. */
export function rateWindowStart(rate: FlowRate, now: number): number {
  return now - rate.periodMs;
}

/** The time between two starts of a rate's even pace. */
export function rateSpacing(rate: FlowRate): number {
  return rate.periodMs / rate.limit;
}

/**
 * How late a rate's pace may be caught up: a claim that comes this much after the pace's time (a
 * busy event loop, a slow round trip) starts the ones it missed at once; a pace further behind
 * (the key was idle) starts again from now, so an idle key never starts with a burst.
 */
export function rateCatchUp(rate: FlowRate): number {
  return Math.min(rate.periodMs, FLOW.catchUpMs);
}

/** The pace a start at `now` counts from: the pace itself, or now when it is further behind than the catch-up. */
function paceBase(rate: FlowRate, pace: number, now: number): number {
  return pace < now - rateCatchUp(rate) ? now : pace;
}

/** Starts the pace allows now. */
export function paceRoom(rate: FlowRate, pace: number, now: number): number {
  const base = paceBase(rate, pace, now);
  // The epsilon keeps a whole number of spacings whole despite the floating point.
  return base > now + 1e-9 ? 0 : Math.floor((now - base) / rateSpacing(rate) + 1e-9) + 1;
}

/** The pace after one more start at `now`. */
export function paceAfterStart(rate: FlowRate, pace: number, now: number): number {
  return paceBase(rate, pace, now) + rateSpacing(rate);
}

/** When the pace allows a start again. */
export function paceFreeAt(pace: number): number {
  return pace;
}

/** How many more of the key's tasks may start now (Infinity when nothing limits it). */
export function flowRoom(limits: FlowLimits, use: FlowUse, now: number): number {
  if (limits.paused) return 0;
  let room = Infinity;
  if (limits.rate) room = Math.min(room, limits.rate.limit - use.starts, paceRoom(limits.rate, use.pace, now));
  if (limits.parallelism !== null) room = Math.min(room, limits.parallelism - use.inFlight);
  if (limits.ordered) room = Math.min(room, use.inFlight > 0 ? 0 : 1);
  return Math.max(0, room);
}

/**
 * When a claim should look at a key whose tasks wait: now while it has room (an ordered key: room
 * and its head waiting; a head that is scheduled later starts from the due index, and its outcome
 * wakes the key); else the earliest time a limit frees a place (the oldest start leaving the rate
 * window, the earliest lease ending), no later than FLOW.recheckMs from now. Null while paused:
 * resuming wakes it.
 */
export function flowWakeAt(limits: FlowLimits, use: FlowUse, now: number): number | null {
  if (limits.paused) return null;
  if (flowRoom(limits, use, now) > 0 && (!limits.ordered || use.headWaits)) return now;
  let wake = now + FLOW.recheckMs;
  if (limits.rate) {
    // Both the window and the pace must allow a start.
    let free = Math.max(Math.ceil(paceFreeAt(use.pace)), now + FLOW.paceLookMs);
    if (use.starts >= limits.rate.limit && use.oldestStart !== null) free = Math.max(free, use.oldestStart + limits.rate.periodMs);
    if (free > now) wake = Math.min(wake, free);
  }
  if (use.leaseEnd !== null) wake = Math.min(wake, use.leaseEnd);
  return Math.max(now, wake);
}

/** The name a store groups a key's waiting tasks by: one project's key never meets another's. */
export function flowGroup(projectId: string, key: string): string {
  return `${projectId}:${key}`;
}
