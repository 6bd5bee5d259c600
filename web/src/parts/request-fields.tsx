/*
 * What the forms that make a request share (a task's, a schedule's): their state and submission
 * (useRequestForm), the request fieldset (URL, method, headers, body as text), labelled text
 * fields, the server's refusal marked on the fields it names, and the same request as a curl
 * command beside the form.
 */
import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { ApiError, describeError } from '../api.js';
import { type RequestForm, parseHeaders, sendsBody } from '../request-form.js';
import { HTTP_METHODS, type FieldIssue, type HttpMethod } from '../shapes.js';

/** Why the server refused a form: its code, message and field issues. */
export interface FormError {
  message: string;
  code: string | null;
  issues: FieldIssue[];
}

function formErrorOf(error: unknown): FormError {
  return error instanceof ApiError
    ? { message: error.message, code: error.code, issues: error.issues }
    : { message: describeError(error), code: null, issues: [] };
}

/** Marks an input whose field (`httpRequest.url`, `tags.0`…) a refusal names: `aria-invalid`'s value. */
export type Invalid = (...fields: string[]) => true | undefined;

function invalidIn(error: FormError | null): Invalid {
  return (...fields) =>
    error?.issues.some((issue) => fields.some((field) => issue.field === field || issue.field.startsWith(`${field}.`))) || undefined;
}

/** A form's values, how an input sets one, and its submission with what the server answered. */
export interface RequestFormState<F extends RequestForm> {
  form: F;
  /** The input handler that sets `name` to the input's value. */
  set: (name: keyof F) => (event: Event) => void;
  error: FormError | null;
  invalid: Invalid;
  headerProblem: string | null;
  busy: boolean;
  /** Sends the form unless its headers are malformed; a refusal stays on screen, marked on its fields. */
  submit: (event: Event) => Promise<void>;
}

/** The state of a form whose `send` makes something (and moves on); `send` throws what the API refused. */
export function useRequestForm<F extends RequestForm>(initial: () => F, send: (form: F) => Promise<void>): RequestFormState<F> {
  const [form, setForm] = useState<F>(initial);
  const [error, setError] = useState<FormError | null>(null);
  const [busy, setBusy] = useState(false);
  const headerProblem = parseHeaders(form.headers).problem;
  const set =
    (name: keyof F) =>
    (event: Event): void =>
      setForm({ ...form, [name]: (event.currentTarget as HTMLInputElement).value });
  const submit = async (event: Event): Promise<void> => {
    event.preventDefault();
    if (headerProblem) {
      setError({ message: headerProblem, code: null, issues: [] });
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await send(form);
    } catch (e) {
      setError(formErrorOf(e));
      setBusy(false);
    }
  };
  return { form, set, error, invalid: invalidIn(error), headerProblem, busy, submit };
}

interface TextFieldProps {
  id: string;
  label: string;
  value: string;
  onInput: (event: Event) => void;
  invalid: true | undefined;
  /** Said under the input, and read with it. */
  hint?: ComponentChildren;
  placeholder?: string;
  required?: boolean;
}

/** A labelled one-line text input, with its hint. */
export function TextField({ id, label, value, onInput, invalid, hint, placeholder, required }: TextFieldProps) {
  return (
    <>
      <label for={id}>{label}</label>
      <input
        id={id}
        aria-invalid={invalid}
        value={value}
        onInput={onInput}
        required={required}
        placeholder={placeholder}
        aria-describedby={hint ? `${id}-hint` : undefined}
        spellcheck={false}
      />
      {hint && (
        <p id={`${id}-hint`} class="hint">
          {hint}
        </p>
      )}
    </>
  );
}

interface RequestFieldsProps {
  /** Prefixes the inputs' ids, unique on the page. */
  id: string;
  state: RequestFormState<RequestForm>;
}

export function RequestFields({ id, state }: RequestFieldsProps) {
  const { form, set, invalid, headerProblem } = state;
  const hasBody = sendsBody(form.method);
  return (
    <fieldset>
      <legend>Request</legend>
      <label for={`${id}-url`}>URL</label>
      <input
        id={`${id}-url`}
        aria-invalid={invalid('httpRequest.url', 'httpRequest.params')}
        type="url"
        value={form.url}
        onInput={set('url')}
        required
        placeholder="https://api.example.com/hook"
        spellcheck={false}
      />
      <label for={`${id}-method`}>Method</label>
      <select id={`${id}-method`} aria-invalid={invalid('httpRequest.method')} value={form.method} onChange={set('method')}>
        {HTTP_METHODS.map((method: HttpMethod) => (
          <option key={method}>{method}</option>
        ))}
      </select>
      <label for={`${id}-headers`}>Headers</label>
      <textarea
        id={`${id}-headers`}
        aria-invalid={invalid('httpRequest.headers') ?? (headerProblem ? true : undefined)}
        rows={3}
        value={form.headers}
        onInput={set('headers')}
        aria-describedby={`${id}-headers-hint`}
        spellcheck={false}
      />
      <p id={`${id}-headers-hint`} class="hint">
        One per line, as <code>Name: value</code>.
      </p>
      <label for={`${id}-body`}>Body</label>
      <textarea
        id={`${id}-body`}
        aria-invalid={invalid('httpRequest.data')}
        rows={5}
        value={form.body}
        onInput={set('body')}
        disabled={!hasBody}
        aria-describedby={`${id}-body-hint`}
        spellcheck={false}
      />
      <p id={`${id}-body-hint`} class="hint">
        Text, sent as it is (the page base64-encodes it for the API). {hasBody ? '' : `${form.method} sends no body.`}
      </p>
    </fieldset>
  );
}

/** The form's request as a curl command (request-form.ts curlOf), which never holds the token. */
export function CurlPanel({ command }: { command: string }) {
  return (
    <section class="card curl" aria-labelledby="curl-title">
      <h2 id="curl-title">The same with curl</h2>
      <p class="hint">
        Set <code>KUUERI_TOKEN</code> to your token first; the command never contains it.
      </p>
      <pre tabIndex={0} aria-label="curl command">
        <code>{command}</code>
      </pre>
    </section>
  );
}
