/*
 * The typed client: one method per operation of the API, over the types generated from its OpenAPI
 * document (api-types.ts); the method, path and whether the project's credentials go along come
 * from the same document (OPERATIONS). Methods answer the API's JSON, typed; anything but success
 * throws a KuueriTasksError with the API's code. Listing and timeline pages can also be walked to
 * the end with an async iterator that follows the cursor.
 */
import {
  type ActivityAnswer,
  type AttemptsAnswer,
  type BreakerPolicyAnswer,
  type BreakersAnswer,
  type BulkAnswer,
  type BulkBody,
  type CircuitAnswer,
  type CircuitParams,
  type ClearInboxAnswer,
  type CreateScheduleAnswer,
  type CreateScheduleBody,
  type DeleteScheduleAnswer,
  type ListSchedulesAnswer,
  type DeleteBreakerPolicyAnswer,
  type DeleteFlowAnswer,
  type DeleteTaskAnswer,
  type GetTaskAnswer,
  type HealthAnswer,
  type InboxAnswer,
  type InfoAnswer,
  type ListTasksAnswer,
  type ListTasksQuery,
  OPERATIONS,
  type OpenApiAnswer,
  type OperationId,
  type Operations,
  type PauseAnswer,
  type PutFlowAnswer,
  type PutFlowBody,
  type RegisterAnswer,
  type ReplayAnswer,
  type ResetCircuitAnswer,
  type RotateSigningSecretAnswer,
  type RescheduleBody,
  type ServiceIndexAnswer,
  type SetBreakerPolicyBody,
  type SubscribeAnswer,
  type SubscribeBatchAnswer,
  type SubscribeBody,
  type TimelineAnswer,
  type UnsubscribeAnswer,
} from './api-types.js';
import { KuueriTasksError, UNEXPECTED_ANSWER } from './errors.js';

/** A task as `GET /v1beta/queues/:id` and the listing show it. */
export type Task = GetTaskAnswer;
/** A flow key's limits and use, as every flow route answers it. */
export type Flow = PutFlowAnswer;
/** A flow key's limits: a limit left out is none. */
export type FlowLimits = PutFlowBody;
/** A task as subscribe, resume, execute and reschedule answer it. */
export type QueuedTask = SubscribeAnswer;
export type TaskState = Task['state'];
export type TimelineEntry = TimelineAnswer[number];
/** One attempt of the task's attempt log. */
export type Attempt = AttemptsAnswer[number];
/** A schedule, as every schedule method answers it. */
export type Schedule = CreateScheduleAnswer;

/** One item's result of a batch subscribe: `task` on 201, `error` otherwise. */
export type BatchResult = SubscribeBatchAnswer[number];

/** The header that names the project beside the bearer token (the document's `projectId` scheme). */
export const PROJECT_HEADER = 'x-kuueri-tasks-project';

export interface ClientOptions {
  /** The server's base URL, e.g. `http://localhost:8202` (a path prefix is kept). */
  url: string;
  /** The project id register answered. */
  project?: string;
  /** The project's token (`kt_…`) register answered. */
  token?: string;
  /** Abort a request that has not been answered after this many milliseconds (default: never). */
  timeoutMs?: number;
  /** The fetch to send with (default: the global one). */
  fetch?: typeof globalThis.fetch;
}

/** The filters of a listing: every one given must hold. Times are epoch milliseconds or Dates. */
export interface TaskFilter {
  /** Any of these states. */
  state?: TaskState | readonly TaskState[];
  tag?: string;
  /** The target's host name or IP address, matched exactly (case-insensitive). */
  host?: string;
  /** The runs of this schedule (its id): the tasks whose `scheduleId` it is. */
  schedule?: string;
  /** The tasks with this flow key. */
  flow?: string;
  createdFrom?: number | Date;
  createdTo?: number | Date;
  /** Next execution at or after; paused and finished tasks have none and never match. */
  nextFrom?: number | Date;
  nextTo?: number | Date;
}

