import { remembered } from './remembered.js';
import type { TargetView } from './shapes.js';
import { HTTP_METHODS, type HttpMethod, type HttpRequestSpec } from './task.js';

/*
 * The plaintext of a sealed request (format 2), before encryption: a compact binary layout rather
 * than JSON, so a stored task holds its body as the bytes it sends (not base64 inside JSON) and no
 * field names. Every length is an unsigned LEB128 varint; strings are UTF-8.
 *
 *   method (1 byte: index in HTTP_METHODS) | url | params count | (name, value)* |
 *   headers count | (name, value)* | body (the rest; none when empty)
 */

/** A request as the dispatcher sends it: the body as bytes, decoded once when it was sealed. */
export interface OpenedRequest {
  url: string;
  method: HttpMethod;
  body?: Buffer;
  params?: Record<string, string>;
  headers?: Record<string, string>;
}

/** The request as a subscribe gave it, from its opened form (to seal it anew for another task). */
export function specOf(opened: OpenedRequest): HttpRequestSpec {
  const spec: HttpRequestSpec = { url: opened.url, method: opened.method };
  if (opened.body !== undefined) spec.data = opened.body.toString('base64');
  if (opened.params) spec.params = opened.params;
  if (opened.headers) spec.headers = opened.headers;
  return spec;
}

export function encodeRequest(request: HttpRequestSpec): Buffer {
  // Sized first, then written in place: no Buffer per string, nor for the decoded body.
  const params = request.params === undefined ? [] : Object.entries(request.params);
  const headers = request.headers === undefined ? [] : Object.entries(request.headers);
  const body = request.data;
  const bodyBytes = body === undefined ? 0 : Buffer.byteLength(body, 'base64');
  let size = 1 + textSize(request.url) + varintSize(params.length) + varintSize(headers.length) + bodyBytes;
  for (const [name, value] of params) size += textSize(name) + textSize(value);
  for (const [name, value] of headers) size += textSize(name) + textSize(value);

  const out = Buffer.allocUnsafe(size);
  out[0] = HTTP_METHODS.indexOf(request.method);
  let at = writeText(out, 1, request.url);
  at = writeVarint(out, at, params.length);
  for (const [name, value] of params) at = writeText(out, writeText(out, at, name), value);
  at = writeVarint(out, at, headers.length);
  for (const [name, value] of headers) at = writeText(out, writeText(out, at, name), value);
  // byteLength counts what the base64 text decodes to; a body the decoder reads shorter would leave bytes unwritten.
  if (body !== undefined && out.write(body, at, 'base64') !== bodyBytes)
    return encodeRequest({ ...request, data: Buffer.from(body, 'base64').toString('base64') });
  at += bodyBytes;
  if (at !== size) throw new Error(`request encoding wrote ${at} bytes of ${size}`);
  return out;
}

function textSize(value: string): number {
  const bytes = Buffer.byteLength(value, 'utf8');
  return varintSize(bytes) + bytes;
}

function writeText(out: Buffer, at: number, value: string): number {
  const bytes = Buffer.byteLength(value, 'utf8');
  at = writeVarint(out, at, bytes);
  return at + out.write(value, at, 'utf8');
}

/** The inverse of encodeRequest; throws on anything it did not write (a stored record is input too). */
export function decodeRequest(bytes: Buffer): OpenedRequest {
  const read = readerOf(bytes);
  const map = (): Record<string, string> | undefined => {
    const count = read.varint();
    if (count === 0) return undefined;
    const out: Record<string, string> = {};
    for (let i = 0; i < count; i++) {
      const name = read.text();
      if (name === '__proto__') throw new Error('Sealed request has a forbidden name');
      out[name] = read.text();
    }
    return out;
  };
  const request: OpenedRequest = { url: read.text(), method: read.method };
  const params = map();
  const headers = map();
  if (params) request.params = params;
  if (headers) request.headers = headers;
  if (read.at() < bytes.length) request.body = bytes.subarray(read.at());
  return request;
}

/**
 * What a listing shows of an encoded request: its method and shownUrl, read from the start of the
 * layout; the params, headers and body after them are left undecoded.
 */
export function decodeRequestTarget(bytes: Buffer): TargetView {
  const read = readerOf(bytes);
  return { method: read.method, url: shownUrl(read.text()) };
}

/** Reads an encoded request from its method on: varints and strings, checked against the end. */
function readerOf(bytes: Buffer): { method: HttpMethod; varint(): number; text(): string; at(): number } {
  const method = HTTP_METHODS[bytes[0] ?? 255];
  if (method === undefined) throw new Error('Sealed request has an unknown method');
  let at = 1;
  const varint = (): number => {
    let value = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      const byte = bytes[at++];
      if (byte === undefined) throw new Error('Sealed request is cut short');
      value += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) return value;
    }
    throw new Error('Sealed request has a bad length');
  };
  const text = (): string => {
    const length = varint();
    if (at + length > bytes.length) throw new Error('Sealed request is cut short');
    const value = bytes.toString('utf8', at, at + length);
    at += length;
    return value;
  };
  return { method, varint, text, at: () => at };
}

/**
 * The URL a task shows of its request: without its query or fragment, which may carry a signature
 * or a key, as the headers, params and body may; '' for one that does not parse. Kept for the last
 * URLs seen: a batch's tasks mostly share a few.
 */
export const shownUrl = remembered((url: string): string => {
  const parsed = URL.canParse(url) ? new URL(url) : null;
  return parsed ? `${parsed.origin}${parsed.pathname}` : '';
}, 1_000);

function varintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 0x80);
    size++;
  }
  return size;
}

function writeVarint(out: Buffer, at: number, n: number): number {
  while (n >= 0x80) {
    out[at++] = (n & 0x7f) | 0x80;
    n = Math.floor(n / 0x80);
  }
  out[at++] = n;
  return at;
}
