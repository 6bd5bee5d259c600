import { finalReason } from './retry-policy.js';
import type { Task } from './task.js';
import type { AttemptOutcome } from './task-machine.js';

/*
 * Circuit breakers, written once as pure functions: (circuit, input, now) -> the next circuit.
 * Stores persist what these decide; dispatch/circuits.ts calls them before and after attempts.
 *
 *   (no record) = closed and clean
 *   closed ──failure (count < failureThreshold)──> closed, failures + 1
 *   closed ──failure (the failureThreshold-th in a row)──> open for openMs          (opened: callback)
 *   open ──a task comes after retryAt──> half-open: that task is the probe, the others wait
 *   half-open ──the probe succeeds──> (no record)
 *   half-open ──the probe fails──> open again for min(2 × the last open time, maxOpenMs)
 *   half-open ──the probe's hold ran out (its node died)──> the next task becomes the probe
 *   any ──a success──> (no record): whatever answered 2xx shows the target is back
 *
 * A circuit belongs to a project and a key: the target host (`host`, the task's hostTag) or a flow
 * key (`flow`). Projects opt in with a policy (BreakerPolicy); without one nothing here is called,
 * so a task's retry timing is the seed's.
 */

/** What a circuit is keyed by besides its project. */
export const CIRCUIT_KINDS = ['host', 'flow'] as const;
export type CircuitKind = (typeof CIRCUIT_KINDS)[number];

export const CIRCUIT_STATES = ['closed', 'open', 'half-open'] as const;
export type CircuitState = (typeof CIRCUIT_STATES)[number];

/** A project's breaker settings (`PUT /v1beta/breakers/policy`). */
export interface BreakerPolicy {
  /** Failures in a row (no answer, or a status the task would retry) that open a circuit. */
  failureThreshold: number;
  /** How long a circuit stays open the first time, in ms. */
  openMs: number;
  /** The longest it stays open: the time doubles each time a probe fails, up to this. */
  maxOpenMs: number;
  /** Where a signed POST goes when a circuit opens (from closed); null when none. */
  callbackUrl: string | null;
}

/** One circuit's state, as stored. */
export interface Circuit {
  kind: CircuitKind;
  /** The host tag (RequestCipher.hostTag) or the flow key. */
  key: string;
  state: CircuitState;
  /** Failures in a row while closed (those that opened it, once open). */
  failures: number;
  /** The open time in force (ms): the last one it was opened for. */
  openMs: number;
  /** When it last opened from closed; 0 while it never did. */
  openedAt: number;
  /** Open: when it lets a probe through. Half-open: until when the probe holds it. */
  retryAt: number;
  /** Half-open: the task sent as the probe. */
  probeTaskId: string;
  /** Times it opened (probes that failed included) since it was last closed. */
  opens: number;
  /** The host's name, sealed (RequestCipher.sealBytes, circuitAad), for the API to show; null when unknown. */
  name: Uint8Array | null;
}

/** A circuit as read from a store: `version` grows with every write, for compare-and-set. */
export interface StoredCircuit extends Circuit {
  version: number;
}

/** What the store holds of a project's breakers: its policy (null when off) and its circuits that are not closed and clean. */
export interface ProjectBreakers {
  policy: BreakerPolicy | null;
  circuits: StoredCircuit[];
}

/** The additional data a sealed host name is bound to: it opens for this project and circuit only. */
export const circuitAad = (projectId: string, kind: CircuitKind, key: string): string => `circuit:${projectId}:${kind}:${key}`;

/** What a task may do before it is sent: go (`probe` when it is the circuit's probe, which the store must take first), or wait until `until`. */
export type Admission = { go: true; probe: Circuit | null } | { go: false; until: number };

const GO: Admission = { go: true, probe: null };

