/*
 * The oracle of the hostile-input suite (hostile-input.test.ts): what every answer must be for its
 * case (hostile-generate.ts says what each case expects), and how a case and an answer are shown in
 * a failure.
 */
import { STATUS_CODES } from 'node:http';
import { ERROR_REGISTRY } from '../../src/core/errors.js';
import { ID_PATTERN } from '../helpers/api-assertions.js';
import type { RawAnswer } from '../helpers/raw-http.js';
import { describeExpect, type HostileCase, type Refusal } from './hostile-generate.js';

// ── Checking ───────────────────────────────────────────────────────────────────────────────────

const REGISTRY = ERROR_REGISTRY as Record<string, { status: number; message: string }>;

function short(text: string | Buffer | undefined, max = 240): string {
  if (text === undefined) return '(no body)';
  const s = Buffer.isBuffer(text)
    ? `<${text.length} bytes> ${JSON.stringify(text.subarray(0, max).toString('latin1'))}`
    : JSON.stringify(text.length > max ? `${text.slice(0, max)}…` : text);
  return text.length > max ? `${s} (${text.length} bytes in all)` : s;
}

export function describeRequest(c: HostileCase): string {
  const path = c.path.length > 120 ? `${c.path.slice(0, 120)}…(${c.path.length} chars)` : c.path;
  const headers = Object.keys(c.headers).length > 0 ? ` headers=${JSON.stringify(c.headers)}` : '';
  return `${c.method} ${path} [auth ${c.auth}]${headers} body=${short(c.body)}${c.chunked ? ' (chunked)' : ''}`;
}

export function describeAnswer(answer: RawAnswer): string {
  return answer.kind === 'dropped' ? `dropped connection (${answer.error})` : `${answer.status} ${short(answer.body, 400)}`;
}

/**
 * What is wrong with `answer` for an error (status ≥ 400): the problems with its shape, whatever
 * the case expected. An empty list when it is a well-formed 4xx.
 */
export function errorShapeProblems(answer: Extract<RawAnswer, { kind: 'answer' }>): string[] {
  const problems: string[] = [];
  if (answer.status >= 500) problems.push(`a ${answer.status}: hostile input must never cause a 5xx`);
  else if (answer.status < 400) problems.push(`status ${answer.status} is not an error`);
  if (!/^application\/json/.test(answer.headers['content-type'] ?? ''))
    problems.push(`content-type ${String(answer.headers['content-type'])} is not application/json`);
  let body: unknown;
  try {
    body = JSON.parse(answer.body) as unknown;
  } catch {
    problems.push('the body is not JSON');
    return problems;
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    problems.push('the body is not a JSON object');
    return problems;
  }
  const b = body as Record<string, unknown>;
  const keys = Object.keys(b).sort();
  const expected =
    b.code === 'VALIDATION_FAILED' ? ['code', 'error', 'issues', 'message', 'statusCode'] : ['code', 'error', 'message', 'statusCode'];
  if (JSON.stringify(keys) !== JSON.stringify(expected))
    problems.push(`the body's keys are ${JSON.stringify(keys)}, not ${JSON.stringify(expected)}`);
  if (b.statusCode !== answer.status)
    problems.push(`statusCode ${JSON.stringify(b.statusCode)} differs from the HTTP status ${answer.status}`);
  const registered = typeof b.code === 'string' ? REGISTRY[b.code] : undefined;
  if (!registered) problems.push(`code ${JSON.stringify(b.code)} is not in the error registry (src/core/errors.ts)`);
  else if (registered.status !== answer.status)
    problems.push(`code ${String(b.code)} is registered with status ${registered.status}, answered with ${answer.status}`);
  if (b.error !== STATUS_CODES[answer.status])
    problems.push(
      `error ${JSON.stringify(b.error)} is not the phrase of ${answer.status} (${JSON.stringify(STATUS_CODES[answer.status])})`,
    );
  if (typeof b.message !== 'string' || b.message.trim() === '') problems.push('message is not a non-empty string');
  if (b.code === 'VALIDATION_FAILED') {
    const issues = b.issues;
    if (!Array.isArray(issues) || issues.length === 0) problems.push('VALIDATION_FAILED without issues');
    else {
      for (const issue of issues as unknown[]) {
        const i = issue as Record<string, unknown>;
        if (
          typeof i !== 'object' ||
          i === null ||
          JSON.stringify(Object.keys(i).sort()) !== '["field","message"]' ||
          typeof i.field !== 'string' ||
          typeof i.message !== 'string'
        ) {
          problems.push(`issue ${JSON.stringify(issue)} is not {field, message}`);
        } else if (typeof b.message === 'string' && !b.message.includes(i.field)) {
          problems.push(`the message does not name the issue's field ${JSON.stringify(i.field)}`);
        }
      }
    }
  }
  return problems;
}

