/*
 * A small client for the v1beta API, as a user's code would call it (real HTTP through fetch). It
 * answers whatever the server said; test/helpers/api-tasks.ts reads tasks with assertions and
 * waits for their states.
 */
import type { TimelineView } from '../../src/core/shapes.js';

export interface Credentials {
  id: string;
  token: string;
}

export interface ApiResponse<T = Record<string, unknown>> {
  status: number;
  body: T;
  headers: Headers;
}

/** The two headers that authenticate a project's requests. */
export function authHeaders(creds: Credentials): Record<string, string> {
  return { authorization: `Bearer ${creds.token}`, 'x-kuueri-tasks-project': creds.id };
}

let emailCounter = 0;

export class ApiClient {
  constructor(readonly baseUrl: string) {}

  async request<T = Record<string, unknown>>(
    method: string,
    path: string,
    options: { body?: unknown; rawBody?: string; headers?: Record<string, string>; creds?: Credentials } = {},
  ): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = { ...(options.creds ? authHeaders(options.creds) : {}), ...options.headers };
    let body: string | undefined;
    if (options.rawBody !== undefined) body = options.rawBody;
    else if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers['content-type'] ??= 'application/json';
    }
    const response = await fetch(this.baseUrl + path, { method, headers, body });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = text === '' ? null : JSON.parse(text);
    } catch {
      // Not JSON: keep the text.
    }
    return { status: response.status, body: parsed as T, headers: response.headers };
  }

  async register(email = `user${++emailCounter}.${process.pid}.${Date.now()}@example.com`): Promise<Credentials> {
    const res = await this.request<Credentials>('POST', '/v1beta/register', { body: { email } });
    if (res.status !== 201) throw new Error(`register answered ${res.status}: ${JSON.stringify(res.body)}`);
    return res.body;
  }

  subscribe(creds: Credentials, body: unknown): Promise<ApiResponse> {
    return this.request('POST', '/v1beta/subscribe', { creds, body });
  }

  subscribeBatch(creds: Credentials, body: unknown): Promise<ApiResponse<unknown>> {
    return this.request('POST', '/v1beta/subscribe/batch', { creds, body });
  }

  task(creds: Credentials, id: string): Promise<ApiResponse> {
    return this.request('GET', `/v1beta/queues/${id}`, { creds });
  }

  /** The timeline, or a page of it: `query` is the query string without its `?` (`limit=50&cursor=…`). */
  timeline(creds: Credentials, id: string, query = ''): Promise<ApiResponse<TimelineView>> {
    return this.request('GET', `/v1beta/queues/${id}/timeline${query === '' ? '' : `?${query}`}`, { creds });
  }

  pause(creds: Credentials, id: string): Promise<ApiResponse> {
    return this.request('PATCH', `/v1beta/pause/${id}`, { creds });
  }

  resume(creds: Credentials, id: string): Promise<ApiResponse> {
    return this.request('PATCH', `/v1beta/resume/${id}`, { creds });
  }

  execute(creds: Credentials, id: string): Promise<ApiResponse> {
    return this.request('PATCH', `/v1beta/execute/${id}`, { creds });
  }

  reschedule(creds: Credentials, id: string, body: unknown): Promise<ApiResponse> {
    return this.request('PATCH', `/v1beta/reschedule/${id}`, { creds, body });
  }

  unsubscribe(creds: Credentials, id: string): Promise<ApiResponse> {
    return this.request('PATCH', `/v1beta/unsubscribe/${id}`, { creds });
  }

  remove(creds: Credentials, id: string): Promise<ApiResponse> {
    return this.request('DELETE', `/v1beta/queues/${id}`, { creds });
  }

  info(creds: Credentials): Promise<ApiResponse> {
    return this.request('GET', '/v1beta/info', { creds });
  }
}
