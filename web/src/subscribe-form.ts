/*
 * The "new task" form's values and the subscribe body they become (the request part is
 * request-form.ts's, shared with the schedule form).
 */
import { EMPTY_REQUEST, type RequestForm, httpRequestOf, wordsOf } from './request-form.js';
import type { SubscribeBody } from './shapes.js';

export interface TaskForm extends RequestForm {
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
  ...EMPTY_REQUEST,
  when: 'delay',
  delay: '10s',
  at: '',
  retry: '0',
  retryInterval: '',
  repeat: '0',
  repeatInterval: '',
  tags: '',
};

const count = (text: string): number | undefined => (text.trim() === '' ? undefined : Number(text.trim()));
/** A duration as typed: digits alone are milliseconds (a number), anything else as the server reads strings ("10s"). */
const duration = (text: string): number | string | undefined => {
  const t = text.trim();
  if (t === '') return undefined;
  return /^\d+$/.test(t) ? Number(t) : t;
};

/** The subscribe body the form describes; the server judges it (its issues name these fields). */
export function subscribeBodyOf(form: TaskForm): SubscribeBody {
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
  const tags = wordsOf(form.tags);
  const body: SubscribeBody & { tags?: string[] } = { httpRequest: httpRequestOf(form) };
  if (Object.keys(config).length > 0) body.config = config;
  if (tags.length > 0) body.tags = tags;
  return body;
}
