/*
 * The signed-in project: its id and token, kept in this tab's sessionStorage only, so they go when
 * the tab closes and never reach a URL, a cookie, localStorage or a log.
 */

export interface Session {
  projectId: string;
  token: string;
}

const KEY = 'kuueri-tasks.session';

export function readSession(): Session | null {
  try {
    const value: unknown = JSON.parse(sessionStorage.getItem(KEY) ?? 'null');
    if (value && typeof value === 'object' && 'projectId' in value && 'token' in value) {
      const { projectId, token } = value;
      if (typeof projectId === 'string' && typeof token === 'string') return { projectId, token };
    }
  } catch {
    // Unreadable: as good as signed out.
  }
  return null;
}

export function saveSession(session: Session): void {
  sessionStorage.setItem(KEY, JSON.stringify({ projectId: session.projectId, token: session.token }));
}

export function clearSession(): void {
  sessionStorage.removeItem(KEY);
}
