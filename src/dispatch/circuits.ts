import { CALLBACK_ATTEMPTS, CALLBACK_BACKOFF_MS, CALLBACK_TIMEOUT_MS } from '../core/callbacks.js';
import {
  type BreakerPolicy,
  type Circuit,
  type CircuitKind,
  type ProjectBreakers,
  type StoredCircuit,
  admit,
  afterResult,
  circuitAad,
  newCircuit,
  resultOf,
} from '../core/circuit.js';
import { type Clock, monotonic } from '../core/clock.js';
import type { RequestCipher } from '../core/sealed-request.js';
import { webhookHeaders } from '../core/signing.js';
import type { Task } from '../core/task.js';
import type { AttemptOutcome } from '../core/task-machine.js';
import { circuitView } from '../core/views.js';
import type { Logger } from '../logger.js';
import type { TaskStore } from '../store/task-store.js';
import type { DeliverySigner } from './delivery-signer.js';
import { Cancellation, type Sender } from './http-sender.js';

/*
 * The dispatcher's circuit breakers (core/circuit.ts decides; this keeps the state and asks the
 * store). Before an attempt, `admit` says whether the task may be sent or must wait; after it,
 * `report` counts its outcome. A project's policy and circuits are read once and kept for
 * `cacheMs` (then read again in the background while the kept copy still answers), so the common
 * case — breakers off, or a closed circuit with no failures and a success — reads and writes
 * nothing per delivery. Failures, and successes on a circuit with failures, write by
 * compare-and-set; a conflict (another node wrote) re-reads and decides again. The node whose
 * write opens a circuit sends the policy's callback, so it goes once across nodes.
 *
 * Circuits are keyed (project, kind, key): kind `host` is the task's hostTag, kind `flow` its flow
 * key (`keysOf`).
 */

/** How long a project's breakers are used before the store is read again (config SERVICE.BREAKERS.CACHE_MS). */
export const BREAKERS_CACHE_MS = 1_000;
const CACHE_SIZE = 10_000;
/** Tries at a circuit's compare-and-set before the step is given up (logged). */
const WRITE_TRIES = 5;
/** The least a task waits when conflicting writes kept its turn from being decided. */
const UNDECIDED_WAIT_MS = 1_000;
/** How long a probe holds a half-open circuit beyond its task's timeout: its node may have died. */
const PROBE_MARGIN_MS = 1_000;

interface Entry {
  breakers: ProjectBreakers;
  /** The circuits by `<kind>:<key>`. */
  byKey: Map<string, StoredCircuit>;
  readAt: number;
}

export interface CircuitGateOptions {
  store: TaskStore;
  cipher: RequestCipher;
  /** Sends the callback of a circuit that opened (the guarded sender deliveries use). */
  sender: Sender;
  signer: DeliverySigner;
  clock: Clock;
  logger: Logger;
  cacheMs?: number;
}

/** Answers of `admit`: null, send now; a time, the task waits until then without being sent. */
export type Gate = number | null;

export class CircuitGate {
  private readonly cache = new Map<string, Entry>();
  private readonly reading = new Map<string, Promise<Entry>>();
  private readonly cancellation = new Cancellation();
  private readonly pending = new Set<Promise<void>>();
  private readonly cacheMs: number;

  constructor(private readonly deps: CircuitGateOptions) {
    this.cacheMs = deps.cacheMs ?? BREAKERS_CACHE_MS;
    this.cancellation.setMaxListeners(0);
  }

  /**
   * Whether `task` may be sent now: null (send; at once when the project's breakers are kept
   * and its circuits closed), or when it waits until. A store that cannot be read lets it go: a
   * breaker protects targets, and must not stop deliveries when it cannot tell.
   */
  admit(task: Task): Gate | Promise<Gate> {
    const entry = this.entryOf(task.projectId);
    if (entry instanceof Promise) return entry.then((e) => this.admitWith(e, task)).catch((error: unknown) => this.failOpen(error, task));
    const gate = this.admitWith(entry, task);
    return gate instanceof Promise ? gate.catch((error: unknown) => this.failOpen(error, task)) : gate;
  }

  /** Counts the outcome of `task`'s attempt; answers at once, writing (when needed) in the background. */
  report(task: Task, outcome: AttemptOutcome): void {
    const entry = this.cache.get(task.projectId);
    const policy = entry?.breakers.policy;
    if (!entry || !policy) return;
    const result = resultOf(task, outcome);
    if (result === null) return;
    for (const [kind, key] of keysOf(task)) {
      const circuit = entry.byKey.get(`${kind}:${key}`);
      // The common case decided without a promise: a success on a clean circuit changes nothing.
      if (result === 'success' && !circuit) continue;
      this.track(this.step(task, kind, key, policy, result, this.deps.clock.now()));
    }
  }

