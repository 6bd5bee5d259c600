/*
 * The CLI's commands: each names its arguments and options, its help, whether it needs the
 * project's credentials, and what it does with the client. Human output by default; `--json`
 * prints the API's JSON as it came (for `--all`, the pages joined in the API's shape).
 */
import type { ParseArgsConfig } from 'node:util';
import type { SubscribeBody } from '../api-types.js';
import type { KuueriTasksClient, Task, TaskState, TimelineEntry } from '../client.js';
import { type Settings, saveConfigFile } from './config.js';
import { batchTable, fields, queuedLine, taskBlock, taskTable, time, timelineTable } from './output.js';
import { TASK_OPTIONS, anyTaskFlag, parseCount, parseDuration, parseTime, subscribeBody } from './task-options.js';
import { UsageError } from './usage-error.js';

export type Values = Record<string, string | boolean | string[] | undefined>;

/** What a command runs with. */
export interface Context {
  client: KuueriTasksClient;
  settings: Settings;
  json: boolean;
  /** Writes a line (or lines) to stdout. */
  print: (text: string) => void;
  /** Reads a file's bytes; `-` is stdin. */
  readFile: (path: string) => Uint8Array;
}

export interface Command {
  name: string;
  /** Its arguments, as the help shows them: `get <id>`. */
  usage: string;
  summary: string;
  /** Help on its options, a line each. */
  details?: string;
  options: NonNullable<ParseArgsConfig['options']>;
  /** How many positional arguments it takes: [at least, at most]. */
  positionals: readonly [number, number];
  /** Whether it needs the project and token. */
  credentials: boolean;
  /** Runs it; answers the exit status (0 unless said). */
  run(context: Context, values: Values, positionals: string[]): Promise<number | void>;
}

const STATES: readonly TaskState[] = ['RUNNING', 'PAUSED', 'CANCELED', 'COMPLETED', 'ERROR', 'EXCEEDED'];

const text = (values: Values, name: string): string | undefined => {
  const value = values[name];
  return typeof value === 'string' ? value : undefined;
};

const printJson = (context: Context, value: unknown): void => context.print(JSON.stringify(value, null, 2));

/** A command on one task, and the line it prints of the answer. */
function taskAction<T>(
  name: string,
  summary: string,
  act: (client: KuueriTasksClient, id: string) => Promise<T>,
  done: (id: string, answer: T) => string,
): Command {
  return {
    name,
    usage: `${name} <id>`,
    summary,
    options: {},
    positionals: [1, 1],
    credentials: true,
    async run(context, _values, [id]) {
      const answer = await act(context.client, id!);
      if (context.json) printJson(context, answer);
      else context.print(done(id!, answer));
    },
  };
}

const register: Command = {
  name: 'register',
  usage: 'register <email> [--save]',
  summary: 'Create a project; prints its id, token and signing secret (both shown this once)',
  details: [
    '--save          write the server URL, project and token to the config file (mode 0600)',
    '                instead of only printing them',
  ].join('\n'),
  options: { save: { type: 'boolean' } },
  positionals: [1, 1],
  credentials: false,
  async run(context, values, [email]) {
    const project = await context.client.register(email!);
    const save = values.save === true;
    if (save) saveConfigFile(context.settings.configPath, { url: context.settings.url, project: project.id, token: project.token });
    if (context.json) return printJson(context, project);
    context.print(
      fields([
        ['project', project.id],
        ['token', project.token],
        ['signing secret', project.signingSecret],
      ]),
    );
    context.print(
      save
        ? `saved to ${context.settings.configPath}; the signing secret is for your receivers: keep it, it is shown this once.`
        : 'The token and the signing secret are shown this once: keep them (register --save writes the token to the config file).',
    );
  },
};

const info: Command = {
  name: 'info',
  usage: 'info',
  summary: "The project's email, tasks in queue and their limit",
  options: {},
  positionals: [0, 0],
  credentials: true,
  async run(context) {
    const answer = await context.client.info();
    if (context.json) return printJson(context, answer);
    context.print(
      fields([
        ['email', answer.email],
        ['created', time(answer.createdAt)],
        ['tasks in queue', `${answer.taskInQueue} of ${answer.taskInQueueLimit}`],
        ['as', answer.as],
      ]),
    );
  },
};