/** Where a page starts and how long it is. */
export interface PageOptions {
  /** Items in the page (1–1000). */
  limit?: number;
  /** The `nextCursor` of the page before. */
  cursor?: string;
}

/** A page of a timeline: its entries, oldest first, and where the next page starts (null at the end). */
export interface TimelinePage {
  entries: TimelineEntry[];
  nextCursor: string | null;
}

/** A page of an attempt log: its attempts, newest first, and where the next page starts (null at the end). */
export interface AttemptPage {
  attempts: Attempt[];
  nextCursor: string | null;
}

interface CallInput<K extends OperationId> {
  params?: Operations[K]['params'];
  query?: Operations[K]['query'];
  body?: Operations[K]['body'];
}

/** A client of one Kuueri Tasks server, for one project (or none, to register). */
export class KuueriTasksClient {
  readonly url: string;
  readonly project: string | undefined;
  readonly #token: string | undefined;
  readonly #timeoutMs: number | undefined;
  readonly #fetch: typeof globalThis.fetch;

  constructor(options: ClientOptions) {
    const url = new URL(options.url);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError(`The server URL must be http or https: ${options.url}`);
    this.url = url.href.replace(/\/+$/, '');
    this.project = options.project;
    this.#token = options.token;
    this.#timeoutMs = options.timeoutMs;
    this.#fetch = options.fetch ?? globalThis.fetch;
  }

