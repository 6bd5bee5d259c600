/*
 * The "new schedule" form's values and the body of `POST /v1beta/schedules` they become: a cron
 * expression in a time zone, the request (request-form.ts's, as a task's), tags and a flow key that
 * every run's task carries. The policies (overlap, catch-up, jitter) keep the API's defaults.
 */
import { EMPTY_REQUEST, type RequestForm, httpRequestOf, wordsOf } from './request-form.js';
import type { ScheduleBody } from './shapes.js';

export interface ScheduleForm extends RequestForm {
  cron: string;
  timezone: string;
  /** Separated by commas or spaces. */
  tags: string;
  flowKey: string;
}

export const EMPTY_SCHEDULE_FORM: ScheduleForm = {
  ...EMPTY_REQUEST,
  cron: '',
  timezone: 'UTC',
  tags: '',
  flowKey: '',
};

/** The schedule body the form describes; the server judges it (its issues name these fields). */
export function scheduleBodyOf(form: ScheduleForm): ScheduleBody {
  // The cron expression and its zone first: the curl command reads in that order.
  const timezone = form.timezone.trim();
  const body: ScheduleBody = { cron: form.cron.trim(), ...(timezone === '' ? {} : { timezone }), httpRequest: httpRequestOf(form) };
  const tags = wordsOf(form.tags);
  if (tags.length > 0) body.tags = tags;
  const flowKey = form.flowKey.trim();
  if (flowKey !== '') body.flowKey = flowKey;
  return body;
}
