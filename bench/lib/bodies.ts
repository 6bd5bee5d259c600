/*
 * The requests the bench sends: one realistic subscribe body of about 1 KB (a webhook with a JSON
 * payload, a bearer header for the target, query params and a retry policy), and the HTTP request
 * the server then sends to the target, so the ceilings and BullMQ send exactly the same bytes.
 */

/** A typical webhook payload; with the rest of the body the subscribe request is ~1 KB. */
export const PAYLOAD = JSON.stringify({
  event: 'invoice.payment_succeeded',
  id: 'evt_1PqXk2Lz0aB9cD3eF4gH5iJ6',
  created: 1764374400,
  livemode: false,
  data: {
    object: {
      id: 'in_1PqXk1Lz0aB9cD3eKlMnOpQr',
      customer: 'cus_QhR8sT2uV4wX6y',
      amount_paid: 4900,
      currency: 'eur',
      status: 'paid',
      lines: [{ id: 'il_1', description: 'Pro plan (monthly)', amount: 4900, quantity: 1, period: { start: 1764374400, end: 1767052800 } }],
      metadata: { orderId: 'ord_88231', region: 'eu-west', source: 'checkout' },
    },
  },
  request: { id: 'req_8a7b6c5d4e3f', idempotency_key: '4c1f9e0a-2b3d-4e5f-8a9b-0c1d2e3f4a5b' },
});

export const PAYLOAD_BASE64 = Buffer.from(PAYLOAD, 'utf8').toString('base64');
export const PAYLOAD_BYTES = Buffer.from(PAYLOAD, 'utf8');

export const TARGET_HEADERS: Record<string, string> = {
  'Content-Type': 'application/json',
  Authorization: 'Bearer whsec_5f3c9a7e1b2d4f6a8c0e2b4d6f8a0c2e',
  'X-Request-Source': 'kuueri-bench',
};

export interface SubscribeOptions {
  /** Base URL of the target, e.g. http://127.0.0.1:4000 */
  target: string;
  executionAt?: number;
  executionDelay?: string;
  /** Query params the target receives (the due time, the task's index). */
  params?: Record<string, string>;
  /** The task's timeout (default 30s). */
  timeout?: string;
  /** The task's flow key (none when absent). */
  flowKey?: string;
}

export function subscribeBody(options: SubscribeOptions): string {
  const config: Record<string, unknown> = { retry: 3, retryInterval: '10s', timeout: options.timeout ?? '30s' };
  if (options.executionAt !== undefined) config.executionAt = options.executionAt;
  else config.executionDelay = options.executionDelay ?? '1h';
  return JSON.stringify({
    httpRequest: {
      url: `${options.target}/hook`,
      method: 'POST',
      data: PAYLOAD_BASE64,
      params: { source: 'bench', ...options.params },
      headers: TARGET_HEADERS,
    },
    config,
    ...(options.flowKey === undefined ? {} : { flowKey: options.flowKey }),
  });
}

/** The path the server requests for a task subscribed with `params` (params are appended in order). */
export function targetPath(params: Record<string, string>): string {
  const search = new URLSearchParams({ source: 'bench', ...params });
  return `/hook?${search.toString()}`;
}

/** The headers the server sends with the first attempt of a task (see core/task-machine attemptHeaders). */
export function dispatchHeaders(taskId: string): Record<string, string> {
  return {
    ...TARGET_HEADERS,
    'User-Agent': 'Kuueri-Tasks',
    'X-Kuueri-Tasks-Queue': taskId,
    'X-Kuueri-Tasks-Retry-Count': '0',
    'X-Kuueri-Tasks-Currently-Retry': 'false',
    'X-Kuueri-Tasks-Repeat-Count': '0',
    'X-Kuueri-Tasks-Currently-Repeat': 'false',
  };
}
