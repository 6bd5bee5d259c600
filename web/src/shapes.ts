/*
 * The API's answers as the web app reads them: types only, from the server's one source
 * (src/core/shapes.ts), so a changed field breaks this build rather than a screen. Nothing of the
 * server's code reaches the bundle (type imports are erased).
 */
import type { QueuedView, ScheduleView, SubscribeBody } from '../../src/core/shapes.js';

export type {
  ActivityView,
  BreakersView,
  BulkAction,
  BulkAnswer,
  ErrorBody,
  FieldIssue,
  InboxRequestView,
  InboxView,
  InfoView,
  QueuedView,
  RegisteredView,
  RescheduleBody,
  ScheduleBody,
  ScheduleListView,
  ScheduleView,
  SubscribeBody,
  TaskListView,
  TaskView,
  TimelineEntryView,
} from '../../src/core/shapes.js';

export type TaskState = QueuedView['state'];
export type ScheduleState = ScheduleView['state'];
export type HttpMethod = SubscribeBody['httpRequest']['method'];

/** Every state, in the order the filters offer them; the check below fails the build when the API gains one. */
export const TASK_STATES = ['RUNNING', 'PAUSED', 'COMPLETED', 'ERROR', 'EXCEEDED', 'CANCELED'] as const satisfies readonly TaskState[];
export const HTTP_METHODS = ['POST', 'GET', 'PUT', 'PATCH', 'DELETE'] as const satisfies readonly HttpMethod[];
type Covers<All, Listed> = [Exclude<All, Listed>] extends [never] ? true : never;
const statesCovered: Covers<TaskState, (typeof TASK_STATES)[number]> = true;
const methodsCovered: Covers<HttpMethod, (typeof HTTP_METHODS)[number]> = true;
void statesCovered;
void methodsCovered;