  /** Drops what is kept for the project (its policy or a circuit changed through this server). */
  forget(projectId: string): void {
    this.cache.delete(projectId);
    this.reading.delete(projectId);
  }

  /** Stops: callbacks under way are aborted; writes under way are awaited. */
  async stop(): Promise<void> {
    this.cancellation.cancel(new Error('server stopping'));
    await Promise.allSettled([...this.pending]);
  }

  private failOpen(error: unknown, task: Task): Gate {
    this.deps.logger.warn({ err: error, taskId: task.id }, 'circuit breakers could not be read; the task is sent');
    return null;
  }

  private admitWith(entry: Entry, task: Task): Gate | Promise<Gate> {
    const policy = entry.breakers.policy;
    if (!policy) return null;
    for (const [kind, key] of keysOf(task)) {
      const circuit = entry.byKey.get(`${kind}:${key}`);
      if (!circuit) continue;
      const now = this.deps.clock.now();
      const admission = admit(circuit, task.id, now, task.config.timeout + PROBE_MARGIN_MS, policy.openMs);
      if (!admission.go) return admission.until;
      if (admission.probe) return this.takeProbe(task, kind, key, now);
    }
    return null;
  }

  /** Makes `task` the probe of a circuit whose open time ended: compare-and-set, re-reading after a conflict. */
  private async takeProbe(task: Task, kind: CircuitKind, key: string, now: number): Promise<Gate> {
    for (let i = 0; i < WRITE_TRIES; i++) {
      const entry = i === 0 ? this.cache.get(task.projectId) : await this.refresh(task.projectId);
      const policy = entry?.breakers.policy;
      const circuit = entry?.byKey.get(`${kind}:${key}`);
      if (!entry || !policy || !circuit) return null; // turned off or closed meanwhile
      const admission = admit(circuit, task.id, now, task.config.timeout + PROBE_MARGIN_MS, policy.openMs);
      if (!admission.go) return admission.until;
      if (!admission.probe) return null;
      if (await this.deps.store.writeCircuit(task.projectId, circuit, admission.probe)) {
        this.remember(entry, circuit, admission.probe);
        this.deps.logger.info({ taskId: task.id, projectId: task.projectId, kind }, 'circuit half-open: this task is its probe');
        return null;
      }
    }
    return now + policy0(this.cache.get(task.projectId)); // kept conflicting: wait a little and look again
  }

  /** Records a result on one circuit: decide (core), compare-and-set, re-read and decide again on a conflict. */
  private async step(task: Task, kind: CircuitKind, key: string, policy: BreakerPolicy, result: 'success' | 'failure', now: number) {
    let entry = this.cache.get(task.projectId);
    let name: Uint8Array | null | undefined;
    const fresh = (): Circuit => {
      name ??= this.sealedName(task, kind, key);
      return newCircuit(kind, key, name);
    };
    for (let i = 0; i < WRITE_TRIES; i++) {
      if (i > 0) entry = await this.refresh(task.projectId);
      if (!entry?.breakers.policy) return;
      const circuit = entry.byKey.get(`${kind}:${key}`);
      const step = afterResult(circuit, fresh, entry.breakers.policy ?? policy, result, task.id, now);
      if (step === 'unchanged') return;
      if (await this.deps.store.writeCircuit(task.projectId, circuit ?? null, step.next)) {
        this.remember(entry, circuit ?? null, step.next);
        if (step.next?.state === 'open') {
          this.deps.logger.warn(
            { projectId: task.projectId, kind, failures: step.next.failures, openMs: step.next.openMs },
            step.opened ? 'circuit opened' : 'circuit probe failed; open again',
          );
        } else if (step.next === null && circuit && circuit.state !== 'closed') {
          this.deps.logger.info({ projectId: task.projectId, kind }, 'circuit closed');
        }
        if (step.opened && step.next && entry.breakers.policy?.callbackUrl) {
          this.track(this.callback(task.projectId, entry.breakers.policy.callbackUrl, step.next));
        }
        return;
      }
    }
    this.deps.logger.warn({ projectId: task.projectId, kind }, 'gave up recording a circuit result after repeated conflicts');
  }

