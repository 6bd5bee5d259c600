/**
 * A small client for the v1beta API, as a user's code would call it (real HTTP through fetch).
 */
export interface Credentials {
  id: string;
  token: string;
}

export interface ApiResponse<T = Record<string, unknown>> {
  status: number;
  body: T;
  headers: Headers;
}

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

  task(creds: Credentials, id: string): Promise<ApiResponse> {
    return this.request('GET', `/v1beta/queues/${id}`, { creds });
  }

  timeline(creds: Credentials, id: string): Promise<ApiResponse<Array<{ label: string; description: string; createdAt: number; metadata?: Record<string, unknown> }>>> {
    return this.request('GET', `/v1beta/queues/${id}/timeline`, { creds });
  }

  pause(creds: Credentials, id: string): Promise<ApiResponse> {
    return this.request('PATCH', `/v1beta/pause/${id}`, { creds });
  }

  resume(creds: Credentials, id: string): Promise<ApiResponse> {
    return this.request('PATCH', `/v1beta/resume/${id}`, { creds });
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

  /** Polls the task until `predicate` holds (the server's state changes after the target answers). */
  async waitForTask(creds: Credentials, id: string, predicate: (task: Record<string, unknown>) => boolean, timeoutMs = 15_000): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs;
    let last: Record<string, unknown> = {};
    while (Date.now() < deadline) {
      const res = await this.task(creds, id);
      last = res.body;
      if (res.status === 200 && predicate(last)) return last;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    throw new Error(`task ${id} did not reach the expected state in ${timeoutMs} ms; last seen ${JSON.stringify(last)}`);
  }
}
