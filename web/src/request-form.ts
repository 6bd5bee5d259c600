/*
 * The request part every form of the app shares (a task's, a schedule's): its values, the
 * `httpRequest` they become (the body text base64 encoded into `data`), and a POST of the whole
 * body as a curl command, which names the token only as $KUUERI_TOKEN so it can be copied and shared.
 */
import type { HttpMethod, SubscribeBody } from './shapes.js';

/** What the request fields hold. */
export interface RequestForm {
  url: string;
  method: HttpMethod;
  /** One `Name: value` per line. */
  headers: string;
  body: string;
}

export const EMPTY_REQUEST: RequestForm = {
  url: '',
  method: 'POST',
  headers: 'Content-Type: application/json',
  body: '',
};

/** Whether `method` carries a body (the API sends none with GET and DELETE). */
export const sendsBody = (method: HttpMethod): boolean => method !== 'GET' && method !== 'DELETE';

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

/** The `httpRequest` the fields describe; the server judges it (its issues name `httpRequest.*`). */
export function httpRequestOf(form: RequestForm): SubscribeBody['httpRequest'] {
  const { headers } = parseHeaders(form.headers);
  const httpRequest: SubscribeBody['httpRequest'] = { url: form.url.trim(), method: form.method };
  if (Object.keys(headers).length > 0) httpRequest.headers = headers;
  if (form.body !== '' && sendsBody(form.method)) httpRequest.data = base64Of(form.body);
  return httpRequest;
}

/** Words separated by commas or spaces (tags), none when empty. */
export const wordsOf = (text: string): string[] => text.split(/[\s,]+/).filter((t) => t !== '');

/** Quotes a word for a POSIX shell. */
const shellQuote = (text: string): string => `'${text.replace(/'/g, `'\\''`)}'`;

/** `body` POSTed to `path` (the subscribe route unless told) as a curl command against `origin`; the token stays a shell variable. */
export function curlOf(body: unknown, origin: string, projectId: string, path = '/v1beta/subscribe'): string {
  return [
    `curl -X POST ${shellQuote(`${origin}${path}`)}`,
    `  -H 'content-type: application/json'`,
    `  -H "authorization: Bearer $KUUERI_TOKEN"`,
    `  -H ${shellQuote(`x-kuueri-tasks-project: ${projectId}`)}`,
    `  -d ${shellQuote(JSON.stringify(body, null, 2))}`,
  ].join(' \\\n');
}
