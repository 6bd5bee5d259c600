/*
 * Tasks through the API, for tests: subscribe asserting the 201, read a task or its timeline
 * asserting the 200, and wait for a task to reach a state. The answers are typed with the API's own
 * views (src/core/shapes.ts).
 */
import assert from 'node:assert/strict';
import type { QueuedView, TaskView, TimelineEntryView } from '../../src/core/shapes.js';
import { assertQueued } from './api-assertions.js';
import type { ApiClient, Credentials } from './api-client.js';
import { type WaitOptions, waitFor } from './wait.js';

/** The states a task never leaves. */
export const FINAL_STATES: ReadonlySet<string> = new Set(['COMPLETED', 'ERROR', 'EXCEEDED', 'CANCELED']);

/** `text` in base64, as httpRequest.data takes it. */
export function b64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}

/** Subscribes and asserts 201 with the queued shape; returns the queued body. */
export async function subscribeOk(client: ApiClient, creds: Credentials, body: unknown): Promise<QueuedView> {
  return assertQueued(await client.subscribe(creds, body), 201);
}

export async function getTask(client: ApiClient, creds: Credentials, id: string): Promise<TaskView> {
  const res = await client.task(creds, id);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body as unknown as TaskView;
}

export async function getTimeline(client: ApiClient, creds: Credentials, id: string): Promise<TimelineEntryView[]> {
  const res = await client.timeline(creds, id);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body;
}

export function labelsOf(timeline: readonly TimelineEntryView[]): string[] {
  return timeline.map((e) => e.label);
}

/** The project's tasks still queued (taskInQueue of GET /v1beta/info). */
export async function activeCount(client: ApiClient, creds: Credentials): Promise<number> {
  const res = await client.info(creds);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.taskInQueue as number;
}

/**
 * Polls the task until `predicate` holds (its state changes after the target answers, not when the
 * request that changed it is answered); answers the task. The timeout message shows the last answer.
 */
export async function waitForTask(
  client: ApiClient,
  creds: Credentials,
  id: string,
  predicate: (task: TaskView) => boolean,
  options?: WaitOptions,
): Promise<TaskView> {
  let last: unknown = null;
  return waitFor(
    () => `task ${id} to reach the expected state; last seen ${JSON.stringify(last)}`,
    async () => {
      const res = await client.task(creds, id);
      last = res.body;
      return res.status === 200 && predicate(res.body as unknown as TaskView) ? (res.body as unknown as TaskView) : undefined;
    },
    options,
  );
}

export function waitForState(client: ApiClient, creds: Credentials, id: string, state: string, options?: WaitOptions): Promise<TaskView> {
  return waitForTask(client, creds, id, (task) => task.state === state, options);
}

/** The task once it is in a final state (20 s unless told). */
export function waitForFinal(
  client: ApiClient,
  creds: Credentials,
  id: string,
  options: WaitOptions = { timeoutMs: 20_000 },
): Promise<TaskView> {
  return waitForTask(client, creds, id, (task) => FINAL_STATES.has(task.state), options);
}

/** Waits until the project has no task left in its queue (taskInQueue 0): everything stored has run. */
export async function waitForEmptyQueue(client: ApiClient, creds: Credentials, options?: WaitOptions): Promise<void> {
  let last: unknown = null;
  await waitFor(
    () => `the queue to empty; info answered ${JSON.stringify(last)}`,
    async () => {
      const res = await client.info(creds);
      last = res.body;
      return res.status === 200 && res.body.taskInQueue === 0;
    },
    options,
  );
}