const subscribe: Command = {
  name: 'subscribe',
  usage: 'subscribe <url> [options]   |   subscribe --file <path|->',
  summary: 'Queue a task: an HTTP request to send later',
  details: [
    '-X, --method M        POST (default), PATCH, PUT, DELETE or GET',
    '-d, --data TEXT       the body, as text',
    '    --data-base64 B   the body, base64',
    '    --data-file PATH  the body, read from a file (- for stdin)',
    '-H, --header "N: V"   a header to send (repeat for more)',
    '    --param N=V       a query parameter to append (repeat for more)',
    '    --delay D         first execution after D: milliseconds or 500ms, 10s, 5m, 1h, 2d',
    '    --at T            first execution at T: ISO 8601 (2026-01-31T09:00:00Z) or epoch ms',
    '    --retry N         retries after a failure, per run',
    '    --retry-interval D, --retry-at T, --retry-fixed (every retry waits the interval)',
    '    --repeat N        repeats after a success',
    '    --repeat-interval D, --repeat-at T, --repeat-fixed (every repeat waits the interval)',
    '    --timeout D       per attempt',
    '    --tag TAG         a tag (repeat for more)',
    "    --file PATH       the API's subscribe body as JSON (- for stdin); an array is a batch",
    '                      of up to 1,000 tasks: exits 1 when any item was refused',
  ].join('\n'),
  options: { ...TASK_OPTIONS, file: { type: 'string' } },
  positionals: [0, 1],
  credentials: true,
  async run(context, values, [url]) {
    const file = text(values, 'file');
    if (file !== undefined) {
      if (url !== undefined || anyTaskFlag(values))
        throw new UsageError('--file takes the whole task: give no URL or task options with it');
      return subscribeFile(context, file);
    }
    if (url === undefined) throw new UsageError('give the URL to send the request to, or --file');
    const task = await context.client.subscribe(subscribeBody(url, values, context.readFile));
    if (context.json) return printJson(context, task);
    context.print(queuedLine(task));
  },
};

async function subscribeFile(context: Context, file: string): Promise<number> {
  const bytes = context.readFile(file);
  let body: unknown;
  try {
    body = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    throw new UsageError(`--file ${file} does not hold JSON`);
  }
  if (Array.isArray(body)) {
    // The server judges each item; the CLI passes the file on as it is.
    const items: unknown[] = body;
    const results = await context.client.subscribeBatch(items as SubscribeBody[]);
    if (context.json) printJson(context, results);
    else context.print(batchTable(results));
    return results.every((result) => result.task !== undefined) ? 0 : 1;
  }
  const task = await context.client.subscribe(body as SubscribeBody);
  if (context.json) printJson(context, task);
  else context.print(queuedLine(task));
  return 0;
}

const get: Command = {
  name: 'get',
  usage: 'get <id>',
  summary: 'A task: its state, target, counters and next execution',
  options: {},
  positionals: [1, 1],
  credentials: true,
  async run(context, _values, [id]) {
    const task = await context.client.getTask(id!);
    if (context.json) return printJson(context, task);
    context.print(taskBlock(task));
  },
};

const PAGE_OPTIONS = { limit: { type: 'string' }, cursor: { type: 'string' }, all: { type: 'boolean' } } as const;

function pageOf(values: Values): { limit?: number; cursor?: string; all: boolean } {
  const limit = text(values, 'limit');
  const cursor = text(values, 'cursor');
  const all = values.all === true;
  if (all && cursor !== undefined) throw new UsageError('--all starts at the first page: give no --cursor with it');
  return { limit: limit === undefined ? undefined : parseCount('limit', limit), cursor, all };
}

const timeline: Command = {
  name: 'timeline',
  usage: 'timeline <id> [--limit N] [--cursor C | --all]',
  summary: 'What happened to a task, oldest first',
  details: [
    '--limit N    entries in the page (1-1000; by default the whole timeline)',
    '--cursor C   the page that starts at C (printed after a page that has more)',
    '--all        every page',
  ].join('\n'),
  options: PAGE_OPTIONS,
  positionals: [1, 1],
  credentials: true,
  async run(context, values, [id]) {
    const page = pageOf(values);
    let entries: TimelineEntry[];
    let nextCursor: string | null = null;
    if (page.all) {
      entries = [];
      for await (const entry of context.client.iterateTimeline(id!, { pageSize: page.limit })) entries.push(entry);
    } else {
      ({ entries, nextCursor } = await context.client.timeline(id!, page));
    }
    if (context.json) return printJson(context, entries);
    context.print(timelineTable(entries));
    if (nextCursor !== null) context.print(`more: kuueri-tasks timeline ${id!} --cursor ${nextCursor}`);
  },
};

