/*
 * The seeded generator of the hostile-input suite (hostile-input.test.ts): a seeded random
 * source, a JSON writer that can say what JSON.stringify cannot (`-0`, `1e400`, `__proto__`
 * as an own key, escaped keys, duplicate keys), and the cases themselves, each with what the server
 * must answer. The same seed gives the same cases in the same order, so a failure names its seed and
 * case and reproduces.
 *
 * Expectations come from docs/api/ and docs/errors.md (an oracle written from the contract, not
 * from the implementation): a case either must be accepted, must be refused (with a status, a code
 * and the fields the message must name), or may be either when the contract leaves it open.
 */
import { STATUS_CODES } from 'node:http';
import { seededRandom } from '../helpers/seeded-random.js';

// ── PRNG ────────────────────────────────────────────────────────────────────────────────────────

export class Rng {
  private readonly next: () => number;

  constructor(readonly seed: number) {
    this.next = seededRandom(seed);
  }

  /** An integer in [0, max). */
  int(max: number): number {
    return Math.floor(this.next() * max);
  }

  /** An integer in [min, max]. */
  between(min: number, max: number): number {
    return min + this.int(max - min + 1);
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list');
    return items[this.int(items.length)]!;
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [items[i], items[j]] = [items[j]!, items[i]!];
    }
    return items;
  }

  /** The same letters in a random mix of upper and lower case. */
  mixCase(text: string): string {
    return [...text].map((c) => (this.chance(0.5) ? c.toUpperCase() : c.toLowerCase())).join('');
  }
}

// ── JSON that JSON.stringify cannot write ──────────────────────────────────────────────────────

/** JSON text written as it is: `-0`, `1e400`, an escaped key. */
export class Raw {
  constructor(readonly text: string) {}
}

/** An object as a list of entries: `__proto__` as an own key, duplicate keys, keys written raw. */
export class Obj {
  constructor(readonly entries: Array<[string | Raw, Json]>) {}
}

export type Json = null | boolean | number | string | Raw | Obj | Json[] | { [key: string]: Json };

export function toJson(value: Json): string {
  if (value instanceof Raw) return value.text;
  if (value instanceof Obj) {
    return `{${value.entries.map(([k, v]) => `${k instanceof Raw ? k.text : JSON.stringify(k)}:${toJson(v)}`).join(',')}}`;
  }
  if (Array.isArray(value)) return `[${value.map(toJson).join(',')}]`;
  if (value !== null && typeof value === 'object') return toJson(new Obj(Object.entries(value)));
  return JSON.stringify(value);
}

/** The value JSON.parse gives for `value` (Raw numbers included), for the oracle. */
function parsedOf(value: Json): unknown {
  if (value instanceof Raw) {
    try {
      return JSON.parse(value.text) as unknown;
    } catch {
      return undefined;
    }
  }
  return value;
}

// ── Cases and expectations ─────────────────────────────────────────────────────────────────────

export interface Refusal {
  status: number;
  /** `*`: any registered code whose status is `status`. */
  code: string;
  /** Substrings the message must contain (field names), each also in some `issues[].field`. */
  names?: string[];
}

export interface Expect {
  /** Success statuses the case may get; empty when it must be refused. */
  ok: number[];
  /** Refusals it may get; empty when it must succeed. */
  refuse: Refusal[];
}

/** A: the hostile project (every 201 there must stay RUNNING); B: tasks that may run at once; none: no credentials. */
export type Auth = 'A' | 'B' | 'none';

export interface HostileCase {
  /** Short, unique and stable for a seed: S0042, I0007, R0003… */
  id: string;
  title: string;
  method: string;
  /** Sent exactly as written (no normalisation of `..`, no re-encoding). */
  path: string;
  headers: Record<string, string>;
  body?: string | Buffer;
  /** Send the body with Transfer-Encoding: chunked (no Content-Length). */
  chunked?: boolean;
  auth: Auth;
  expect: Expect;
  /** A 201 here is a task that stays RUNNING in project A (checked against taskInQueue). */
  countsAsTask: boolean;
  /** A valid control request: it must succeed. */
  control?: boolean;
}

