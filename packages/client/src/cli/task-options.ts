/*
 * The subscribe command's flags turned into the API's body, and the parsing of the values flags
 * take (times, durations, whole numbers). The server judges what it accepts; these only refuse
 * what cannot be sent at all, as usage errors.
 */
import type { SubscribeBody } from '../api-types.js';
import { UsageError } from './usage-error.js';

/** The options of `subscribe`, for node:util parseArgs. */
export const TASK_OPTIONS = {
  method: { type: 'string', short: 'X' },
  data: { type: 'string', short: 'd' },
  'data-base64': { type: 'string' },
  'data-file': { type: 'string' },
  header: { type: 'string', short: 'H', multiple: true },
  param: { type: 'string', multiple: true },
  delay: { type: 'string' },
  at: { type: 'string' },
  retry: { type: 'string' },
  'retry-interval': { type: 'string' },
  'retry-at': { type: 'string' },
  'retry-fixed': { type: 'boolean' },
  repeat: { type: 'string' },
  'repeat-interval': { type: 'string' },
  'repeat-at': { type: 'string' },
  'repeat-fixed': { type: 'boolean' },
  timeout: { type: 'string' },
  tag: { type: 'string', multiple: true },
} as const;

export type TaskFlags = {
  [K in keyof typeof TASK_OPTIONS]?: (typeof TASK_OPTIONS)[K] extends { type: 'boolean' }
    ? boolean
    : (typeof TASK_OPTIONS)[K] extends { multiple: true }
      ? string[]
      : string;
};

const METHODS = ['POST', 'PATCH', 'PUT', 'DELETE', 'GET'] as const;

/** A time flag: epoch milliseconds, or an ISO 8601 date and time (`2026-01-31T09:00:00Z`). */
export function parseTime(flag: string, value: string): number {
  if (/^\d+$/.test(value)) return Number(value);
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw new UsageError(`--${flag}: ${JSON.stringify(value)} is neither epoch milliseconds nor an ISO 8601 time`);
  return ms;
}

/** A duration flag: milliseconds (`1500`) or a duration string the server reads (`10s`, `5m`, `1h`). */
export function parseDuration(value: string): number | string {
  return /^\d+$/.test(value) ? Number(value) : value;
}

/** A whole-number flag. */
export function parseCount(flag: string, value: string): number {
  if (!/^\d+$/.test(value)) throw new UsageError(`--${flag}: ${JSON.stringify(value)} is not a whole number`);
  return Number(value);
}

/** The subscribe body for `url` from the flags; `readFile` reads --data-file (`-` for stdin). */
export function subscribeBody(url: string, flags: TaskFlags, readFile: (path: string) => Uint8Array): SubscribeBody {
  const method = (flags.method ?? 'POST').toUpperCase();
  if (!(METHODS as readonly string[]).includes(method)) throw new UsageError(`--method must be one of ${METHODS.join(', ')}`);
  const bodies = [flags.data, flags['data-base64'], flags['data-file']].filter((given) => given !== undefined);
  if (bodies.length > 1) throw new UsageError('give one of --data, --data-base64 and --data-file');
  let data: string | undefined;
  if (flags.data !== undefined) data = Buffer.from(flags.data, 'utf8').toString('base64');
  else if (flags['data-base64'] !== undefined) data = flags['data-base64'];
  else if (flags['data-file'] !== undefined) data = Buffer.from(readFile(flags['data-file'])).toString('base64');

  const config: NonNullable<SubscribeBody['config']> = {};
  if (flags.delay !== undefined) config.executionDelay = parseDuration(flags.delay);
  if (flags.at !== undefined) config.executionAt = parseTime('at', flags.at);
  if (flags.retry !== undefined) config.retry = parseCount('retry', flags.retry);
  if (flags['retry-interval'] !== undefined) config.retryInterval = parseDuration(flags['retry-interval']);
  if (flags['retry-at'] !== undefined) config.retryAt = parseTime('retry-at', flags['retry-at']);
  if (flags['retry-fixed']) config.retryExponential = false;
  if (flags.repeat !== undefined) config.repeat = parseCount('repeat', flags.repeat);
  if (flags['repeat-interval'] !== undefined) config.repeatInterval = parseDuration(flags['repeat-interval']);
  if (flags['repeat-at'] !== undefined) config.repeatAt = parseTime('repeat-at', flags['repeat-at']);
  if (flags['repeat-fixed']) config.repeatExponential = false;
  if (flags.timeout !== undefined) config.timeout = parseDuration(flags.timeout);

  return {
    httpRequest: {
      url,
      method: method as SubscribeBody['httpRequest']['method'],
      ...(data !== undefined ? { data } : {}),
      ...(flags.param ? { params: pairs(flags.param, '=', 'param', 'name=value') } : {}),
      ...(flags.header ? { headers: pairs(flags.header, ':', 'header', 'Name: value') } : {}),
    },
    ...(Object.keys(config).length > 0 ? { config } : {}),
    ...(flags.tag ? { tags: flags.tag } : {}),
  };
}

/** `name<separator>value` flags as an object; the value is trimmed of the spaces after the separator. */
function pairs(values: readonly string[], separator: string, flag: string, shape: string): Record<string, string> {
  const result: Record<string, string> = {};
  for (const value of values) {
    const at = value.indexOf(separator);
    if (at <= 0) throw new UsageError(`--${flag} takes ${shape}: ${JSON.stringify(value)}`);
    result[value.slice(0, at).trim()] = value.slice(at + 1).trimStart();
  }
  return result;
}

/** Whether any flag that describes the task was given (they cannot be mixed with --file). */
export function anyTaskFlag(flags: TaskFlags): boolean {
  return Object.keys(TASK_OPTIONS).some((name) => flags[name as keyof TaskFlags] !== undefined);
}
