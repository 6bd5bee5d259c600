/*
 * The "new task" form's values and what they become: the subscribe body (the body text base64
 * encoded into `data`), and the same request as a curl command, which names the token only as
 * $KUUERI_TOKEN so it can be copied and shared.
 */
import type { HttpMethod, SubscribeBody } from './shapes.js';

export interface TaskForm {
  url: string;
  method: HttpMethod;
  /** One `Name: value` per line. */
  headers: string;
  body: string;
  when: 'delay' | 'at';
  delay: string;
  /** A `datetime-local` value, in the browser's time zone. */
  at: string;
  retry: string;
  retryInterval: string;
  repeat: string;
  repeatInterval: string;
  /** Separated by commas or spaces. */
  tags: string;
}

export const EMPTY_FORM: TaskForm = {
  url: '',
  method: 'POST',
  headers: 'Content-Type: application/json',
  body: '',
  when: 'delay',
  delay: '10s',
  at: '',
  retry: '0',
  retryInterval: '',
  repeat: '0',
  repeatInterval: '',
  tags: '',
};

/** UTF-8 text as standard base64. */
export function base64Of(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

/** `Name: value` lines as a headers object; a line without a colon is answered as a problem. */
export function parseHeaders(text: string): { headers: Record<string, string>; problem: string | null } {
  const headers: Record<string, string> = {};
  for (const [index, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (line === '') continue;
    const colon = line.indexOf(':');
    if (colon <= 0) return { headers, problem: `Header line ${index + 1} needs the form "Name: value".` };
    headers[line.slice(0, colon).trim()] = line.slice(colon + 1).trim();
  }
  return { headers, problem: null };
}

const count = (text: string): number | undefined => (text.trim() === '' ? undefined : Number(text.trim()));
/** A duration as typed: digits alone are milliseconds (a number), anything else as the server reads strings ("10s"). */
const duration = (text: string): number | string | undefined => {
  const t = text.trim();
  if (t === '') return undefined;
  return /^\d+$/.test(t) ? Number(t) : t;
};

/** The subscribe body the form describes; the server judges it (its issues name these fields). */
export function subscribeBodyOf(form: TaskForm): SubscribeBody {
  const { headers } = parseHeaders(form.headers);
  const config: NonNullable<SubscribeBody['config']> = {};
  if (form.when === 'delay') {
    const delay = duration(form.delay);
    if (delay !== undefined) config.executionDelay = delay;
  } else if (form.at !== '') {
    config.executionAt = new Date(form.at).getTime();
  }
  const retry = count(form.retry);
  if (retry) {
    config.retry = retry;
    const interval = duration(form.retryInterval);
    if (interval !== undefined) config.retryInterval = interval;
  }
  const repeat = count(form.repeat);
  if (repeat) {
    config.repeat = repeat;
    const interval = duration(form.repeatInterval);
    if (interval !== undefined) config.repeatInterval = interval;
  }
  const tags = form.tags.split(/[\s,]+/).filter((t) => t !== '');
  const httpRequest: SubscribeBody['httpRequest'] = { url: form.url.trim(), method: form.method };
  if (Object.keys(headers).length > 0) httpRequest.headers = headers;
  if (form.body !== '' && form.method !== 'GET' && form.method !== 'DELETE') httpRequest.data = base64Of(form.body);
  const body: SubscribeBody & { tags?: string[] } = { httpRequest };
  if (Object.keys(config).length > 0) body.config = config;
  if (tags.length > 0) body.tags = tags;
  return body;
}

/** Quotes a word for a POSIX shell. */
const shellQuote = (text: string): string => `'${text.replace(/'/g, `'\\''`)}'`;

/** The same subscribe as a curl command, against `origin`; the token stays a shell variable. */
export function curlOf(body: SubscribeBody, origin: string, projectId: string): string {
  return [
    `curl -X POST ${shellQuote(`${origin}/v1beta/subscribe`)}`,
    `  -H 'content-type: application/json'`,
    `  -H "authorization: Bearer $KUUERI_TOKEN"`,
    `  -H ${shellQuote(`x-kuueri-tasks-project: ${projectId}`)}`,
    `  -d ${shellQuote(JSON.stringify(body, null, 2))}`,
  ].join(' \\\n');
}