const list: Command = {
  name: 'list',
  usage: 'list [filters] [--limit N] [--cursor C | --all]',
  summary: "The project's tasks, newest first",
  details: [
    '--state S           RUNNING, PAUSED, CANCELED, COMPLETED, ERROR or EXCEEDED; several',
    '                    comma-separated (or --state again): any of them',
    '--tag TAG           tasks with this tag',
    '--host HOST         tasks sent to this host name or IP address',
    '--schedule ID       the runs of this schedule',
    '--flow KEY          tasks with this flow key',
    '--created-from T    created at or after T (ISO 8601 or epoch ms); --created-to T: before',
    '--next-from T       next execution at or after T; --next-to T: before',
    '--limit N           tasks in the page (1-1000, default 100)',
    '--cursor C          the page that starts at C (printed after a page that has more)',
    '--all               every page',
  ].join('\n'),
  options: {
    state: { type: 'string', multiple: true },
    tag: { type: 'string' },
    host: { type: 'string' },
    schedule: { type: 'string' },
    flow: { type: 'string' },
    'created-from': { type: 'string' },
    'created-to': { type: 'string' },
    'next-from': { type: 'string' },
    'next-to': { type: 'string' },
    ...PAGE_OPTIONS,
  },
  positionals: [0, 0],
  credentials: true,
  async run(context, values) {
    const page = pageOf(values);
    const states = ((values.state as string[] | undefined) ?? []).flatMap((given) => given.split(',')).map((s) => s.trim().toUpperCase());
    const unknown = states.filter((state) => !(STATES as readonly string[]).includes(state));
    if (unknown.length > 0) throw new UsageError(`--state: ${unknown.join(', ')} is not a state (${STATES.join(', ')})`);
    const timeOf = (name: string): number | undefined => {
      const given = text(values, name);
      return given === undefined ? undefined : parseTime(name, given);
    };
    const filter = {
      state: states.length > 0 ? (states as TaskState[]) : undefined,
      tag: text(values, 'tag'),
      host: text(values, 'host'),
      schedule: text(values, 'schedule'),
      flow: text(values, 'flow'),
      createdFrom: timeOf('created-from'),
      createdTo: timeOf('created-to'),
      nextFrom: timeOf('next-from'),
      nextTo: timeOf('next-to'),
    };
    let tasks: Task[];
    let nextCursor: string | null = null;
    if (page.all) {
      tasks = [];
      for await (const task of context.client.iterateTasks({ ...filter, pageSize: page.limit })) tasks.push(task);
    } else {
      ({ tasks, nextCursor } = await context.client.listTasks({ ...filter, limit: page.limit, cursor: page.cursor }));
    }
    if (context.json) return printJson(context, { tasks, nextCursor });
    context.print(tasks.length === 0 ? 'no tasks' : taskTable(tasks));
    if (nextCursor !== null) context.print(`more: add --cursor ${nextCursor} (or list them all with --all)`);
  },
};

const pause = taskAction(
  'pause',
  'Pause a RUNNING task, keeping the time left',
  (client, id) => client.pause(id),
  (id) => `${id}  PAUSED`,
);

const resume = taskAction(
  'resume',
  'Resume a PAUSED task with the time it had left',
  (client, id) => client.resume(id),
  (_id, task) => queuedLine(task),
);

const execute = taskAction(
  'execute',
  "Run a RUNNING or PAUSED task's next execution now",
  (client, id) => client.execute(id),
  (_id, task) => queuedLine(task),
);

const reschedule: Command = {
  name: 'reschedule',
  usage: 'reschedule <id> (--delay D | --at T)',
  summary: "Move a task's next execution (a PAUSED task keeps it as its time left)",
  details: ['--delay D   D from now: milliseconds or 500ms, 10s, 5m, 1h, 2d', '--at T      at T: ISO 8601 or epoch ms'].join('\n'),
  options: { delay: { type: 'string' }, at: { type: 'string' } },
  positionals: [1, 1],
  credentials: true,
  async run(context, values, [id]) {
    const delay = text(values, 'delay');
    const at = text(values, 'at');
    if ((delay === undefined) === (at === undefined)) throw new UsageError('give one of --delay and --at');
    const when = delay !== undefined ? { executionDelay: parseDuration(delay) } : { executionAt: parseTime('at', at!) };
    const task = await context.client.reschedule(id!, when);
    if (context.json) return printJson(context, task);
    context.print(queuedLine(task));
  },
};

const cancel = taskAction(
  'cancel',
  'Cancel a RUNNING or PAUSED task (the API calls it unsubscribe)',
  (client, id) => client.unsubscribe(id),
  (id) => `${id}  CANCELED`,
);

const remove = taskAction(
  'delete',
  'Delete a task that is not RUNNING, with its timeline',
  (client, id) => client.deleteTask(id),
  (id) => `${id}  deleted`,
);

/** Every command, in the order the help lists them. */
export const COMMANDS: readonly Command[] = [
  register,
  info,
  subscribe,
  get,
  timeline,
  list,
  pause,
  resume,
  execute,
  reschedule,
  cancel,
  remove,
];
