/*
 * Sign in with a project's id and token (checked with GET /v1beta/info before they are kept), or
 * register a new project, whose token is shown this once.
 */
import { useState } from 'preact/hooks';
import { checkCredentials, describeError, register } from '../api.js';
import { ErrorNote } from '../parts/notice.js';
import type { Session } from '../session.js';
import type { RegisteredView } from '../shapes.js';

export function SignIn({ onSignIn, notice }: { onSignIn: (session: Session) => void; notice: string | null }) {
  const [projectId, setProjectId] = useState('');
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (event: Event): Promise<void> => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    const session = { projectId: projectId.trim(), token: token.trim() };
    try {
      await checkCredentials(session);
      onSignIn(session);
    } catch (e) {
      setError(describeError(e));
      setBusy(false);
    }
  };

  return (
    <main class="sign-in">
      <h1 tabIndex={-1}>Kuueri Tasks</h1>
      <p class="lead">Sign in with your project’s ID and token to see and manage its tasks.</p>
      {notice && (
        <p class="note ok" role="status">
          {notice}
        </p>
      )}
      <form class="card" onSubmit={(e) => void submit(e)}>
        <h2>Sign in</h2>
        <label for="project-id">Project ID</label>
        <input
          id="project-id"
          name="project-id"
          value={projectId}
          onInput={(e) => setProjectId(e.currentTarget.value)}
          required
          autocomplete="username"
          spellcheck={false}
        />
        <label for="token">Token</label>
        <input
          id="token"
          name="token"
          type="password"
          value={token}
          onInput={(e) => setToken(e.currentTarget.value)}
          required
          autocomplete="current-password"
          spellcheck={false}
        />
        <ErrorNote message={error} />
        <button type="submit" class="primary" disabled={busy}>
          Sign in
        </button>
        <p class="hint">The token is kept in this tab only (sessionStorage) and forgotten when you sign out or close it.</p>
      </form>
      <Register onSignIn={onSignIn} />
    </main>
  );
}

function Register({ onSignIn }: { onSignIn: (session: Session) => void }) {
  const [email, setEmail] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [made, setMade] = useState<RegisteredView | null>(null);

  const submit = async (event: Event): Promise<void> => {
    event.preventDefault();
    setError(null);
    try {
      setMade(await register(email.trim()));
    } catch (e) {
      setError(describeError(e));
    }
  };

  if (made) {
    return (
      <section class="card" aria-labelledby="registered">
        <h2 id="registered">Project registered</h2>
        <p>Keep this token somewhere safe: it is shown only now.</p>
        <dl class="fields">
          <dt>Project ID</dt>
          <dd>
            <code>{made.id}</code>
          </dd>
          <dt>Token</dt>
          <dd>
            <code class="secret">{made.token}</code>
          </dd>
        </dl>
        <button type="button" class="primary" onClick={() => onSignIn({ projectId: made.id, token: made.token })}>
          Continue signed in
        </button>
      </section>
    );
  }
  return (
    <details class="card">
      <summary>Register a new project</summary>
      <form onSubmit={(e) => void submit(e)}>
        <label for="email">Email</label>
        <input id="email" type="email" value={email} onInput={(e) => setEmail(e.currentTarget.value)} required autocomplete="email" />
        <ErrorNote message={error} />
        <button type="submit">Register</button>
      </form>
    </details>
  );
}
