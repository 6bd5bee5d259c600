/*
 * The v1beta API as the web app calls it: fetch with the session's two headers, JSON in and out,
 * and every error answer turned into an ApiError that carries its code and field issues.
 */
import type { Session } from './session.js';
import type {
  ActivityView,
  BreakersView,
  BulkAction,
  BulkAnswer,
  ErrorBody,
  FieldIssue,
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
} from './shapes.js';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly issues: FieldIssue[] = [],
  ) {
    super(message);
  }
}

/** Called when the server refuses the session's credentials (401): the app signs out. */
let onUnauthorized: () => void = () => undefined;
export function whenUnauthorized(handler: () => void): void {
  onUnauthorized = handler;
}

interface Answer<T> {
  body: T;
  headers: Headers;
}

async function call<T>(session: Session | null, method: string, path: string, body?: unknown): Promise<Answer<T>> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (session) {
    headers.authorization = `Bearer ${session.token}`;
    headers['x-kuueri-tasks-project'] = session.projectId;
  }
  if (body !== undefined) headers['content-type'] = 'application/json';
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? null : JSON.stringify(body),
      credentials: 'omit',
      cache: 'no-store',
    });
  } catch {
    throw new ApiError(0, 'NETWORK', 'The server could not be reached.');
  }
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = text === '' ? null : JSON.parse(text);
  } catch {
    parsed = null;
  }
  if (!response.ok) {
    const error = (parsed ?? {}) as Partial<ErrorBody>;
    if (response.status === 401 && session) onUnauthorized();
    throw new ApiError(response.status, error.code ?? 'HTTP_' + response.status, error.message ?? response.statusText, error.issues ?? []);
  }
  return { body: parsed as T, headers: response.headers };
}

/** The path of a `Link: <…>; rel="next"` header, when it names one on this API. */
export function nextLink(headers: Headers): string | null {
  const match = /<([^>]+)>\s*;\s*rel="?next"?/.exec(headers.get('link') ?? '');
  return match && match[1]!.startsWith('/v1beta/') ? match[1]! : null;
}

/** What a listing asks for (`GET /v1beta/queues`): each is a query parameter of the same name. */
export interface TaskFilter {
  state?: string;
  tag?: string;
  host?: string;
  /** A schedule's id: the tasks its runs made. */
  schedule?: string;
  /** A flow key the tasks carry. */
  flow?: string;
}

/** The filter's names, in the order the list's form and its URL give them. */
export const TASK_FILTERS = ['state', 'tag', 'host', 'schedule', 'flow'] as const satisfies readonly (keyof TaskFilter)[];

/** The filter as query parameters: the API's, and the list screen's own URL. */
export function filterQuery(filter: TaskFilter): URLSearchParams {
  const query = new URLSearchParams();
  for (const name of TASK_FILTERS) if (filter[name]) query.set(name, filter[name]);
  return query;
}

const id = (value: string): string => encodeURIComponent(value);

/** The routes the app uses, bound to one session. */
export function apiFor(session: Session) {
  return {
    info: () => call<InfoView>(session, 'GET', '/v1beta/info').then((a) => a.body),
    tasks: (filter: TaskFilter, limit: number, cursor: string | null) => {
      const query = filterQuery(filter);
      query.set('limit', String(limit));
      if (cursor) query.set('cursor', cursor);
      return call<TaskListView>(session, 'GET', `/v1beta/queues?${query.toString()}`).then((a) => a.body);
    },
    task: (taskId: string) => call<TaskView>(session, 'GET', `/v1beta/queues/${id(taskId)}`).then((a) => a.body),
    /** A page of the timeline: the first, or the one a previous page's Link named. */
    timeline: async (taskId: string, page: string | null) => {
      const answer = await call<TimelineEntryView[]>(session, 'GET', page ?? `/v1beta/queues/${id(taskId)}/timeline?limit=50`);
      return { entries: answer.body, next: nextLink(answer.headers) };
    },
    subscribe: (body: SubscribeBody) => call<QueuedView>(session, 'POST', '/v1beta/subscribe', body).then((a) => a.body),
    pause: (taskId: string) => call(session, 'PATCH', `/v1beta/pause/${id(taskId)}`),
    resume: (taskId: string) => call(session, 'PATCH', `/v1beta/resume/${id(taskId)}`),
    execute: (taskId: string) => call(session, 'PATCH', `/v1beta/execute/${id(taskId)}`),
    reschedule: (taskId: string, when: RescheduleBody) => call(session, 'PATCH', `/v1beta/reschedule/${id(taskId)}`, when),
    unsubscribe: (taskId: string) => call(session, 'PATCH', `/v1beta/unsubscribe/${id(taskId)}`),
    remove: (taskId: string) => call(session, 'DELETE', `/v1beta/queues/${id(taskId)}`),
    bulk: (action: BulkAction, ids: string[]) =>
      call<BulkAnswer>(session, 'POST', '/v1beta/queues/bulk', { action, ids }).then((a) => a.body),
    schedules: (limit: number, cursor: string | null) => {
      const query = new URLSearchParams({ limit: String(limit) });
      if (cursor) query.set('cursor', cursor);
      return call<ScheduleListView>(session, 'GET', `/v1beta/schedules?${query.toString()}`).then((a) => a.body);
    },
    createSchedule: (body: ScheduleBody) => call<ScheduleView>(session, 'POST', '/v1beta/schedules', body).then((a) => a.body),
    pauseSchedule: (scheduleId: string) => call(session, 'PATCH', `/v1beta/schedules/${id(scheduleId)}/pause`),
    resumeSchedule: (scheduleId: string) => call(session, 'PATCH', `/v1beta/schedules/${id(scheduleId)}/resume`),
    removeSchedule: (scheduleId: string) => call(session, 'DELETE', `/v1beta/schedules/${id(scheduleId)}`),
    activity: () => call<ActivityView>(session, 'GET', '/v1beta/activity').then((a) => a.body),
    breakers: () => call<BreakersView>(session, 'GET', '/v1beta/breakers').then((a) => a.body),
    inbox: () => call<InboxView>(session, 'GET', '/v1beta/inbox').then((a) => a.body),
    clearInbox: () => call(session, 'DELETE', '/v1beta/inbox'),
  };
}

export type Api = ReturnType<typeof apiFor>;

/** `POST /v1beta/register`: a new project; its token is shown this once. */
export function register(email: string): Promise<RegisteredView> {
  return call<RegisteredView>(null, 'POST', '/v1beta/register', { email }).then((a) => a.body);
}

/** Checks credentials before keeping them: `GET /v1beta/info` answers only to a valid pair. */
export function checkCredentials(session: Session): Promise<InfoView> {
  return call<InfoView>(session, 'GET', '/v1beta/info').then((a) => a.body);
}

/** A message for the page: the server's own, with its field issues. */
export function describeError(error: unknown): string {
  if (error instanceof ApiError) return error.message;
  return error instanceof Error ? error.message : String(error);
}
