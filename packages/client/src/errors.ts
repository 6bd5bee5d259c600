/*
 * The error a client method throws when the server answers anything but success: the API's coded
 * error (`code`, `message`, HTTP `status`, and the field `issues` of a validation failure), or, when
 * the answer is not the API's error body (a proxy's page, a cut connection), `UNEXPECTED_ANSWER`.
 * A request that never got an answer rejects with fetch's own error instead.
 */
import type { ErrorBody } from './api-types.js';

/** A code of the API's error registry (docs/errors.md). */
export type ApiErrorCode = ErrorBody['code'];

/** A field the server refused, and why (on `VALIDATION_FAILED`). */
export type ApiIssue = NonNullable<ErrorBody['issues']>[number];

/** The answer was not the API's: not JSON, or not the shape the operation declares. */
export const UNEXPECTED_ANSWER = 'UNEXPECTED_ANSWER';

/** What the server said went wrong, thrown by every method of the client. */
export class KuueriTasksError extends Error {
  override readonly name = 'KuueriTasksError';
  /** The API's error code, or `UNEXPECTED_ANSWER`. */
  readonly code: ApiErrorCode | typeof UNEXPECTED_ANSWER;
  /** The HTTP status of the answer. */
  readonly status: number;
  /** On `VALIDATION_FAILED`: each field refused and why. */
  readonly issues: ApiIssue[];

  constructor(status: number, code: ApiErrorCode | typeof UNEXPECTED_ANSWER, message: string, issues: ApiIssue[] = []) {
    super(message);
    this.status = status;
    this.code = code;
    this.issues = issues;
  }

  /** The error an answer carries: its coded body, or `UNEXPECTED_ANSWER` when it has none. */
  static fromAnswer(status: number, body: unknown): KuueriTasksError {
    if (isErrorBody(body)) return new KuueriTasksError(status, body.code, body.message, body.issues ?? []);
    return new KuueriTasksError(status, UNEXPECTED_ANSWER, `The server answered ${status} without the API's error body`);
  }
}

function isErrorBody(body: unknown): body is ErrorBody {
  if (typeof body !== 'object' || body === null) return false;
  const { code, message, issues } = body as Record<string, unknown>;
  return typeof code === 'string' && typeof message === 'string' && (issues === undefined || Array.isArray(issues));
}
