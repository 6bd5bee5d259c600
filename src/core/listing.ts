/*
 * The query of a listing (`GET /v1beta/queues`) and of a bulk action's filter, checked, as the
 * store's TaskQuery; and the listing's opaque cursor. A listing pages newest first on the id, which
 * sorts by creation time (ids.ts): the creation range is a range of ids, and the cursor is the id
 * the next page starts below.
 */
import { type FieldIssue, validationError } from './errors.js';
import { ID_PATTERN, idFloor, isId } from './ids.js';
import { FLOW_KEY_PATTERN, TAG_PATTERN } from './limits.js';
import { TASK_STATES, type TaskState } from './task.js';
import { pageLimitOf } from './timeline.js';

export const LISTING = {
  /** Tasks a page holds by default. */
  pageDefault: 100,
  /** Tasks a page holds at most. */
  pageMax: 1000,
} as const;

/** The query parameters of a listing, as received (every one a string). */
export interface ListingParams {
  state?: string;
  tag?: string;
  host?: string;
  schedule?: string;
  flow?: string;
  createdFrom?: string;
  createdTo?: string;
  nextFrom?: string;
  nextTo?: string;
  limit?: string;
  cursor?: string;
}

/** A listing as asked: the store's query but for the host, which the caller turns into its digest. */
export interface ListingQuery {
  states?: TaskState[];
  tag?: string;
  /** The host name, normalised (lower case, as a URL's hostname). */
  host?: string;
  /** The schedule whose runs are asked for. */
  scheduleId?: string;
  flowKey?: string;
  below?: string;
  atLeast?: string;
  nextFrom?: number;
  nextTo?: number;
  limit: number;
}

export function encodeListCursor(id: string): string {
  return Buffer.from(`i${id}`).toString('base64url');
}

/** The id a cursor stands for, or null when it is not one this server made. */
export function decodeListCursor(cursor: string): string | null {
  if (!/^[A-Za-z0-9_-]{1,40}$/.test(cursor)) return null;
  const text = Buffer.from(cursor, 'base64url').toString('latin1');
  return text.startsWith('i') && ID_PATTERN.test(text.slice(1)) ? text.slice(1) : null;
}

const TAG = new RegExp(TAG_PATTERN);
const FLOW_KEY = new RegExp(FLOW_KEY_PATTERN);
const STATES = new Set<string>(TASK_STATES);

/** A host name as a URL's hostname has it (lower case, IDN as punycode, IPv6 in brackets), or null. */
export function normaliseHost(host: string): string | null {
  if (host === '' || host.length > 255 || /[/?#@\s]/.test(host)) return null;
  // A port is no part of a host (a URL would drop its scheme's default one silently); IPv6 comes bracketed.
  if (host.includes(':') && !(host.startsWith('[') && host.endsWith(']'))) return null;
  try {
    const url = new URL(`http://${host}`);
    return url.port === '' ? url.hostname : null;
  } catch {
    return null;
  }
}

/** The filter fields shared by a listing and a bulk action, checked into `into`; issues named under `prefix`. */
export function checkFilter(
  filter: { states?: readonly string[]; tag?: string; host?: string; schedule?: string; flow?: string },
  prefix: string,
  stateField: string,
  issues: FieldIssue[],
): Pick<ListingQuery, 'states' | 'tag' | 'host' | 'scheduleId' | 'flowKey'> {
  const out: Pick<ListingQuery, 'states' | 'tag' | 'host' | 'scheduleId' | 'flowKey'> = {};
  if (filter.states !== undefined) {
    const bad = filter.states.filter((s) => !STATES.has(s));
    if (bad.length > 0 || filter.states.length === 0) {
      issues.push({ field: `${prefix}${stateField}`, message: `must be states among ${TASK_STATES.join(', ')}` });
    } else out.states = [...new Set(filter.states)] as TaskState[];
  }
  if (filter.tag !== undefined) {
    if (TAG.test(filter.tag)) out.tag = filter.tag;
    else issues.push({ field: `${prefix}tag`, message: 'a tag is 1-40 characters: a letter or digit, then letters, digits, ., _, : or -' });
  }
  if (filter.host !== undefined) {
    const host = normaliseHost(filter.host);
    if (host !== null) out.host = host;
    else issues.push({ field: `${prefix}host`, message: 'must be a host name or IP address (no scheme, port or path)' });
  }
  if (filter.schedule !== undefined) {
    if (isId(filter.schedule)) out.scheduleId = filter.schedule;
    else issues.push({ field: `${prefix}schedule`, message: 'must be a schedule id (26 characters, as its creation answered)' });
  }
  if (filter.flow !== undefined) {
    if (FLOW_KEY.test(filter.flow)) out.flowKey = filter.flow;
    else
      issues.push({
        field: `${prefix}flow`,
        message: 'a flow key is 1-64 characters: a letter or digit, then letters, digits, ., _, : or -',
      });
  }
  return out;
}

/** The listing's query parameters, checked; every problem at once as VALIDATION_FAILED. */
export function listingQuery(params: ListingParams): ListingQuery {
  const issues: FieldIssue[] = [];
  const filter = checkFilter(
    {
      ...(params.state === undefined ? {} : { states: params.state.split(',') }),
      tag: params.tag,
      host: params.host,
      schedule: params.schedule,
      flow: params.flow,
    },
    'querystring.',
    'state',
    issues,
  );
  const time = (name: keyof ListingParams): number | undefined => {
    const value = params[name];
    if (value === undefined) return undefined;
    if (/^[0-9]{1,16}$/.test(value)) return Number(value);
    issues.push({ field: `querystring.${name}`, message: 'must be an integer of epoch milliseconds' });
    return undefined;
  };
  const createdFrom = time('createdFrom');
  const createdTo = time('createdTo');
  const nextFrom = time('nextFrom');
  const nextTo = time('nextTo');
  const limit = pageLimitOf(params.limit, LISTING.pageDefault, LISTING.pageMax, issues);
  const cursor = params.cursor === undefined ? undefined : decodeListCursor(params.cursor);
  if (cursor === null)
    issues.push({ field: 'querystring.cursor', message: 'must be a cursor as a previous page gave it (its nextCursor)' });
  if (issues.length > 0) throw validationError(issues);

  const query: ListingQuery = { ...filter, limit };
  const bounds = [cursor ?? undefined, createdTo === undefined ? undefined : idFloor(createdTo)].filter((b) => b !== undefined);
  if (bounds.length > 0) query.below = bounds.sort()[0];
  if (createdFrom !== undefined) query.atLeast = idFloor(createdFrom);
  if (nextFrom !== undefined) query.nextFrom = nextFrom;
  if (nextTo !== undefined) query.nextTo = nextTo;
  return query;
}
