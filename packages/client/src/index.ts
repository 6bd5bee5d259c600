/*
 * @kuueri/tasks-client: the typed client of the Kuueri Tasks API, its error, the API's types
 * (generated from the OpenAPI document), and the receiver's signature check (also alone, as
 * `@kuueri/tasks-client/webhooks`).
 */
export * from './api-types.js';
export {
  type BatchResult,
  type ClientOptions,
  KuueriTasksClient,
  type PageOptions,
  PROJECT_HEADER,
  type QueuedTask,
  type Task,
  type TaskFilter,
  type TaskState,
  type TimelineEntry,
  type TimelinePage,
} from './client.js';
export { type ApiErrorCode, type ApiIssue, KuueriTasksError, UNEXPECTED_ANSWER } from './errors.js';
export * from './webhooks.js';