  /** The same server, as the given project. */
  withCredentials(project: string, token: string): KuueriTasksClient {
    return new KuueriTasksClient({ url: this.url, project, token, timeoutMs: this.#timeoutMs, fetch: this.#fetch });
  }

  /** Creates a project; its token is shown this once. Needs no credentials. */
  async register(email: string): Promise<RegisterAnswer> {
    return (await this.#call('register', { body: { email } })).body;
  }

  /** The project's email, creation time, tasks in queue and their limit. */
  async info(): Promise<InfoAnswer> {
    return (await this.#call('info', {})).body;
  }

  /**
   * Makes a new signing secret for the project's deliveries, shown this once; the old one keeps
   * signing beside it until `previousValidUntil`, so receivers can switch without losing any.
   */
  async rotateSigningSecret(): Promise<RotateSigningSecretAnswer> {
    return (await this.#call('rotateSigningSecret', {})).body;
  }

  /** Queues a task. */
  async subscribe(task: SubscribeBody): Promise<QueuedTask> {
    return (await this.#call('subscribe', { body: task })).body;
  }

  /** Queues up to 1,000 tasks, each on its own: one result per item, in order. */
  async subscribeBatch(tasks: SubscribeBody[]): Promise<BatchResult[]> {
    return (await this.#call('subscribeBatch', { body: tasks })).body;
  }

  /** The task with its effective config, counters, tags and target. */
  async getTask(id: string): Promise<Task> {
    return (await this.#call('getTask', { params: { id } })).body;
  }

  /** A page of the task's timeline (by default the whole of it: a timeline is bounded). */
  async timeline(id: string, page: PageOptions = {}): Promise<TimelinePage> {
    const { body, headers } = await this.#call('timeline', { params: { id }, query: pageQuery(page) });
    return { entries: body, nextCursor: nextCursorOf(headers.get('link'), this.url) };
  }

  /** Every entry of the task's timeline, oldest first, page after page. */
  iterateTimeline(id: string, options: { pageSize?: number } = {}): AsyncGenerator<TimelineEntry, void, undefined> {
    return walk(async (cursor) => {
      const page = await this.timeline(id, { limit: options.pageSize, cursor });
      return { items: page.entries, nextCursor: page.nextCursor };
    });
  }

  /** A page of the task's attempt log, newest first (the log keeps the latest attempts). */
  async attempts(id: string, page: PageOptions = {}): Promise<AttemptPage> {
    const { body, headers } = await this.#call('attempts', { params: { id }, query: pageQuery(page) });
    return { attempts: body, nextCursor: nextCursorOf(headers.get('link'), this.url) };
  }

  /** Every attempt of the task's log, newest first, page after page. */
  iterateAttempts(id: string, options: { pageSize?: number } = {}): AsyncGenerator<Attempt, void, undefined> {
    return walk(async (cursor) => {
      const page = await this.attempts(id, { limit: options.pageSize, cursor });
      return { items: page.attempts, nextCursor: page.nextCursor };
    });
  }

  /** A page of the project's tasks, newest first; `nextCursor` is null on the last page. */
  async listTasks(options: TaskFilter & PageOptions = {}): Promise<ListTasksAnswer> {
    return (await this.#call('listTasks', { query: { ...filterQuery(options), ...pageQuery(options) } })).body;
  }

  /**
   * Every task that matches, newest first, following the cursor page after page. A filter the
   * server's indexes do not cover may give pages with few tasks, or none: the iterator goes on
   * until the last page.
   */
  iterateTasks(filter: TaskFilter & { pageSize?: number } = {}): AsyncGenerator<Task, void, undefined> {
    return walk(async (cursor) => {
      const page = await this.listTasks({ ...filter, limit: filter.pageSize, cursor });
      return { items: page.tasks, nextCursor: page.nextCursor };
    });
  }

  /** Pauses a RUNNING task, keeping the time left. */
  async pause(id: string): Promise<PauseAnswer> {
    return (await this.#call('pause', { params: { id } })).body;
  }

  /** Resumes a PAUSED task with the time it had left. */
  async resume(id: string): Promise<QueuedTask> {
    return (await this.#call('resume', { params: { id } })).body;
  }

  /** Runs a RUNNING or PAUSED task's next execution now. */
  async execute(id: string): Promise<QueuedTask> {
    return (await this.#call('execute', { params: { id } })).body;
  }

  /** Moves a task's next execution: `{executionDelay}` from now, or `{executionAt}` (epoch ms). */
  async reschedule(id: string, when: RescheduleBody): Promise<QueuedTask> {
    return (await this.#call('reschedule', { params: { id }, body: when })).body;
  }

  /** Runs a task that ended ERROR or EXCEEDED again, as a new task with a fresh retry budget; answers the new task. */
  async replay(id: string): Promise<ReplayAnswer> {
    return (await this.#call('replay', { params: { id } })).body;
  }

  /** Cancels a RUNNING or PAUSED task. */
  async unsubscribe(id: string): Promise<UnsubscribeAnswer> {
    return (await this.#call('unsubscribe', { params: { id } })).body;
  }

  /** Deletes a task that is not RUNNING, with its timeline. */
  async deleteTask(id: string): Promise<DeleteTaskAnswer> {
    return (await this.#call('deleteTask', { params: { id } })).body;
  }

  /** Creates a schedule: a task of its request at every instant of its cron expression, in its time zone. */
  async createSchedule(schedule: CreateScheduleBody): Promise<Schedule> {
    return (await this.#call('createSchedule', { body: schedule })).body;
  }

  /** A page of the project's schedules, newest first; `nextCursor` is null on the last page. */
  async listSchedules(page: PageOptions = {}): Promise<ListSchedulesAnswer> {
    return (await this.#call('listSchedules', { query: pageQuery(page) })).body;
  }

  async getSchedule(id: string): Promise<Schedule> {
    return (await this.#call('getSchedule', { params: { id } })).body;
  }

  /** Pauses an ACTIVE schedule: no run is made until it is resumed. */
  async pauseSchedule(id: string): Promise<Schedule> {
    return (await this.#call('pauseSchedule', { params: { id } })).body;
  }

  /** Resumes a PAUSED schedule from its next instant. */
  async resumeSchedule(id: string): Promise<Schedule> {
    return (await this.#call('resumeSchedule', { params: { id } })).body;
  }

  /** Deletes a schedule; the tasks its runs made stay. */
  async deleteSchedule(id: string): Promise<DeleteScheduleAnswer> {
    return (await this.#call('deleteSchedule', { params: { id } })).body;
  }

  /** Pauses, resumes, unsubscribes, deletes or replays many tasks, by id or by filter; counts each outcome. */
  async bulk(request: BulkBody): Promise<BulkAnswer> {
    return (await this.#call('bulk', { body: request })).body;
  }

  /** Sets a flow key's limits (rate, parallelism, strict order); tasks subscribed with the key start only as they allow. */
  async putFlow(key: string, limits: FlowLimits): Promise<Flow> {
    return (await this.#call('putFlow', { params: { key }, body: limits })).body;
  }

  /** A flow key's limits, tasks in flight and tasks waiting. */
  async getFlow(key: string): Promise<Flow> {
    return (await this.#call('getFlow', { params: { key } })).body;
  }

  /** The project's flow keys with limits, by key. */
  async listFlows(): Promise<Flow[]> {
    return (await this.#call('listFlows', {})).body.flows;
  }

  /** Removes a flow key's limits: its tasks flow freely. */
  async deleteFlow(key: string): Promise<DeleteFlowAnswer> {
    return (await this.#call('deleteFlow', { params: { key } })).body;
  }

  /** Pauses a whole flow key: none of its tasks start until it is resumed. */
  async pauseFlow(key: string): Promise<Flow> {
    return (await this.#call('pauseFlow', { params: { key } })).body;
  }

  /** Resumes a paused flow key. */
  async resumeFlow(key: string): Promise<Flow> {
    return (await this.#call('resumeFlow', { params: { key } })).body;
  }

  /** Deliveries and failures per minute over the last hour. */
  async activity(): Promise<ActivityAnswer> {
    return (await this.#call('activity', {})).body;
  }

  /** The project's breaker policy (null: breakers off) and its circuits that are not closed and clean. */
  async breakers(): Promise<BreakersAnswer> {
    return (await this.#call('breakers', {})).body;
  }

  /** The project's breaker policy; throws BREAKERS_OFF when breakers are off. */
  async breakerPolicy(): Promise<BreakerPolicyAnswer> {
    return (await this.#call('breakerPolicy', {})).body;
  }

  /** Turns circuit breakers on for the project's target hosts, or changes their policy. */
  async setBreakerPolicy(policy: SetBreakerPolicyBody): Promise<BreakerPolicyAnswer> {
    return (await this.#call('setBreakerPolicy', { body: policy })).body;
  }

  /** Turns circuit breakers off and forgets the project's circuits. */
  async deleteBreakerPolicy(): Promise<DeleteBreakerPolicyAnswer> {
    return (await this.#call('deleteBreakerPolicy', {})).body;
  }

  /** One circuit, by its key or (kind host) the host's name; throws CIRCUIT_NOT_FOUND when it holds no record. */
  async circuit(kind: CircuitParams['kind'], key: string): Promise<CircuitAnswer> {
    return (await this.#call('circuit', { params: { kind, key } })).body;
  }

  /** Resets one circuit: closed, its failures forgotten. */
  async resetCircuit(kind: CircuitParams['kind'], key: string): Promise<ResetCircuitAnswer> {
    return (await this.#call('resetCircuit', { params: { kind, key } })).body;
  }

  /** What the project's inbox received, and the URL a task can target to reach it. */
  async inbox(): Promise<InboxAnswer> {
    return (await this.#call('inbox', {})).body;
  }

  /** Empties the project's inbox. */
  async clearInbox(): Promise<ClearInboxAnswer> {
    return (await this.#call('clearInbox', {})).body;
  }

  /** The server's health and its store's. Needs no credentials. */
  async health(): Promise<HealthAnswer> {
    return (await this.#call('health', {})).body;
  }

  /** The server's name, version and links. Needs no credentials. */
  async serviceIndex(): Promise<ServiceIndexAnswer> {
    return (await this.#call('serviceIndex', {})).body;
  }

  /** The API's OpenAPI 3.1 document. Needs no credentials. */
  async openApi(): Promise<OpenApiAnswer> {
    return (await this.#call('openApi', {})).body;
  }

  async #call<K extends OperationId>(id: K, input: CallInput<K>): Promise<{ body: Operations[K]['answer']; headers: Headers }> {
    const operation = OPERATIONS[id];
    const params = (input.params ?? {}) as Record<string, string>;
    const path = operation.path.replace(/\{(\w+)\}/g, (_whole, name: string) => {
      const value = params[name];
      // An empty id would name another route (`/v1beta/queues/` is the listing).
      if (typeof value !== 'string' || value === '') throw new TypeError(`${id}: ${name} must be a non-empty string`);
      return encodeURIComponent(value);
    });
    const query = new URLSearchParams();
    for (const [name, value] of Object.entries((input.query ?? {}) as Record<string, string | undefined>)) {
      if (value !== undefined) query.set(name, value);
    }
    const headers: Record<string, string> = { accept: 'application/json' };
    if (operation.auth) {
      if (this.#token !== undefined) headers.authorization = `Bearer ${this.#token}`;
      if (this.project !== undefined) headers[PROJECT_HEADER] = this.project;
    }
    let body: string | undefined;
    if (input.body !== undefined) {
      body = JSON.stringify(input.body);
      headers['content-type'] = 'application/json';
    }
    const search = query.size > 0 ? `?${query.toString()}` : '';
    const signal = this.#timeoutMs === undefined ? undefined : AbortSignal.timeout(this.#timeoutMs);
    const response = await this.#fetch(`${this.url}${path}${search}`, { method: operation.method, headers, body, signal });
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (!response.ok) throw KuueriTasksError.fromAnswer(response.status, parsed);
    if (parsed === undefined) {
      throw new KuueriTasksError(response.status, UNEXPECTED_ANSWER, `The server answered ${response.status} without a JSON body`);
    }
    return { body: parsed as Operations[K]['answer'], headers: response.headers };
  }
}

/** Every item of every page, the first page read at the first `next()`; each further page from the cursor of the one before. */
async function* walk<T>(
  read: (cursor: string | undefined) => Promise<{ items: T[]; nextCursor: string | null }>,
): AsyncGenerator<T, void, undefined> {
  let cursor: string | undefined;
  do {
    const page = await read(cursor);
    yield* page.items;
    cursor = page.nextCursor ?? undefined;
  } while (cursor !== undefined);
}

function pageQuery(page: PageOptions): { limit?: string; cursor?: string } {
  return { limit: page.limit === undefined ? undefined : String(page.limit), cursor: page.cursor };
}

const epochMs = (time: number | Date | undefined): string | undefined => (time === undefined ? undefined : String(Number(time)));

function filterQuery(filter: TaskFilter): ListTasksQuery {
  const state = filter.state === undefined ? undefined : typeof filter.state === 'string' ? filter.state : filter.state.join(',');
  return {
    state,
    tag: filter.tag,
    host: filter.host,
    schedule: filter.schedule,
    flow: filter.flow,
    createdFrom: epochMs(filter.createdFrom),
    createdTo: epochMs(filter.createdTo),
    nextFrom: epochMs(filter.nextFrom),
    nextTo: epochMs(filter.nextTo),
  };
}

/** The cursor of the `rel="next"` link of a Link header (RFC 8288), or null when there is none. */
export function nextCursorOf(link: string | null, base: string): string | null {
  if (link === null) return null;
  for (const match of link.matchAll(/<([^>]*)>\s*((?:;\s*[^;,]+)*)/g)) {
    const relations = /;\s*rel\s*=\s*"?([^";]+)"?/i.exec(match[2] ?? '');
    if (relations?.[1]?.split(/\s+/).includes('next')) return new URL(match[1]!, base).searchParams.get('cursor');
  }
  return null;
}