const VALIDATION = 'VALIDATION_FAILED';
const bad = (...names: string[]): Expect => ({ ok: [], refuse: [{ status: 400, code: VALIDATION, names }] });
const accepted = (): Expect => ({ ok: [201], refuse: [] });
const either = (...names: string[]): Expect => ({ ok: [201], refuse: [{ status: 400, code: VALIDATION, names }] });
const invalidJson = (): Expect => ({ ok: [], refuse: [{ status: 400, code: 'INVALID_JSON' }] });
const tooLarge = (): Expect => ({ ok: [], refuse: [{ status: 413, code: 'BODY_TOO_LARGE' }] });
const unsupported = (): Expect => ({ ok: [], refuse: [{ status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' }] });

export function describeExpect(expect: Expect): string {
  const parts = [
    ...expect.ok.map((s) => `${s} ${STATUS_CODES[s] ?? ''}`.trim()),
    ...expect.refuse.map(
      (r) => `${r.status} ${r.code}${r.names && r.names.length > 0 ? ` naming ${r.names.map((n) => JSON.stringify(n)).join(', ')}` : ''}`,
    ),
  ];
  return parts.join(' or ');
}

// ── The contract's limits (docs/api/subscribing.md) ────────────────────────────────────────────────────────

const DAY = 86_400_000;
const BODY_LIMIT = 131_072;
export const ONE_MB = 1 << 20;
const FORBIDDEN = [
  'Host',
  'Content-Length',
  'Transfer-Encoding',
  'Connection',
  'Keep-Alive',
  'Upgrade',
  'TE',
  'Trailer',
  'Proxy-Connection',
  'Expect',
  'HTTP2-Settings',
];
const RESERVED_PREFIX = 'x-kuueri-tasks-';
const METHODS = ['POST', 'PATCH', 'PUT', 'DELETE', 'GET'];

type Verdict = 'ok' | 'bad' | 'either';

type Kind =
  | { t: 'url' }
  | { t: 'method' }
  | { t: 'data' }
  | { t: 'map'; of: 'params' | 'headers' }
  | { t: 'duration'; min: number; max: number }
  | { t: 'int'; min: number; max: number }
  | { t: 'bool' }
  /** Epoch ms that must be after `after` (now, or the first execution an hour away). */
  | { t: 'epoch'; after: number };

/** "10s", "1.5s", "500ms", "2d", "1500": the duration strings of the contract. */
function durationMs(text: string): number | null {
  const match = /^(\d+)(?:\.(\d+))?(ms|s|m|h|d)?$/.exec(text);
  if (!match) return null;
  const unit = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: DAY }[match[3] ?? 'ms']!;
  const fraction = match[2] ?? '';
  const fractionMs = (Number(fraction || '0') * unit) / 10 ** fraction.length;
  if (!Number.isInteger(fractionMs)) return null;
  const ms = Number(match[1]) * unit + fractionMs;
  return Number.isSafeInteger(ms) ? ms : null;
}

function isBase64(text: string): Verdict {
  if (/^=+$/.test(text)) return 'either'; // padding alone: an empty body; the contract does not say
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(text)) return 'bad';
  return text.replace(/=+$/, '').length % 4 === 1 ? 'bad' : 'ok';
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Raw) && !(v instanceof Obj);
}

/** The contract's verdict on `value` in a field of this kind. */
function judge(kind: Kind, value: Json, now: number): Verdict {
  const v = parsedOf(value);
  switch (kind.t) {
    case 'url':
      return 'bad'; // the generic samples are never absolute http(s) URLs; real URLs carry their own verdict
    case 'method':
      return typeof v === 'string' && METHODS.includes(v) ? 'ok' : 'bad';
    case 'data':
      return typeof v === 'string' ? isBase64(v) : 'bad';
    case 'map': {
      if (!isPlainObject(v)) return 'bad';
      return Object.values(v).every((x) => typeof x === 'string') ? 'ok' : 'bad';
    }
    case 'duration': {
      if (typeof v === 'number') {
        if (!Number.isSafeInteger(v) || Object.is(v, -0)) return 'bad';
        return v >= kind.min && v <= kind.max ? 'ok' : 'bad';
      }
      if (typeof v !== 'string' || v.length > 32) return 'bad';
      const ms = durationMs(v);
      return ms !== null && ms >= kind.min && ms <= kind.max ? 'ok' : 'bad';
    }
    case 'int':
      if (typeof v !== 'number' || !Number.isInteger(v)) return 'bad';
      if (Object.is(v, -0)) return 'either'; // equal to 0
      return v >= kind.min && v <= kind.max ? 'ok' : 'bad';
    case 'bool':
      return typeof v === 'boolean' ? 'ok' : 'bad';
    case 'epoch': {
      // In the future (after the first execution for retryAt/repeatAt) and at most 365 days ahead;
      // a minute either side of a bound is left open (the server's clock moved on meanwhile).
      if (typeof v !== 'number' || !Number.isInteger(v)) return 'bad';
      if (v <= kind.after - 60_000 || v > now + 365 * DAY + 60_000) return 'bad';
      return v > kind.after + 60_000 && v < now + 365 * DAY - 60_000 ? 'ok' : 'either';
    }
  }
}

// ── Samples ────────────────────────────────────────────────────────────────────────────────────

interface Sample {
  label: string;
  value: Json;
}

const s = (label: string, value: Json): Sample => ({ label, value });

const TYPE_SAMPLES: Sample[] = [
  s('0', 0),
  s('1', 1),
  s('true', true),
  s('false', false),
  s('null', null),
  s('[]', []),
  s('[1,"a"]', [1, 'a']),
  s('{}', {}),
  s('{"a":1}', { a: 1 }),
  s('"x"', 'x'),
  s('[[[]]]', [[[]]]),
  s('{"a":{"b":"c"}}', { a: { b: 'c' } }),
];

const NUMBER_SAMPLES: Sample[] = [
  '1e308',
  '9007199254740992',
  '9007199254740993',
  '-1',
  '-0',
  '1.5',
  '1e400',
  '-1e400',
  '1E2',
  '0.0',
  '1.0',
  '100',
  '999',
  '1000',
  '10000',
  '10001',
  '16',
  '17',
  '600000',
  '600001',
  '2592000000',
  '2592000001',
  '31536000000',
  '31536000001',
  '8640000000000000',
  '8640000000000001',
  '-9007199254740992',
  '0.1',
  '1e-7',
  '4294967296',
].map((t) => s(`number ${t}`, new Raw(t)));

const STRING_SAMPLES: Sample[] = [
  'NaN',
  'Infinity',
  '-Infinity',
  '',
  ' ',
  '\t\n',
  '\u{1F4A9}',
  '\u0000',
  'a\u0000b',
  '\uD800',
  '\u202E',
  'null',
  'true',
  'false',
  '0x10',
  '1e3',
  '-1',
  '1.5',
  'undefined',
  '{}',
  '[]',
  '\r\n',
  '\u00A0',
  '\uFEFF',
  '１０s',
].map((t) => s(`string ${JSON.stringify(t)}`, t));

const GENERIC_SAMPLES: Sample[] = [...TYPE_SAMPLES, ...NUMBER_SAMPLES, ...STRING_SAMPLES];

const DURATION_STRINGS: Sample[] = [
  '10s',
  '1.5s',
  '500ms',
  '2m',
  '1h',
  '2d',
  '30d',
  '31d',
  '365d',
  '366d',
  '600000',
  '600001',
  '0.5s',
  '1.5ms',
  '1.001s',
  '10 s',
  ' 10s',
  '10s ',
  '10S',
  '10sec',
  '-10s',
  '+10s',
  '1.0001ms',
  'ms',
  's',
  '.5s',
  '5.s',
  '10s\u0000',
  '999999999999999d',
  '9'.repeat(33),
  '1000',
  '0',
  '00001000',
  '1_000',
].map((t) => s(`string ${JSON.stringify(t)}`, t));

/** Pieces of hostile strings for the random ones. */
const HOSTILE_PIECES = [
  '\u0000',
  '\r',
  '\n',
  '\r\n',
  '\t',
  ' ',
  '\u{1F4A9}',
  '\uD800',
  '\uDFFF',
  '\u202E',
  '\u200B',
  '\uFEFF',
  'é',
  'ÿ',
  '\u0085',
  '\u2028',
  '"',
  '\\',
  "'",
  '/',
  '..',
  '%',
  '%00',
  '${x}',
  '{{x}}',
  '<script>',
  'a',
  'Z',
  '0',
  '7',
  '-',
  '_',
  '=',
  '+',
  ':',
  ';',
  ',',
  '?',
  '#',
  '&',
  '*',
  '\u007F',
  '\u0001',
  '\u001B[31m',
];

function randomHostile(rng: Rng, pieces = HOSTILE_PIECES, min = 1, max = 10): string {
  let out = '';
  const n = rng.between(min, max);
  for (let i = 0; i < n; i++) out += rng.pick(pieces);
  return out;
}

// ── The subscribe body ─────────────────────────────────────────────────────────────────────────

export interface GenContext {
  /** A URL on the test's TargetServer (127.0.0.1). */
  target: (path: string) => string;
  now: number;
  /** Real tasks of another project, by state (RUNNING, PAUSED, CANCELED). */
  foreignIds?: Record<string, string>;
  /** A real task of project A. */
  ownId?: string;
  /** An email already registered (lower case). */
  takenEmail?: string;
}

type Body = Record<string, Json> & { httpRequest: Record<string, Json>; config: Record<string, Json> };

/** A valid body whose task runs in an hour at the earliest: accepted hostile cases never deliver during the test. */
export function validBody(ctx: GenContext, tag: string): Body {
  return {
    httpRequest: {
      url: ctx.target(`/hostile/${tag}`),
      method: 'POST',
      data: 'aGVsbG8=',
      params: { q: '1' },
      headers: { 'Content-Type': 'text/plain', 'X-Case': tag },
    },
    config: {
      executionDelay: '1h',
      retry: 1,
      retryInterval: '1s',
      retryExponential: true,
      repeatInterval: '1s',
      repeatExponential: false,
      timeout: '10s',
    },
  };
}

const JSON_HEADERS = { 'content-type': 'application/json' };

interface FieldSpec {
  path: string[];
  kind: Kind;
  /** Field-specific samples with their verdicts (generic samples are judged by the oracle). */
  specific: Array<Sample & { verdict: Verdict }>;
  /** Adjusts the rest of the body so only this field can be wrong. */
  prepare?: (body: Body, ctx: GenContext) => void;
}

function fieldSpecs(ctx: GenContext): FieldSpec[] {
  const t = ctx.target('/hostile/url');
  const port = new URL(t).port;
  const url = (label: string, value: string, verdict: Verdict): Sample & { verdict: Verdict } => ({ label, value, verdict });
  const judged = (kind: Kind, samples: Sample[]): Array<Sample & { verdict: Verdict }> =>
    samples.map((x) => ({ ...x, verdict: judge(kind, x.value, ctx.now) }));
  const durations = (min: number, max: number): Array<Sample & { verdict: Verdict }> =>
    judged({ t: 'duration', min, max }, DURATION_STRINGS);
  const execAt: Kind = { t: 'epoch', after: ctx.now };
  const laterAt: Kind = { t: 'epoch', after: ctx.now + 3_600_000 };
  const laterExec = (body: Body): void => {
    body.config.executionAt = ctx.now + 2 * 3_600_000;
  };
  return [
    {
      path: ['httpRequest', 'url'],
      kind: { t: 'url' },
      specific: [
        url('a valid URL', t, 'ok'),
        url('upper-case scheme', t.replace('http://', 'HTTP://'), 'either'),
        url('emoji path', `${t}/\u{1F4A9}`, 'either'),
        url('NUL in the path', `${t}/a\u0000b`, 'either'),
        url('CRLF header injection in the path', `${t}/a\r\nX-Injected: 1`, 'either'),
        url('spaces around', ` ${t} `, 'either'),
        url('lone surrogate in the path', `${t}/\uD800`, 'either'),
        url('2049 characters', `${t}/${'a'.repeat(2049 - t.length - 1)}`, 'bad'),
        url('2048 characters', `${t}/${'a'.repeat(2048 - t.length - 1)}`, 'ok'),
        url('ftp scheme', 'ftp://127.0.0.1/x', 'bad'),
        url('file scheme', 'file:///etc/passwd', 'bad'),
        url('javascript scheme', 'javascript:alert(1)', 'bad'),
        url('data scheme', 'data:text/plain,hi', 'bad'),
        url('scheme only', 'http://', 'bad'),
        url('scheme-relative', `//127.0.0.1:${port}/x`, 'bad'),
        url('path only', '/relative', 'bad'),
        url('host:port without scheme', `127.0.0.1:${port}`, 'bad'),
        url('user:pass@', `http://user:pass@127.0.0.1:${port}/x`, 'bad'),
        url('user@', `http://user@127.0.0.1:${port}/x`, 'bad'),
        url('port 99999', 'http://127.0.0.1:99999/x', 'bad'),
        url('NUL in the host', `http://127.0.0.1\u0000:${port}/x`, 'bad'),
        url('space in the host', `http://127.0 .0.1:${port}/x`, 'bad'),
        url('IPv6 loopback (not allowed)', `http://[::1]:${port}/x`, 'bad'),
        url('private address', 'http://10.0.0.1/x', 'bad'),
        url('cloud metadata', 'http://169.254.169.254/latest/meta-data', 'bad'),
        url('http:/ one slash, no host', 'http:/', 'bad'),
      ],
    },
    {
      path: ['httpRequest', 'method'],
      kind: { t: 'method' },
      specific: [
        ...METHODS.map((m) => url(m, m, 'ok')),
        ...['post', 'Post', ' POST', 'POST ', 'POST\u0000', 'CONNECT', 'TRACE', 'HEAD', 'OPTIONS', 'P0ST', 'POST\r\nX: y', 'GET\tPOST'].map(
          (m) => url(JSON.stringify(m), m, 'bad'),
        ),
      ],
    },
    {
      path: ['httpRequest', 'data'],
      kind: { t: 'data' },
      specific: judged({ t: 'data' }, [
        s('"aGVsbG8="', 'aGVsbG8='),
        s('URL-safe "-_-_"', '-_-_'),
        s('"A"', 'A'),
        s('"AAAAA"', 'AAAAA'),
        s('"===="', '===='),
        s('"aGVs bG8="', 'aGVs bG8='),
        s('trailing newline', 'aGVsbG8=\n'),
        s('"a\\u0000"', 'a\u0000'),
        s('"=" alone', '='),
        s('"A=B="', 'A=B='),
        s('100000 "A"s (under the body limit)', 'A'.repeat(100_000)),
      ]),
    },
    {
      path: ['httpRequest', 'params'],
      kind: { t: 'map', of: 'params' },
      specific: judged({ t: 'map', of: 'params' }, [
        s('{"a":"b"}', { a: 'b' }),
        s('{"a":null}', { a: null }),
        s('{"a":["b"]}', { a: ['b'] }),
      ]),
    },
    {
      path: ['httpRequest', 'headers'],
      kind: { t: 'map', of: 'headers' },
      specific: judged({ t: 'map', of: 'headers' }, [s('{"a":"b"}', { a: 'b' }), s('{"a":null}', { a: null }), s('{"a":1}', { a: 1 })]),
    },
    {
      path: ['config', 'executionDelay'],
      kind: { t: 'duration', min: 1, max: 365 * DAY },
      specific: durations(1, 365 * DAY),
      prepare: laterExec,
    },
    {
      path: ['config', 'executionAt'],
      kind: execAt,
      specific: judged(execAt, [s('now - 1 s', ctx.now - 1000), s('now + 366 days', ctx.now + 366 * DAY)]),
    },
    { path: ['config', 'retry'], kind: { t: 'int', min: 0, max: 10_000 }, specific: [] },
    { path: ['config', 'retryInterval'], kind: { t: 'duration', min: 1000, max: 30 * DAY }, specific: durations(1000, 30 * DAY) },
    { path: ['config', 'retryExponential'], kind: { t: 'bool' }, specific: [] },
    {
      path: ['config', 'retryAt'],
      kind: laterAt,
      specific: judged(laterAt, [s('now + 1 s (before the first execution)', ctx.now + 1000), s('now + 366 days', ctx.now + 366 * DAY)]),
      prepare: (body) => {
        delete body.config.retry;
      },
    },
    { path: ['config', 'repeat'], kind: { t: 'int', min: 0, max: 16 }, specific: [] },
    { path: ['config', 'repeatInterval'], kind: { t: 'duration', min: 1000, max: 30 * DAY }, specific: durations(1000, 30 * DAY) },
    { path: ['config', 'repeatExponential'], kind: { t: 'bool' }, specific: [] },
    {
      path: ['config', 'repeatAt'],
      kind: laterAt,
      specific: judged(laterAt, [s('now + 1 s (before the first execution)', ctx.now + 1000), s('now + 366 days', ctx.now + 366 * DAY)]),
    },
    { path: ['config', 'timeout'], kind: { t: 'duration', min: 1, max: 600_000 }, specific: durations(1, 600_000) },
  ];
}

function setPath(body: Body, path: string[], value: Json | undefined): void {
  let cursor: Record<string, Json> = body;
  for (const key of path.slice(0, -1)) cursor = cursor[key] as Record<string, Json>;
  const last = path[path.length - 1]!;
  if (value === undefined) delete cursor[last];
  else cursor[last] = value;
}

function expectFor(verdict: Verdict, field: string): Expect {
  return verdict === 'ok' ? accepted() : verdict === 'bad' ? bad(field) : either(field);
}

class CaseList {
  readonly cases: HostileCase[] = [];

  constructor(private readonly prefix: string) {}

  add(c: Omit<HostileCase, 'id'>): void {
    this.cases.push({ ...c, id: `${this.prefix}${String(this.cases.length).padStart(4, '0')}` });
  }
}

function subscribeCase(
  title: string,
  body: string | Buffer,
  expect: Expect,
  headers: Record<string, string> = JSON_HEADERS,
): Omit<HostileCase, 'id'> {
  return { title, method: 'POST', path: '/v1beta/subscribe', headers, body, auth: 'A', expect, countsAsTask: true };
}

/** Every field of POST /v1beta/subscribe, mutated; plus whole-body and framing-of-JSON cases. */
export function subscribeCases(rng: Rng, ctx: GenContext): HostileCase[] {
  const list = new CaseList('S');
  const specs = fieldSpecs(ctx);
  let n = 0;
  const tag = (): string => `s${n++}`;
  const mutated = (spec: FieldSpec, value: Json | undefined): string => {
    const body = validBody(ctx, tag());
    spec.prepare?.(body, ctx);
    setPath(body, spec.path, value);
    return toJson(body);
  };

  // 1. Every field × (generic hostile values judged by the oracle + field-specific values).
  for (const spec of specs) {
    const field = spec.path.join('.');
    // Every wrong type; a seeded half of the odd numbers and strings (the other half goes to other fields).
    const generic = [...TYPE_SAMPLES, ...rng.shuffle([...NUMBER_SAMPLES]).slice(0, 15), ...rng.shuffle([...STRING_SAMPLES]).slice(0, 13)];
    const samples = [...generic.map((x) => ({ ...x, verdict: judge(spec.kind, x.value, ctx.now) })), ...spec.specific];
    for (const sample of samples) {
      list.add(subscribeCase(`${field} ← ${sample.label}`, mutated(spec, sample.value), expectFor(sample.verdict, field)));
    }
    // Random hostile strings, judged by the oracle (URLs: as a path under the target, either way).
    for (let i = 0; i < 4; i++) {
      const text = randomHostile(rng);
      const value =
        spec.kind.t === 'url'
          ? `${ctx.target('/r')}/${text}`
          : spec.kind.t === 'duration' && rng.chance(0.5)
            ? `${rng.between(1, 999)}${text}`
            : text;
      const verdict = spec.kind.t === 'url' ? 'either' : judge(spec.kind, value, ctx.now);
      list.add(subscribeCase(`${field} ← random ${JSON.stringify(value)}`, mutated(spec, value), expectFor(verdict, field)));
    }
    // Left out: required fields are named; optional ones are fine.
    const required = field === 'httpRequest.url' || field === 'httpRequest.method';
    list.add(subscribeCase(`${field} left out`, mutated(spec, undefined), required ? bad(field) : accepted()));
    // 1 MB in the field: past the body limit whatever the field.
    list.add(subscribeCase(`${field} ← a 1 MB string`, mutated(spec, 'A'.repeat(ONE_MB)), tooLarge()));
  }

  // 2. httpRequest, config and the body itself replaced wholesale.
  for (const sample of TYPE_SAMPLES) {
    const hr = validBody(ctx, tag());
    list.add(subscribeCase(`httpRequest ← ${sample.label}`, toJson({ ...hr, httpRequest: sample.value }), bad('httpRequest')));
    const cfg = validBody(ctx, tag());
    const cfgOk = sample.label === '{}';
    // config {} runs the task at once (1 ms): project B, where tasks may finish during the test.
    list.add({
      ...subscribeCase(`config ← ${sample.label}`, toJson({ ...cfg, config: sample.value }), cfgOk ? accepted() : bad('config')),
      ...(cfgOk ? { auth: 'B' as const, countsAsTask: false } : {}),
    });
    list.add(
      subscribeCase(`the body ← ${sample.label}`, toJson(sample.value), sample.label.startsWith('{') ? bad('httpRequest') : bad('body')),
    );
  }
  list.add(subscribeCase('httpRequest left out', toJson({ config: validBody(ctx, tag()).config }), bad('httpRequest')));
  list.add({
    ...subscribeCase('config left out (defaults: runs in 1 ms)', toJson({ httpRequest: validBody(ctx, tag()).httpRequest }), accepted()),
    auth: 'B',
    countsAsTask: false,
  });

  // 3. Header names and values.
  const withHeaders = (headers: Json, extra?: (body: Body) => void): string => {
    const body = validBody(ctx, tag());
    body.httpRequest.headers = headers;
    extra?.(body);
    return toJson(body);
  };
  for (const name of FORBIDDEN) {
    for (const variant of [name, name.toLowerCase(), name.toUpperCase(), rng.mixCase(name)]) {
      list.add(
        subscribeCase(
          `forbidden header ${JSON.stringify(variant)}`,
          withHeaders({ [variant]: 'x' }),
          bad(`httpRequest.headers.${variant}`),
        ),
      );
    }
  }
  for (const name of [
    'X-Kuueri-Tasks-Queue',
    'X-Kuueri-Tasks-Retry-Count',
    'X-Kuueri-Tasks-Currently-Repeat',
    'X-Kuueri-Tasks-',
    'X-Kuueri-Tasks-Project',
    'X-Kuueri-Tasks-Anything',
  ]) {
    for (const variant of [name, rng.mixCase(name), name.toUpperCase()]) {
      list.add(
        subscribeCase(`reserved header ${JSON.stringify(variant)}`, withHeaders({ [variant]: '1' }), bad(`httpRequest.headers.${variant}`)),
      );
    }
  }
  for (const name of [
    'X-Kuueri-Tasks',
    'X-Kuueri-Task-Queue',
    'Kuueri-Tasks-Queue',
    'Hosts',
    'X-Host',
    'Content-Lengths',
    'Connections',
    'TEA',
    'Authorization',
    'Cookie',
    'User-Agent',
    'constructor',
    'prototype',
    'toString',
    'hasOwnProperty',
    'valueOf',
    'A'.repeat(64),
  ]) {
    list.add(subscribeCase(`allowed header name ${JSON.stringify(name)}`, withHeaders({ [name]: 'v' }), accepted()));
  }
  const badNames = [
    'X-A\r\nB',
    '\r\n',
    'X-A\r',
    'X-A\n',
    'X A',
    'X:A',
    'X-A\u0000',
    '',
    ' ',
    'X_A',
    'X.A',
    'X/A',
    '\u{1F4A9}',
    'É',
    'A'.repeat(65),
    'X-A\t',
    '(X)',
    '__defineGetter__',
  ];
  for (const name of badNames) {
    list.add(
      subscribeCase(
        `header name ${JSON.stringify(name.length > 70 ? `${name.slice(0, 10)}…(${name.length})` : name)}`,
        withHeaders({ [name]: 'v' }),
        bad('httpRequest.headers'),
      ),
    );
  }
  const valueCases: Array<[string, Verdict]> = [
    ['a\r\nX-Injected: 1', 'bad'],
    ['\r\n', 'bad'],
    ['a\rb', 'bad'],
    ['a\nb', 'bad'],
    ['a\u0000', 'bad'],
    ['\u0001', 'bad'],
    ['\u001F', 'bad'],
    ['\u007F', 'bad'],
    ['\u0100', 'bad'],
    ['\u2028', 'bad'],
    ['\uFEFF', 'bad'],
    ['\u{1F4A9}', 'bad'],
    ['\uD800', 'bad'],
    ['x'.repeat(1025), 'bad'],
    ['\t', 'ok'],
    ['é ÿ \u0080 \u0085', 'ok'],
    ['', 'ok'],
    ['  leading and trailing  ', 'ok'],
    ['x'.repeat(1024), 'ok'],
    ['a "quoted" \\ value', 'ok'],
  ];
  for (const [value, verdict] of valueCases) {
    const label = value.length > 40 ? `${value.length} × "${value[0]!}"` : JSON.stringify(value);
    list.add(subscribeCase(`header value ${label}`, withHeaders({ 'X-Test': value }), expectFor(verdict, 'httpRequest.headers')));
  }
  for (const sample of TYPE_SAMPLES.filter((x) => typeof x.value !== 'string')) {
    list.add(subscribeCase(`header value ← ${sample.label}`, withHeaders({ 'X-Test': sample.value }), bad('httpRequest.headers.X-Test')));
  }
  for (let i = 0; i < 12; i++) {
    const name = randomHostile(rng, [...HOSTILE_PIECES, 'X', 'y', '-'], 1, 6);
    const forbidden = FORBIDDEN.some((f) => f.toLowerCase() === name.toLowerCase()) || name.toLowerCase().startsWith(RESERVED_PREFIX);
    const ok = /^[A-Za-z0-9-]{1,64}$/.test(name) && !forbidden && name.toLowerCase() !== 'x-case' && name.toLowerCase() !== 'content-type';
    if (name.includes('__proto__')) continue;
    list.add(
      subscribeCase(
        `random header name ${JSON.stringify(name)}`,
        withHeaders({ [name]: 'v' }),
        expectFor(ok ? 'ok' : 'bad', 'httpRequest.headers'),
      ),
    );
  }
  for (let i = 0; i < 12; i++) {
    const value = randomHostile(rng);
    const ok = /^[\t\x20-\x7e\x80-\xff]*$/.test(value) && value.length <= 1024;
    list.add(
      subscribeCase(
        `random header value ${JSON.stringify(value)}`,
        withHeaders({ 'X-Test': value }),
        expectFor(ok ? 'ok' : 'bad', 'httpRequest.headers'),
      ),
    );
  }
  list.add(subscribeCase('the same header twice in other cases', withHeaders({ Accept: 'a', ACCEPT: 'b' }), bad('httpRequest.headers')));
  list.add(
    subscribeCase(
      'Content-Type twice (base + lower case)',
      withHeaders({ 'Content-Type': 'a', 'content-type': 'b' }),
      bad('httpRequest.headers'),
    ),
  );
  list.add(
    subscribeCase('64 headers', withHeaders(Object.fromEntries(Array.from({ length: 64 }, (_, i) => [`X-H${i}`, 'v']))), accepted()),
  );
  list.add(
    subscribeCase(
      '65 headers',
      withHeaders(Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`X-H${i}`, 'v']))),
      bad('httpRequest.headers'),
    ),
  );
  list.add(
    subscribeCase(
      'forbidden and reserved headers together',
      withHeaders({ Host: 'evil', 'X-Kuueri-Tasks-Queue': 'x', 'transfer-encoding': 'chunked' }),
      bad('httpRequest.headers.Host', 'httpRequest.headers.X-Kuueri-Tasks-Queue', 'httpRequest.headers.transfer-encoding'),
    ),
  );

  // 4. Query parameters.
  const withParams = (params: Json): string => {
    const body = validBody(ctx, tag());
    body.httpRequest.params = params;
    return toJson(body);
  };
  for (const name of ['a-b', 'a_b', 'a b', '', '\u{1F4A9}', '\u0000', 'a\r\n', 'é', 'a.b', 'a[]', 'A'.repeat(65)]) {
    list.add(
      subscribeCase(
        `param name ${JSON.stringify(name.length > 70 ? `${name.length} × A` : name)}`,
        withParams({ [name]: 'v' }),
        bad('httpRequest.params'),
      ),
    );
  }
  for (const name of ['constructor', 'toString', 'prototype', 'hasOwnProperty', 'A'.repeat(64), '0']) {
    list.add(subscribeCase(`param name ${JSON.stringify(name)}`, withParams({ [name]: 'v' }), accepted()));
  }
  for (const value of ['\u0000', '\r\n', '\u{1F4A9}', '\uD800', '', '&a=b', '#frag', '%00', 'x'.repeat(1024)]) {
    list.add(
      subscribeCase(
        `param value ${JSON.stringify(value.length > 40 ? `${value.length} × x` : value)}`,
        withParams({ p: value }),
        accepted(),
      ),
    );
  }
  list.add(subscribeCase('param value of 1025 characters', withParams({ p: 'x'.repeat(1025) }), bad('httpRequest.params')));
  for (const sample of TYPE_SAMPLES.filter((x) => typeof x.value !== 'string')) {
    list.add(subscribeCase(`param value ← ${sample.label}`, withParams({ p: sample.value }), bad('httpRequest.params.p')));
  }
  list.add(subscribeCase('64 params', withParams(Object.fromEntries(Array.from({ length: 64 }, (_, i) => [`p${i}`, 'v']))), accepted()));
  list.add(
    subscribeCase(
      '65 params',
      withParams(Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`p${i}`, 'v']))),
      bad('httpRequest.params'),
    ),
  );
  for (let i = 0; i < 8; i++) {
    const name = randomHostile(rng, [...HOSTILE_PIECES, 'p', 'Q', '9'], 1, 5);
    if (name.includes('__proto__')) continue;
    list.add(
      subscribeCase(
        `random param name ${JSON.stringify(name)}`,
        withParams({ [name]: 'v' }),
        expectFor(/^[A-Za-z0-9]{1,64}$/.test(name) ? 'ok' : 'bad', 'httpRequest.params'),
      ),
    );
  }

  // 5. Unknown fields at every level.
  const unknownKeys = [
    'foo',
    '',
    ' ',
    '\u{1F4A9}',
    '\u0000',
    'constructor',
    'prototype',
    'toString',
    'valueOf',
    '__defineGetter__',
    'retry ',
    'Url',
    'METHOD',
    'Retry',
    'x'.repeat(3000),
    'a.b',
    '$ref',
  ];
  for (const key of unknownKeys) {
    const value = rng.pick(TYPE_SAMPLES.filter((x) => !isPlainObject(x.value))).value;
    const shown = key.length > 40 ? `${key.length} × x` : JSON.stringify(key);
    const root = validBody(ctx, tag());
    list.add(subscribeCase(`unknown field ${shown} at the root`, toJson(new Obj([...Object.entries(root), [key, value]])), bad(key)));
    const hr = validBody(ctx, tag());
    hr.httpRequest = new Obj([...Object.entries(hr.httpRequest), [key, value]]) as unknown as Record<string, Json>;
    list.add(subscribeCase(`unknown field ${shown} in httpRequest`, toJson(hr), bad(`httpRequest.${key}`)));
    const cfg = validBody(ctx, tag());
    cfg.config = new Obj([...Object.entries(cfg.config), [key, value]]) as unknown as Record<string, Json>;
    list.add(subscribeCase(`unknown field ${shown} in config`, toJson(cfg), bad(`config.${key}`)));
  }

  // 6. __proto__, constructor.prototype and prototype at every level.
  const levels: Array<{ name: string; at: (body: Body, entry: [string | Raw, Json]) => Json; mapLevel: boolean }> = [
    { name: 'the root', at: (body, e) => new Obj([...Object.entries(body), e]), mapLevel: false },
    {
      name: 'httpRequest',
      at: (body, e) => ({ ...body, httpRequest: new Obj([...Object.entries(body.httpRequest), e]) }),
      mapLevel: false,
    },
    { name: 'config', at: (body, e) => ({ ...body, config: new Obj([...Object.entries(body.config), e]) }), mapLevel: false },
    {
      name: 'httpRequest.params',
      at: (body, e) => ({ ...body, httpRequest: { ...body.httpRequest, params: new Obj([['q', '1'], e]) } }),
      mapLevel: true,
    },
    {
      name: 'httpRequest.headers',
      at: (body, e) => ({ ...body, httpRequest: { ...body.httpRequest, headers: new Obj([['X-A', '1'], e]) } }),
      mapLevel: true,
    },
    {
      name: 'an unknown object at the root',
      at: (body, e) => new Obj([...Object.entries(body), ['extra', new Obj([e])]]),
      mapLevel: false,
    },
    {
      name: 'an array in an unknown field',
      at: (body, e) => new Obj([...Object.entries(body), ['extra', [1, new Obj([e])]]]),
      mapLevel: false,
    },
  ];
  const pollution: Array<{ label: string; entry: [string | Raw, Json]; expect: (level: (typeof levels)[number]) => Expect }> = [
    { label: '"__proto__": {"polluted": true}', entry: ['__proto__', { polluted: true }], expect: () => invalidJson() },
    { label: '"__proto__": null', entry: ['__proto__', null], expect: () => invalidJson() },
    { label: '"__proto__": "x"', entry: ['__proto__', 'x'], expect: () => invalidJson() },
    {
      label: 'escaped "\\u005f_proto__": {}',
      entry: [new Raw('"\\u005f_proto__"'), { polluted: true }],
      expect: () => ({
        ok: [],
        refuse: [
          { status: 400, code: 'INVALID_JSON' },
          { status: 400, code: VALIDATION },
        ],
      }),
    },
    {
      label: '"constructor": {"prototype": {"polluted": true}}',
      entry: ['constructor', { prototype: { polluted: true } }],
      expect: () => invalidJson(),
    },
    { label: '"constructor": {"prototype": null}', entry: ['constructor', { prototype: null }], expect: () => invalidJson() },
    {
      label: 'escaped "\\u0063onstructor": {"prototype": {}}',
      entry: [new Raw('"\\u0063onstructor"'), { prototype: {} }],
      expect: () => ({
        ok: [],
        refuse: [
          { status: 400, code: 'INVALID_JSON' },
          { status: 400, code: VALIDATION },
        ],
      }),
    },
    {
      label: '"prototype": {"polluted": true}',
      entry: ['prototype', { polluted: true }],
      expect: (level) =>
        level.name.includes('unknown')
          ? bad('extra')
          : level.mapLevel
            ? bad(level.name)
            : bad(level.name === 'the root' ? 'prototype' : `${level.name}.prototype`),
    },
  ];
  for (const level of levels) {
    for (const p of pollution) {
      list.add(subscribeCase(`${p.label} in ${level.name}`, toJson(level.at(validBody(ctx, tag()), p.entry)), p.expect(level)));
    }
  }

  // 7. Malformed JSON and odd-but-valid JSON.
  const valid = (): string => toJson(validBody(ctx, tag()));
  for (let i = 0; i < 10; i++) {
    const text = valid();
    const cut = rng.between(1, text.length - 1);
    list.add(subscribeCase(`truncated at ${cut} of ${text.length}`, text.slice(0, cut), invalidJson()));
  }
  for (let i = 0; i < 5; i++) {
    const text = valid();
    const closers = [...text.matchAll(/[}\]]/g)].map((m) => m.index);
    const at = rng.pick(closers);
    list.add(subscribeCase(`trailing comma before offset ${at}`, `${text.slice(0, at)},${text.slice(at)}`, invalidJson()));
  }
  const v = valid();
  const malformed: Array<[string, string]> = [
    ['single quotes', v.replace(/"/g, "'")],
    ['unquoted keys', v.replace(/"(\w+)":/g, '$1:')],
    ['a comment', `/* hi */${v}`],
    ['a line comment', `${v}\n// bye`],
    ['trailing garbage', `${v}x`],
    ['trailing NUL', `${v}\u0000`],
    ['two objects', `${v}${v}`],
    ['a closing bracket too many', `${v}]`],
    ['NaN as a value', v.replace('"retry":1', '"retry":NaN')],
    ['Infinity as a value', v.replace('"retry":1', '"retry":Infinity')],
    ['undefined as a value', v.replace('"retry":1', '"retry":undefined')],
    ['leading zero', v.replace('"retry":1', '"retry":01')],
    ['plus sign', v.replace('"retry":1', '"retry":+1')],
    ['hex number', v.replace('"retry":1', '"retry":0x1')],
    ['bare fraction', v.replace('"retry":1', '"retry":.5')],
    ['dangling exponent', v.replace('"retry":1', '"retry":1e')],
    ['raw NUL inside a string', v.replace('"POST"', '"PO\u0000ST"')],
    ['raw CR LF inside a string', v.replace('"POST"', '"PO\r\nST"')],
    ['raw tab inside a string', v.replace('"POST"', '"PO\tST"')],
    ['invalid escape \\x41', v.replace('"POST"', '"\\x41"')],
    ['short unicode escape', v.replace('"POST"', '"\\u12"')],
    ['unclosed string', v.replace('"POST"', '"POST')],
    ['deep unclosed arrays (100000)', '['.repeat(100_000)],
    ['deep unclosed objects', '{"a":'.repeat(20_000)],
    ['a lone opening brace', '{'],
    ['a lone quote', '"'],
  ];
  for (const [title, text] of malformed) list.add(subscribeCase(`malformed JSON: ${title}`, text, invalidJson()));
  list.add(
    subscribeCase('a byte order mark before valid JSON', `\uFEFF${valid()}`, {
      ok: [201],
      refuse: [{ status: 400, code: 'INVALID_JSON' }],
    }),
  );
  list.add(subscribeCase('UTF-16LE body', Buffer.from(valid(), 'utf16le'), invalidJson()));
  list.add(
    subscribeCase(
      'invalid UTF-8 outside strings',
      Buffer.concat([Buffer.from('{'), Buffer.from([0xc3, 0x28]), Buffer.from(valid().slice(1))]),
      invalidJson(),
    ),
  );
  const invalidUtf8Header = Buffer.from(withHeaders({ 'X-Test': 'AB' }).replace('"AB"', '"A\u0001B"'), 'utf8');
  const at = invalidUtf8Header.indexOf(0x01);
  invalidUtf8Header[at] = 0xff; // a byte that is never UTF-8
  list.add(subscribeCase('invalid UTF-8 inside a header value', invalidUtf8Header, bad('httpRequest.headers')));
  for (const bare of ['1', 'true', 'null', '"x"', '[]', '0', '-0', '1e400', '[1]', '"{}"']) {
    list.add(subscribeCase(`bare value ${bare}`, bare, bad('body')));
  }
  for (const blank of ['', ' ', '\n\t\r ']) {
    list.add(
      subscribeCase(`blank body ${JSON.stringify(blank)}`, blank, {
        ok: [],
        refuse: [
          { status: 400, code: 'INVALID_JSON' },
          { status: 400, code: VALIDATION, names: ['body'] },
        ],
      }),
    );
  }
  const dupBad = validBody(ctx, tag());
  list.add(
    subscribeCase('duplicate key: a bad httpRequest, then a good one', toJson(new Obj([['httpRequest', 1], ...Object.entries(dupBad)])), {
      ok: [201],
      refuse: [
        { status: 400, code: 'INVALID_JSON' },
        { status: 400, code: VALIDATION, names: ['httpRequest'] },
      ],
    }),
  );
  const dupGood = validBody(ctx, tag());
  list.add(
    subscribeCase(
      'duplicate key: a good retry, then a bad one',
      toJson({ ...dupGood, config: new Obj([...Object.entries(dupGood.config), ['retry', 'x']]) }),
      {
        ok: [],
        refuse: [
          { status: 400, code: 'INVALID_JSON' },
          { status: 400, code: VALIDATION, names: ['config.retry'] },
        ],
      },
    ),
  );
  list.add(
    subscribeCase(
      '1.0 and 0.0 are integers in JSON',
      toJson({ ...validBody(ctx, tag()), config: { executionDelay: '1h', retry: new Raw('1.0'), repeat: new Raw('0.0') } }),
      accepted(),
    ),
  );

  // 8. Deep nesting, under and past the body limit.
  const fields = ['httpRequest.params', 'httpRequest.headers', 'httpRequest.url', 'config.retry', 'config.timeout', 'config'];
  for (let i = 0; i < 8; i++) {
    const field = rng.pick(fields);
    const depth = rng.pick([1_000, 10_000, 30_000, 60_000]);
    const arrays = rng.chance(0.5);
    const deep = arrays
      ? `${'['.repeat(depth)}${']'.repeat(depth)}`
      : `${'{"a":'.repeat(Math.floor(depth / 3))}1${'}'.repeat(Math.floor(depth / 3))}`;
    const body = validBody(ctx, tag());
    const marker = '"__DEEP__"';
    setPath(body, field.split('.'), new Raw(marker));
    const text = toJson(body).replace(marker, deep);
    const shape = arrays ? `${depth} nested arrays` : `${Math.floor(depth / 3)} nested objects`;
    const name =
      field === 'config' && !arrays
        ? 'config.a'
        : field === 'httpRequest.params' && !arrays
          ? 'httpRequest.params.a'
          : field === 'httpRequest.headers' && !arrays
            ? 'httpRequest.headers'
            : field;
    list.add(subscribeCase(`${field} ← ${shape} (${text.length} bytes)`, text, text.length > BODY_LIMIT ? tooLarge() : bad(name)));
  }
  for (const depth of [70_000, 200_000]) {
    const body = validBody(ctx, tag());
    const text = toJson(body).replace('"q":"1"', `"q":${'['.repeat(depth)}${']'.repeat(depth)}`);
    list.add(subscribeCase(`params.q ← ${depth} nested arrays, past the body limit`, text, tooLarge()));
  }
  list.add(
    subscribeCase(
      'an unknown key of 1 MB',
      toJson(new Obj([...Object.entries(validBody(ctx, tag())), ['k'.repeat(ONE_MB), 1]])),
      tooLarge(),
    ),
  );
  list.add(subscribeCase('a header name of 1 MB', withHeaders({ ['H'.repeat(ONE_MB)]: 'v' }), tooLarge()));
  list.add(subscribeCase('a header value of 1 MB', withHeaders({ 'X-Big': 'v'.repeat(ONE_MB) }), tooLarge()));
  list.add(subscribeCase('a param value of 1 MB', withParams({ big: 'v'.repeat(ONE_MB) }), tooLarge()));
  list.add(subscribeCase('1 MB of whitespace after valid JSON', `${valid()}${' '.repeat(ONE_MB)}`, tooLarge()));

  // 9. Content types.
  const must415 = [
    'text/plain',
    'application/x-www-form-urlencoded',
    'multipart/form-data; boundary=x',
    'application/xml',
    'application/jsonx',
    'application/json-patch+json',
    'text/json',
    '*/*',
    'application/*',
    ';',
    'json',
    'application/ json',
    '',
  ];
  for (const type of must415)
    list.add(subscribeCase(`content-type ${JSON.stringify(type)}`, valid(), unsupported(), { 'content-type': type }));
  list.add(subscribeCase('no content-type', valid(), unsupported(), {}));
  for (const type of [
    'APPLICATION/JSON',
    'Application/Json; charset=UTF-8',
    'application/json;charset=utf-8',
    'application/json ; charset=utf-8',
    'application/json; charset=latin1',
  ]) {
    list.add(
      subscribeCase(
        `content-type ${JSON.stringify(type)}`,
        valid(),
        { ok: [201], refuse: [{ status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' }] },
        { 'content-type': type },
      ),
    );
  }

  // 10. Hostile query strings (the route takes none: ignored or refused, never a 5xx).
  for (const query of [
    '__proto__[polluted]=1',
    'constructor[prototype][polluted]=1',
    'a=%00&a=%ZZ&a',
    `${'q=1&'.repeat(2000)}q=2`,
    '%',
    '__proto__.polluted=1',
  ]) {
    list.add({
      ...subscribeCase(`query string ${JSON.stringify(query.length > 40 ? `${query.slice(0, 20)}…(${query.length})` : query)}`, valid(), {
        ok: [201],
        refuse: [{ status: 400, code: '*' }],
      }),
      path: `/v1beta/subscribe?${query}`,
    });
  }

  // 11. The route with other methods.
  for (const method of ['GET', 'PUT', 'DELETE', 'PATCH']) {
    list.add({
      title: `${method} /v1beta/subscribe`,
      method,
      path: '/v1beta/subscribe',
      headers: JSON_HEADERS,
      body: method === 'GET' || method === 'DELETE' ? undefined : valid(),
      auth: 'A',
      expect: { ok: [], refuse: [{ status: 404, code: 'NOT_FOUND' }] },
      countsAsTask: false,
    });
  }
  return list.cases;
}

/** The same cases, in a seeded order, with a valid control every `every` cases. */
export function interleaveControls(rng: Rng, cases: HostileCase[], ctx: GenContext, every = 12): HostileCase[] {
  const out: HostileCase[] = [];
  rng.shuffle(cases);
  cases.forEach((c, i) => {
    if (i % every === 0) {
      out.push({
        id: `C${String(out.length).padStart(4, '0')}`,
        title: 'control: a valid subscribe',
        method: 'POST',
        path: '/v1beta/subscribe',
        headers: JSON_HEADERS,
        body: toJson(validBody(ctx, `control-${i}`)),
        auth: 'A',
        expect: accepted(),
        countsAsTask: true,
        control: true,
      });
    }
    out.push(c);
  });
  return out;
}

// ── Several bad fields at once ─────────────────────────────────────────────────────────────────

/** 2–4 fields made wrong at once: the answer must name every one of them. */
export function multiFieldCases(rng: Rng, ctx: GenContext, count: number): HostileCase[] {
  const list = new CaseList('M');
  const specs = fieldSpecs(ctx).filter((x) => x.path.join('.') !== 'config.executionDelay' && x.path.join('.') !== 'config.retryAt');
  const badHeader = ['Host', 'Content-Length', 'X-Kuueri-Tasks-Queue', 'Connection'];
  for (let i = 0; i < count; i++) {
    const chosen = rng.shuffle([...specs]).slice(0, rng.between(2, 4));
    const body = validBody(ctx, `m${i}`);
    const names: string[] = [];
    const labels: string[] = [];
    for (const spec of chosen) {
      const field = spec.path.join('.');
      if (field === 'httpRequest.headers' && rng.chance(0.5)) {
        const name = rng.mixCase(rng.pick(badHeader));
        body.httpRequest.headers = { [name]: 'x' };
        names.push(`httpRequest.headers.${name}`);
        labels.push(`${field} ← {${JSON.stringify(name)}: "x"}`);
        continue;
      }
      const candidates = [...GENERIC_SAMPLES.map((x) => ({ ...x, verdict: judge(spec.kind, x.value, ctx.now) })), ...spec.specific].filter(
        (x) => x.verdict === 'bad' && !(typeof x.value === 'string' && x.value.length > 3000),
      );
      const sample = rng.pick(candidates);
      setPath(body, spec.path, sample.value);
      names.push(field);
      labels.push(`${field} ← ${sample.label}`);
    }
    list.add(subscribeCase(labels.join('; '), toJson(body), bad(...names)));
  }
  return list.cases;
}

// ── Odd ids ────────────────────────────────────────────────────────────────────────────────────

export const ID_ROUTES: Array<{ method: string; path: (id: string) => string }> = [
  { method: 'GET', path: (id) => `/v1beta/queues/${id}` },
  { method: 'GET', path: (id) => `/v1beta/queues/${id}/timeline` },
  { method: 'DELETE', path: (id) => `/v1beta/queues/${id}` },
  { method: 'PATCH', path: (id) => `/v1beta/pause/${id}` },
  { method: 'PATCH', path: (id) => `/v1beta/resume/${id}` },
  { method: 'PATCH', path: (id) => `/v1beta/unsubscribe/${id}` },
  { method: 'PATCH', path: (id) => `/v1beta/execute/${id}` },
];

const enc = encodeURIComponent;

/** Every route with an id × odd ids (written as raw path segments). */
export function idCases(rng: Rng, ctx: GenContext): HostileCase[] {
  const list = new CaseList('I');
  const notFound: Refusal = { status: 404, code: 'TASK_NOT_FOUND', names: ['id'] };
  const badUrl: Refusal = { status: 400, code: 'BAD_REQUEST', names: ['id'] };
  const unknownRoute: Refusal = { status: 404, code: 'NOT_FOUND' };
  const own = ctx.ownId ?? '';
  const segments: Array<{ label: string; raw: string; refuse: Refusal[] }> = [
    { label: '..', raw: '..', refuse: [notFound, unknownRoute] },
    { label: '%2e%2e', raw: '%2e%2e', refuse: [notFound, unknownRoute] },
    { label: '..%2f..%2finfo', raw: '..%2f..%2finfo', refuse: [notFound] },
    { label: '%2e%2e%2f%2e%2e%2fhealthz', raw: '%2e%2e%2f%2e%2e%2fhealthz', refuse: [notFound] },
    { label: '..%5c..%5c', raw: '..%5c..%5c', refuse: [notFound] },
    { label: '../.. (two raw segments)', raw: '../..', refuse: [notFound, unknownRoute] },
    { label: '%00', raw: '%00', refuse: [notFound] },
    { label: `own id + %00`, raw: `${own}%00`, refuse: [notFound] },
    { label: `own id + %20`, raw: `${own}%20`, refuse: [notFound] },
    { label: `own id, lower case`, raw: own.toLowerCase(), refuse: [notFound] },
    { label: `own id + "."`, raw: `${own}.`, refuse: [notFound] },
    { label: `own id + ".json"`, raw: `${own}.json`, refuse: [notFound] },
    {
      label: `own id, percent-encoded`,
      raw: [...own].map((c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`).join(''),
      refuse: [],
    },
    { label: '*', raw: '*', refuse: [notFound] },
    { label: '%2A', raw: '%2A', refuse: [notFound] },
    { label: '%25', raw: '%25', refuse: [notFound] },
    { label: '%3F', raw: '%3F', refuse: [notFound] },
    { label: '? (empty id, query)', raw: '?x=1', refuse: [notFound, unknownRoute] },
    { label: '[a-z]*', raw: enc('[a-z]*'), refuse: [notFound] },
    { label: '.*', raw: '.*', refuse: [notFound] },
    { label: 'task:*', raw: enc('task:*'), refuse: [notFound] },
    { label: '{tasks}:*', raw: enc('{tasks}:*'), refuse: [notFound] },
    { label: "' OR '1'='1", raw: enc("' OR '1'='1"), refuse: [notFound] },
    { label: '1; DROP TABLE tasks', raw: enc('1; DROP TABLE tasks'), refuse: [notFound] },
    { label: '*\\r\\nFLUSHALL', raw: enc('*\r\nFLUSHALL\r\n'), refuse: [notFound] },
    { label: '3000 characters', raw: 'A'.repeat(3000), refuse: [notFound] },
    { label: '3000 percent-encoded characters', raw: '%41'.repeat(3000), refuse: [notFound] },
    {
      label: '5000 characters (past the router limit)',
      raw: 'A'.repeat(5000),
      refuse: [notFound, badUrl, { status: 414, code: '*', names: ['id'] }],
    },
    { label: '\u{1F4A9}', raw: enc('\u{1F4A9}'), refuse: [notFound] },
    { label: 'ééé', raw: enc('ééé'), refuse: [notFound] },
    { label: 'RTL override', raw: enc('\u202E01ABC'), refuse: [notFound] },
    { label: 'zero-width space', raw: enc(`${own}\u200B`), refuse: [notFound] },
    { label: 'BOM', raw: enc(`\uFEFF${own}`), refuse: [notFound] },
    { label: 'fullwidth digits', raw: enc('０１２３'), refuse: [notFound] },
    { label: '% (undecodable)', raw: '%', refuse: [notFound, badUrl] },
    { label: '%zz (undecodable)', raw: '%zz', refuse: [notFound, badUrl] },
    { label: '%C0%AF (overlong UTF-8)', raw: '%C0%AF', refuse: [notFound, badUrl] },
    { label: '%ED%A0%80 (UTF-8 surrogate)', raw: '%ED%A0%80', refuse: [notFound, badUrl] },
    { label: '%FF', raw: '%FF', refuse: [notFound, badUrl] },
    { label: 'a valid id that does not exist', raw: '01ARZ3NDEKTSV4RRFFQ69G5FAV', refuse: [notFound] },
    ...Object.entries(ctx.foreignIds ?? {}).map(([state, id]) => ({
      label: `another project's ${state} task`,
      raw: id,
      refuse: [notFound],
    })),
  ];
  for (let i = 0; i < 6; i++) {
    const text = randomHostile(
      rng,
      HOSTILE_PIECES.filter((p) => p !== '/' && p !== '..' && !/[\uD800-\uDFFF]/.test(p)),
      1,
      8,
    );
    segments.push({ label: `random ${JSON.stringify(text)}`, raw: enc(text), refuse: [notFound] });
  }
  for (const seg of segments) {
    for (const route of ID_ROUTES) {
      const isOwn = seg.label === 'own id, percent-encoded';
      // The own task, percent-encoded, is still the own task: GET answers it; the rest act on it or conflict.
      const expect: Expect = isOwn ? { ok: [200], refuse: [{ status: 409, code: 'TASK_STATE_CONFLICT' }] } : { ok: [], refuse: seg.refuse };
      if (isOwn && route.method !== 'GET') continue; // do not change the own task's state here
      list.add({
        title: `${route.method} ${route.path(`{${seg.label}}`)}`,
        method: route.method,
        path: route.path(seg.raw),
        headers: {},
        auth: 'A',
        expect,
        countsAsTask: false,
      });
    }
  }
  // Without credentials, an odd id is still refused (401 before anything is looked up, or a bad URL).
  for (const raw of ['..', '%00', '*', 'A'.repeat(3000), ...Object.values(ctx.foreignIds ?? {})]) {
    for (const route of ID_ROUTES.slice(0, 2)) {
      list.add({
        title: `no credentials: ${route.method} ${route.path(raw.length > 40 ? `{${raw.length} chars}` : raw)}`,
        method: route.method,
        path: route.path(raw),
        headers: {},
        auth: 'none',
        expect: { ok: [], refuse: [{ status: 401, code: 'UNAUTHORIZED' }] },
        countsAsTask: false,
      });
    }
  }
  return list.cases;
}

// ── Register ───────────────────────────────────────────────────────────────────────────────────

function registerCase(
  title: string,
  body: string | Buffer | undefined,
  expect: Expect,
  headers: Record<string, string> = JSON_HEADERS,
): Omit<HostileCase, 'id'> {
  return { title, method: 'POST', path: '/v1beta/register', headers, body, auth: 'none', expect, countsAsTask: false };
}

export function registerCases(rng: Rng, ctx: GenContext): HostileCase[] {
  const list = new CaseList('R');
  const created = { ok: [201], refuse: [] };
  const badEmail = bad('email');
  for (const sample of TYPE_SAMPLES.filter((x) => typeof x.value !== 'string')) {
    list.add(registerCase(`email ← ${sample.label}`, toJson({ email: sample.value }), badEmail));
  }
  for (const sample of [...NUMBER_SAMPLES.slice(0, 8), ...STRING_SAMPLES]) {
    list.add(registerCase(`email ← ${sample.label}`, toJson({ email: sample.value }), badEmail));
  }
  const long = (n: number): string =>
    `${'a'.repeat(64)}@${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(n - 64 - 1 - 63 - 1 - 63 - 1 - 4)}.com`;
  const badEmails = [
    '',
    ' ',
    'a@b',
    '@example.com',
    'a@',
    'a@@example.com',
    'a b@example.com',
    'a\r\n@example.com',
    'a@example.com\r\nBcc: x@example.org',
    'a\u0000@example.com',
    '\u{1F4A9}@example.com',
    'a@\u{1F4A9}.com',
    'a@example',
    '.a@example.com',
    'a.@example.com',
    'a..b@example.com',
    'a@-example.com',
    'a@example-.com',
    'a@example.c',
    `${'a'.repeat(65)}@example.com`,
    long(255),
    '\uD800@example.com',
    'a@example.com ',
    ' a@example.com',
    'a@example..com',
    'a@[127.0.0.1]',
    '<a@example.com>',
    'a@example.com,b@example.com',
    'a;b@example.com',
    '"a b"@example.com',
    'a@exa_mple.com',
    'a@ex\u0000ample.com',
    'a\t@example.com',
    'x'.repeat(3000),
  ];
  for (const email of badEmails) {
    list.add(
      registerCase(
        `email ${JSON.stringify(email.length > 50 ? `${email.slice(0, 12)}…(${email.length})` : email)}`,
        toJson({ email }),
        badEmail,
      ),
    );
  }
  for (let i = 0; i < 10; i++) {
    const junk = randomHostile(
      rng,
      ['\u0000', '\r', '\n', '\t', ' ', '\u{1F4A9}', '\uD800', '<', '>', '@', ',', ';', '[', ']', ':', 'é'],
      1,
      3,
    );
    const email = rng.chance(0.5) ? `u${i}${junk}x@example.com` : `u${i}@exa${junk}mple.com`;
    list.add(registerCase(`random email ${JSON.stringify(email)}`, toJson({ email }), badEmail));
  }
  const goodEmails = [
    'hostile.plus+tag@example.com',
    "o'hara.hostile@example.com",
    '__proto__@example.com',
    'constructor.hostile@example.com',
    'hostile_x@sub.example.museum',
    `{hostile}@example.com`,
    long(254),
    'UPPER.Hostile@EXAMPLE.COM',
  ];
  for (const email of goodEmails)
    list.add(
      registerCase(
        `valid odd email ${JSON.stringify(email.length > 50 ? `${email.slice(0, 12)}…(${email.length})` : email)}`,
        toJson({ email }),
        created,
      ),
    );
  if (ctx.takenEmail) {
    list.add(
      registerCase('a registered email again, upper case', toJson({ email: ctx.takenEmail.toUpperCase() }), {
        ok: [],
        refuse: [{ status: 409, code: 'EMAIL_TAKEN' }],
      }),
    );
    list.add(
      registerCase('a registered email again, mixed case', toJson({ email: rng.mixCase(ctx.takenEmail) }), {
        ok: [],
        refuse: [{ status: 409, code: 'EMAIL_TAKEN' }],
      }),
    );
  }
  list.add(registerCase('no email', '{}', badEmail));
  list.add(registerCase('email and an unknown field', toJson({ email: 'unknown.field@example.com', admin: true }), bad('admin')));
  list.add(registerCase('email and "as": "DEV"', toJson({ email: 'as.field@example.com', as: 'DEV' }), bad('as')));
  list.add(registerCase('email and "token"', toJson({ email: 'token.field@example.com', token: 'kt_x' }), bad('token')));
  list.add(
    registerCase(
      '__proto__ with admin',
      toJson(
        new Obj([
          ['email', 'proto.field@example.com'],
          ['__proto__', { admin: true }],
        ]),
      ),
      invalidJson(),
    ),
  );
  list.add(
    registerCase(
      'constructor.prototype',
      toJson(
        new Obj([
          ['email', 'ctor.field@example.com'],
          ['constructor', { prototype: { admin: true } }],
        ]),
      ),
      invalidJson(),
    ),
  );
  for (const bare of ['1', 'null', '"a@example.com"', '["a@example.com"]', 'true'])
    list.add(registerCase(`bare value ${bare}`, bare, bad('body')));
  for (const text of [
    '{"email":',
    "{'email':'x@example.com'}",
    '{"email":"x@example.com",}',
    '{"email":"x@example.com"}x',
    '{email:"x@example.com"}',
  ]) {
    list.add(registerCase(`malformed JSON ${JSON.stringify(text)}`, text, invalidJson()));
  }
  list.add(registerCase('email ← 60000 nested arrays', `{"email":${'['.repeat(60_000)}${']'.repeat(60_000)}}`, badEmail));
  list.add(registerCase('an email of 1 MB', toJson({ email: `${'a'.repeat(ONE_MB)}@example.com` }), tooLarge()));
  list.add(registerCase('an unknown field of 1 MB', toJson({ email: 'big.field@example.com', pad: 'p'.repeat(ONE_MB) }), tooLarge()));
  list.add(registerCase('text/plain', toJson({ email: 'text.plain@example.com' }), unsupported(), { 'content-type': 'text/plain' }));
  list.add(
    registerCase('form-urlencoded', 'email=form%40example.com', unsupported(), { 'content-type': 'application/x-www-form-urlencoded' }),
  );
  list.add(
    registerCase(
      'no body',
      undefined,
      {
        ok: [],
        refuse: [
          { status: 400, code: 'INVALID_JSON' },
          { status: 400, code: VALIDATION, names: ['body'] },
        ],
      },
      {},
    ),
  );
  return list.cases;
}