/** `message` names `name` as a whole field: not inside a longer word ("id" is not named by "valid"). */
export function names(message: string, name: string): boolean {
  const word = /[A-Za-z0-9_]/;
  for (let at = message.indexOf(name); at !== -1; at = message.indexOf(name, at + 1)) {
    const before = at === 0 ? '' : message[at - 1]!;
    const after = message[at + name.length] ?? '';
    if (!(word.test(before) && word.test(name[0] ?? '')) && !(word.test(after) && word.test(name[name.length - 1] ?? ''))) return true;
  }
  return false;
}

function refusalMatches(refusal: Refusal, status: number, code: unknown): boolean {
  return refusal.status === status && (refusal.code === '*' || refusal.code === code);
}

export interface Checked {
  problems: string[];
  /** The id of a task a 201 answered. */
  taskId?: string;
}

/** Every problem with `answer` for case `c`: none means it passed. */
export function checkAnswer(c: HostileCase, answer: RawAnswer): Checked {
  if (answer.kind === 'dropped')
    return { problems: [`the connection was dropped (${answer.error}); expected ${describeExpect(c.expect)}`] };
  const problems: string[] = [];
  if (c.expect.ok.includes(answer.status)) {
    let body: Record<string, unknown> = {};
    try {
      body = JSON.parse(answer.body) as Record<string, unknown>;
    } catch {
      problems.push('a success whose body is not JSON');
    }
    if (answer.status === 201 && c.path.split('?')[0] === '/v1beta/subscribe') {
      if (typeof body.id !== 'string' || !ID_PATTERN.test(body.id) || body.state !== 'RUNNING')
        problems.push(`201 without a queued task: ${answer.body.slice(0, 200)}`);
      return { problems, taskId: typeof body.id === 'string' ? body.id : undefined };
    }
    return { problems };
  }
  if (answer.status < 400) return { problems: [`answered ${answer.status}; expected ${describeExpect(c.expect)}`] };
  problems.push(...errorShapeProblems(answer));
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(answer.body) as Record<string, unknown>;
  } catch {
    return { problems };
  }
  const refusal = c.expect.refuse.find((r) => refusalMatches(r, answer.status, body.code));
  if (!refusal) {
    problems.push(`answered ${answer.status} ${String(body.code)}; expected ${describeExpect(c.expect)}`);
    return { problems };
  }
  const message = typeof body.message === 'string' ? body.message : '';
  const fields = Array.isArray(body.issues) ? (body.issues as Array<{ field?: unknown }>).map((i) => String(i.field)) : [];
  for (const name of refusal.names ?? []) {
    if (!names(message, name)) problems.push(`the message does not name ${JSON.stringify(name)}`);
    else if (body.code === 'VALIDATION_FAILED' && !fields.some((f) => f.includes(name) || (name.startsWith(f) && f !== ''))) {
      problems.push(`no issue names ${JSON.stringify(name)} (issues: ${JSON.stringify(fields)})`);
    }
  }
  return { problems };
}

/** The server's log lines about failed requests (5xx causes), for failure messages. */
export function serverErrors(output: string): string[] {
  return output
    .split('\n')
    .filter((line) => line.includes('"level":50') || line.includes('"level":60'))
    .map((line) => line.slice(0, 600));
}