/**
 * Whether the task `taskId` may be sent now. An open circuit holds tasks until its open time ends;
 * the first to come after that becomes the probe (`probe`: the half-open circuit to store, by
 * compare-and-set, before sending) and holds the circuit for `probeHoldMs`, while the others wait:
 * until the probe's hold ends, or `recheckMs` (the policy's first open time) when that is sooner,
 * so that they do not wait out a long hold after the probe closed the circuit.
 */
export function admit(circuit: Circuit | undefined, taskId: string, now: number, probeHoldMs: number, recheckMs: number): Admission {
  if (!circuit || circuit.state === 'closed') return GO;
  if (circuit.state === 'half-open' && circuit.probeTaskId === taskId) return GO;
  if (now < circuit.retryAt)
    return { go: false, until: circuit.state === 'open' ? circuit.retryAt : Math.min(circuit.retryAt, now + recheckMs) };
  return { go: true, probe: { ...circuit, state: 'half-open', probeTaskId: taskId, retryAt: now + probeHoldMs } };
}

/** An attempt's result as a breaker counts it: `null` when it counts neither way (nothing was sent, or the answer was final). */
export type CircuitResult = 'success' | 'failure' | null;

/**
 * How a breaker counts an attempt: a success (2xx), a failure (no answer, or a status the task
 * would retry), or neither: nothing was sent (the target guard, an unreadable request), or the
 * answer was final by the task's retry policy (the target answered deliberately).
 */
export function resultOf(task: Pick<Task, 'config'>, outcome: AttemptOutcome): CircuitResult {
  if (outcome.ok) return 'success';
  if (outcome.permanent) return null;
  const policy = task.config.retryPolicy;
  if (policy && finalReason(policy, outcome.statusCode, outcome.stopRetry === true) !== null) return null;
  return 'failure';
}

/** The step a result makes: the circuit to store (null: none, closed and clean), and whether it opened from closed. */
export interface CircuitStep {
  next: Circuit | null;
  opened: boolean;
}

/** A clean circuit's first record. */
export function newCircuit(kind: CircuitKind, key: string, name: Uint8Array | null): Circuit {
  return { kind, key, state: 'closed', failures: 0, openMs: 0, openedAt: 0, retryAt: 0, probeTaskId: '', opens: 0, name };
}

/**
 * The circuit after task `taskId`'s attempt ended with `result`. Null `circuit` is closed and clean
 * (`fresh` makes its record when one is needed). A failure of a task sent before the circuit
 * opened, or while another task probes, changes nothing: only the probe decides a half-open circuit.
 * Answers null for `next` when nothing changes and there was no record (the common case: no write).
 */
export function afterResult(
  circuit: Circuit | undefined,
  fresh: () => Circuit,
  policy: BreakerPolicy,
  result: 'success' | 'failure',
  taskId: string,
  now: number,
): CircuitStep | 'unchanged' {
  if (result === 'success') return circuit ? { next: null, opened: false } : 'unchanged';
  const current = circuit ?? fresh();
  switch (current.state) {
    case 'closed': {
      const failures = current.failures + 1;
      if (failures < policy.failureThreshold) return { next: { ...current, failures }, opened: false };
      const openMs = Math.min(policy.openMs, policy.maxOpenMs);
      return {
        next: { ...current, state: 'open', failures, openMs, openedAt: now, retryAt: now + openMs, probeTaskId: '', opens: 1 },
        opened: true,
      };
    }
    case 'half-open': {
      if (current.probeTaskId !== taskId) return 'unchanged';
      const openMs = Math.min(Math.max(current.openMs, 1) * 2, policy.maxOpenMs);
      return {
        next: { ...current, state: 'open', openMs, retryAt: now + openMs, probeTaskId: '', opens: current.opens + 1 },
        opened: false,
      };
    }
    case 'open':
      return 'unchanged';
  }
}

/** Closed with no failures counted: such a circuit needs no record. */
export function isClean(circuit: Circuit): boolean {
  return circuit.state === 'closed' && circuit.failures === 0;
}
