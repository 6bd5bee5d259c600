/*
 * The API's answers as the web app reads them: types only, from the server's one source
 * (src/core/shapes.ts), so a changed field breaks this build rather than a screen. Nothing of the
 * server's code reaches the bundle (type imports are erased).
 */
import type {
  ErrorBody,
  FieldIssue,
  InfoView,
  QueuedView,
  RegisteredView,
  RescheduleBody,
  SubscribeBody,
  TaskView as ServerTaskView,
  TimelineEntryView,
} from '../../src/core/shapes.js';

export type { ErrorBody, FieldIssue, InfoView, QueuedView, RegisteredView, RescheduleBody, SubscribeBody, TimelineEntryView };

export type TaskState = QueuedView['state'];
export type HttpMethod = SubscribeBody['httpRequest']['method'];

/** Every state, in the order the filters offer them; the check below fails the build when the API gains one. */
export const TASK_STATES = ['RUNNING', 'PAUSED', 'COMPLETED', 'ERROR', 'EXCEEDED', 'CANCELED'] as const satisfies readonly TaskState[];
export const HTTP_METHODS = ['POST', 'GET', 'PUT', 'PATCH', 'DELETE'] as const satisfies readonly HttpMethod[];
type Covers<All, Listed> = [Exclude<All, Listed>] extends [never] ? true : never;
const statesCovered: Covers<TaskState, (typeof TASK_STATES)[number]> = true;
const methodsCovered: Covers<HttpMethod, (typeof HTTP_METHODS)[number]> = true;
void statesCovered;
void methodsCovered;

// TODO(issue 22): the shapes below are the contract's (notes/i22-contract.md) until the listing,
// activity and inbox routes land in src/core/shapes.ts; then they are imported like the others.

/** `GET /v1beta/queues/:id` with the contract's tags and target. */
export type TaskView = ServerTaskView & { tags?: string[]; target?: { method: string; url: string } };

/** `GET /v1beta/queues`. */
export interface TaskListView {
  tasks: TaskView[];
  nextCursor: string | null;
}

/** `GET /v1beta/activity`: the last 60 minutes, oldest first. */
export interface ActivityView {
  minutes: { at: number; delivered: number; failed: number }[];
}

/** One request the inbox kept. */
export interface InboxRequestView {
  id: string;
  receivedAt: number;
  method: string;
  path: string;
  headers: Record<string, string | string[]>;
  body: string;
  bodyEncoding: 'utf8' | 'base64';
  truncated: boolean;
}

/** `GET /v1beta/inbox`. */
export interface InboxView {
  url: string;
  requests: InboxRequestView[];
}

/** `POST /v1beta/queues/bulk`: what an action did to the tasks it named. */
export interface BulkAnswer {
  done: number;
  notFound: number;
  notAllowed: number;
  busy: number;
}

export type BulkAction = 'pause' | 'resume' | 'unsubscribe' | 'delete';
