/**
 * The task model. A task is a one-shot execution resource: "call this request at this time,
 * retry it this way when it fails, repeat it this way when it succeeds". Stores persist `Task`
 * values as they are; every rule about them lives in `task-machine.ts`.
 */
export const TASK_STATES = ['RUNNING', 'PAUSED', 'CANCELED', 'COMPLETED', 'ERROR', 'EXCEEDED'] as const;
export type TaskState = (typeof TASK_STATES)[number];

export const HTTP_METHODS = ['POST', 'PATCH', 'PUT', 'DELETE', 'GET'] as const;
export type HttpMethod = (typeof HTTP_METHODS)[number];

export const TIMELINE_LABELS = [
  'Subscribe', 'Pause', 'Resume', 'Unsubscribe', 'Error', 'Retry', 'Complete', 'Repeat', 'Alert', 'Exceeded',
] as const;
export type TimelineLabel = (typeof TIMELINE_LABELS)[number];

/** The request a task sends, as the user gave it (after validation). Stored encrypted. */
export interface HttpRequestSpec {
  url: string;
  method: HttpMethod;
  /** Base64 body, decoded before sending; never sent with DELETE. */
  data?: string;
  params?: Record<string, string>;
  headers?: Record<string, string>;
}

// The effective configuration is one of the API's shapes: its type is the schema's (shapes.ts).
import type { TaskConfig } from './shapes.js';
export type { TaskConfig };

/** A claim on a task by one dispatcher: the holder may record the attempt's outcome until `until`. */
export interface Lease {
  token: string;
  until: number;
}

export interface Task {
  id: string;
  projectId: string;
  state: TaskState;
  /** The last HTTP status the target answered, 0 when it never answered. */
  statusCode: number;
  estimateStartAt: number;
  /** When the next execution runs; 0 when none is scheduled (paused or finished). */
  estimateExecAt: number;
  /** When the task reached its final state; 0 until then. */
  estimateEndAt: number;
  /** The next execution is a retry after a failure. */
  currentlyRetry: boolean;
  /** The next execution is a repeat after a success. */
  currentlyRepeat: boolean;
  /** Retries scheduled in the current run (the budget starts again with every repeat). */
  retryCount: number;
  /** Repeats scheduled so far. */
  repeatCount: number;
  /** Attempts sent so far, for display. */
  attempts: number;
  /** Time that was left until the next execution when the task was paused. */
  pausedLeft: number;
  config: TaskConfig;
  /** The `HttpRequestSpec`, sealed with AES-256-GCM; opaque to stores. */
  sealedRequest: string;
  lease: Lease | null;
}

export interface TimelineEntry {
  label: TimelineLabel;
  description: string;
  createdAt: number;
  metadata?: Record<string, string | number | boolean>;
}

export interface Project {
  id: string;
  email: string;
  tokenHash: Buffer;
  createdAt: number;
  /** `DEV` when registered on a development server, `GUEST` in production. */
  as: 'DEV' | 'GUEST';
}

/** RUNNING and PAUSED tasks count against the project's queue limit. */
export function isActive(state: TaskState): boolean {
  return state === 'RUNNING' || state === 'PAUSED';
}

export function isFinished(state: TaskState): boolean {
  return !isActive(state);
}
