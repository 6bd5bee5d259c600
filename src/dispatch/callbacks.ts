import {
  CALLBACK_ATTEMPTS,
  CALLBACK_BACKOFF_MS,
  CALLBACK_TIMEOUT_MS,
  type CallbackAttempt,
  type CallbackPayload,
  callbackEvents,
  callbackId,
} from '../core/callbacks.js';
import type { Clock } from '../core/clock.js';
import type { RequestCipher } from '../core/sealed-request.js';
import type { CallbackEvent } from '../core/shapes.js';
import { webhookHeaders } from '../core/signing.js';
import type { Task, TimelineEntry } from '../core/task.js';
import type { AttemptOutcome } from '../core/task-machine.js';
import { targetOf, taskView } from '../core/views.js';
import type { Logger } from '../logger.js';
import type { TaskStore } from '../store/task-store.js';
import type { DeliverySigner } from './delivery-signer.js';
import { Cancellation, type Sender } from './http-sender.js';

/*
 * Sends the callbacks of recorded attempts (core/callbacks.ts): a POST of the task's view and the
 * attempt as JSON, signed as deliveries are, through the same guarded sender. Each callback has its
 * own few attempts (CALLBACK_ATTEMPTS, with waits between them) and timeout, and runs beside the
 * dispatcher, never in one of its slots; at most MAX_PENDING run at once (more are dropped and
 * logged). Its outcome is appended to the task's timeline (`Callback`). Callbacks live in memory:
 * one still under way when the server stops is not sent again (at most once, unlike deliveries).
 */

const MAX_PENDING = 1_000;
/** Tries at appending the outcome to a timeline that others keep writing to. */
const NOTE_TRIES = 5;

export interface CallbackSenderOptions {
  store: TaskStore;
  sender: Sender;
  signer: DeliverySigner;
  cipher: RequestCipher;
  clock: Clock;
  logger: Logger;
  /** Waits between a callback's attempts (default CALLBACK_BACKOFF_MS). */
  backoffMs?: readonly number[];
}

export class CallbackSender {
  private readonly pending = new Set<Promise<void>>();
  private readonly cancellation = new Cancellation();

  constructor(private readonly deps: CallbackSenderOptions) {
    this.cancellation.setMaxListeners(0); // one listener per callback waiting or in flight
  }

  /** Starts the callbacks the task asked for after the attempt `outcome`, sent at `sentAt`; answers at once. */
  notify(recorded: Task, outcome: AttemptOutcome, sentAt: number): void {
    const callback = recorded.config.callback;
    if (!callback || this.cancellation.aborted) return;
    const attempt: CallbackAttempt = { at: sentAt, ok: outcome.ok, statusCode: outcome.statusCode };
    if (outcome.error !== undefined) attempt.error = outcome.error;
    for (const event of callbackEvents(recorded, outcome)) {
      if (!callback.on.includes(event)) continue;
      if (this.pending.size >= MAX_PENDING) {
        this.deps.logger.warn({ taskId: recorded.id, event }, 'too many callbacks under way; this one is dropped');
        continue;
      }
      const running: Promise<void> = this.send(recorded, callback.url, event, attempt)
        .catch((error: unknown) => this.deps.logger.error({ err: error, taskId: recorded.id }, 'callback failed unexpectedly'))
        .finally(() => this.pending.delete(running));
      this.pending.add(running);
    }
  }

  /** Stops: callbacks under way are aborted (not sent again), and their ends awaited. */
  async stop(): Promise<void> {
    this.cancellation.cancel(new Error('server stopping'));
    await Promise.allSettled([...this.pending]);
  }

  private async send(task: Task, url: string, event: CallbackEvent, attempt: CallbackAttempt): Promise<void> {
    const { sender, signer, cipher, clock } = this.deps;
    const payload: CallbackPayload = { type: `task.${event}`, task: taskView(task, targetOf(cipher, task)), attempt };
    const body = Buffer.from(JSON.stringify(payload));
    const id = callbackId(task.id, attempt, event);
    const backoff = this.deps.backoffMs ?? CALLBACK_BACKOFF_MS;
    let outcome: AttemptOutcome = { ok: false, statusCode: 0, error: 'not sent' };
    let tries = 0;
    while (tries < CALLBACK_ATTEMPTS && !this.cancellation.aborted) {
      if (tries > 0) await this.cancellation.pause(backoff[Math.min(tries - 1, backoff.length - 1)] ?? 0);
      if (this.cancellation.aborted) break;
      tries++;
      const cached = signer.keysFor(task.projectId);
      const keys = cached instanceof Promise ? await cached : cached;
      const headers = {
        'X-Kuueri-Tasks-Queue': task.id,
        'X-Kuueri-Tasks-Callback': event,
        ...webhookHeaders(keys, id, clock.now(), body),
      };
      const request = { url, method: 'POST' as const, headers: { 'Content-Type': 'application/json' }, body };
      outcome = await sender.send(request, headers, CALLBACK_TIMEOUT_MS, this.cancellation, { projectId: task.projectId });
      if (outcome.ok || outcome.permanent) break;
    }
    if (this.cancellation.aborted && !outcome.ok) return; // stopping: nothing to tell
    const host = URL.canParse(url) ? new URL(url).host : url;
    const what = outcome.statusCode > 0 ? `status ${outcome.statusCode}` : (outcome.error ?? 'no answer');
    const description = outcome.ok
      ? `Callback task.${event} delivered to ${host} (${what}, attempt ${tries} of ${CALLBACK_ATTEMPTS})`
      : `Callback task.${event} to ${host} failed after ${tries} attempt${tries === 1 ? '' : 's'}: ${what}`;
    await this.note(task, {
      label: 'Callback',
      description,
      createdAt: clock.now(),
      metadata: { event, delivered: outcome.ok, statusCode: outcome.statusCode, attempts: tries },
    });
  }

  /** Appends the entry to the task's timeline, leaving the task as it is (compare-and-set, re-read on conflict). */
  private async note(task: Task, entry: TimelineEntry): Promise<void> {
    for (let i = 0; i < NOTE_TRIES; i++) {
      const current = await this.deps.store.findTask(task.projectId, task.id);
      if (!current) return; // deleted meanwhile
      if (await this.deps.store.replaceTask(current, current, [entry])) return;
    }
    this.deps.logger.warn({ taskId: task.id }, 'could not note a callback on the timeline: the task kept changing');
  }
}
