import type { FieldIssue } from '../shapes.js';

/** An error the user should read: announced by screen readers as it appears; `code` is the API's, when it gave one. */
export function ErrorNote({ message, code = null, issues = [] }: { message: string | null; code?: string | null; issues?: FieldIssue[] }) {
  if (!message) return null;
  return (
    <div class="note error" role="alert">
      {/* The server's message repeats the issues in one line; the list says it field by field. */}
      <p>
        {code && <code>{code}</code>} {issues.length > 0 ? 'The server refused these fields:' : message}
      </p>
      {issues.length > 0 && (
        <ul>
          {issues.map((issue) => (
            <li key={issue.field}>
              <code>{issue.field}</code> {issue.message}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

/** What an action did ("Task paused."), announced politely. Always rendered, so the live region exists before it speaks. */
export function StatusNote({ message }: { message: string | null }) {
  return (
    <p class={message ? 'note ok' : 'note empty'} role="status">
      {message ?? ''}
    </p>
  );
}