  /** The host's name, sealed to the circuit, so the API can show which host it is (kind host only). */
  private sealedName(task: Task, kind: CircuitKind, key: string): Uint8Array | null {
    if (kind !== 'host') return null;
    try {
      const host = new URL(this.deps.cipher.openTarget(task.request, task.id).url).hostname;
      return this.deps.cipher.sealBytes(Buffer.from(host, 'utf8'), circuitAad(task.projectId, kind, key));
    } catch {
      return null;
    }
  }

  /** Keeps what was just written, so this server's next tasks see it at once. */
  private remember(entry: Entry, prev: StoredCircuit | null, next: Circuit | null): void {
    const id = `${(next ?? prev)!.kind}:${(next ?? prev)!.key}`;
    if (next === null) entry.byKey.delete(id);
    else entry.byKey.set(id, { ...next, version: (prev?.version ?? 0) + 1 });
  }

  /** The project's entry: kept (read again in the background once older than cacheMs), or read now. */
  private entryOf(projectId: string): Entry | Promise<Entry> {
    const cached = this.cache.get(projectId);
    if (!cached) return this.refresh(projectId);
    if (monotonic() - cached.readAt >= this.cacheMs && !this.reading.has(projectId)) {
      this.refresh(projectId).catch((error: unknown) =>
        this.deps.logger.warn({ err: error, projectId }, 'reading circuit breakers failed'),
      );
    }
    return cached;
  }

  private refresh(projectId: string): Promise<Entry> {
    let read = this.reading.get(projectId);
    if (read) return read;
    const started = this.deps.store.readBreakers(projectId).then((breakers) => {
      const entry: Entry = { breakers, byKey: new Map(breakers.circuits.map((c) => [`${c.kind}:${c.key}`, c])), readAt: monotonic() };
      if (this.reading.get(projectId) === started) {
        if (this.cache.size >= CACHE_SIZE && !this.cache.has(projectId)) this.cache.delete(this.cache.keys().next().value as string);
        this.cache.set(projectId, entry);
      }
      return entry;
    });
    read = started.finally(() => {
      if (this.reading.get(projectId) === started) this.reading.delete(projectId);
    });
    this.reading.set(projectId, started);
    return read;
  }

  private track(work: Promise<void>): void {
    const running: Promise<void> = work
      .catch((error: unknown) => this.deps.logger.warn({ err: error }, 'recording a circuit result failed'))
      .finally(() => this.pending.delete(running));
    this.pending.add(running);
  }

  /** POSTs `{type: "circuit.opened", circuit}` to the policy's callback URL, signed as deliveries are, through the target guard. */
  private async callback(projectId: string, url: string, circuit: Circuit): Promise<void> {
    const { sender, signer, clock, cipher, logger } = this.deps;
    const body = Buffer.from(JSON.stringify({ type: 'circuit.opened', circuit: circuitView(cipher, projectId, circuit) }));
    const id = `msg_circuit_${circuit.kind}_${circuit.key}_${circuit.openedAt}`;
    let outcome: AttemptOutcome = { ok: false, statusCode: 0, error: 'not sent' };
    for (let tries = 0; tries < CALLBACK_ATTEMPTS && !this.cancellation.aborted; tries++) {
      if (tries > 0) await this.cancellation.pause(CALLBACK_BACKOFF_MS[Math.min(tries - 1, CALLBACK_BACKOFF_MS.length - 1)] ?? 0);
      if (this.cancellation.aborted) break;
      const cached = signer.keysFor(projectId);
      const keys = cached instanceof Promise ? await cached : cached;
      const headers = { 'X-Kuueri-Tasks-Callback': 'circuit.opened', ...webhookHeaders(keys, id, clock.now(), body) };
      const request = { url, method: 'POST' as const, headers: { 'Content-Type': 'application/json' }, body };
      outcome = await sender.send(request, headers, CALLBACK_TIMEOUT_MS, this.cancellation, { projectId });
      if (outcome.ok || outcome.permanent) break;
    }
    if (!outcome.ok && !this.cancellation.aborted) {
      logger.warn({ projectId, statusCode: outcome.statusCode, error: outcome.error }, 'the circuit-opened callback failed');
    }
  }
}

/** How long a task waits when its turn could not be decided: the policy's first open time, and never no time at all. */
function policy0(entry: Entry | undefined): number {
  return Math.max(entry?.breakers.policy?.openMs ?? 0, UNDECIDED_WAIT_MS);
}

/** The circuits a task passes through: its target host's, and its flow key's when it has one. */
function keysOf(task: Task): [CircuitKind, string][] {
  const keys: [CircuitKind, string][] = task.hostTag === '' ? [] : [['host', task.hostTag]];
  if (task.flowKey !== '') keys.push(['flow', task.flowKey]);
  return keys;
}
