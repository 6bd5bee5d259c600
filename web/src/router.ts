/*
 * The app's screens live under /dashboard; the server answers index.html for every such path, so a
 * reload or a shared link opens the same screen. Navigation is history.pushState plus a signal the
 * app listens to.
 */
import { useEffect, useState } from 'preact/hooks';

export const BASE = '/dashboard';

export type Route =
  | { screen: 'tasks' }
  | { screen: 'task'; id: string }
  | { screen: 'new'; url: string | null }
  | { screen: 'activity' }
  | { screen: 'inbox' }
  | { screen: 'missing' };

/** The screen a location shows. */
export function routeOf(pathname: string, search: string): Route {
  const path = pathname.startsWith(BASE) ? pathname.slice(BASE.length).replace(/\/+$/, '') : pathname;
  if (path === '' || path === '/tasks') return { screen: 'tasks' };
  const task = /^\/tasks\/([^/]+)$/.exec(path);
  if (task) return { screen: 'task', id: decodeURIComponent(task[1]!) };
  if (path === '/new') return { screen: 'new', url: new URLSearchParams(search).get('url') };
  if (path === '/activity') return { screen: 'activity' };
  if (path === '/inbox') return { screen: 'inbox' };
  return { screen: 'missing' };
}

export const paths = {
  tasks: () => `${BASE}/`,
  task: (id: string) => `${BASE}/tasks/${encodeURIComponent(id)}`,
  newTask: (url?: string) => `${BASE}/new${url ? `?${new URLSearchParams({ url }).toString()}` : ''}`,
  activity: () => `${BASE}/activity`,
  inbox: () => `${BASE}/inbox`,
};

const listeners = new Set<() => void>();
addEventListener('popstate', () => listeners.forEach((l) => l()));

export function navigate(to: string, options: { replace?: boolean } = {}): void {
  if (options.replace) history.replaceState(null, '', to);
  else history.pushState(null, '', to);
  listeners.forEach((l) => l());
}

/** The current route; re-renders on navigation. */
export function useRoute(): Route {
  const read = (): Route => routeOf(location.pathname, location.search);
  const [route, setRoute] = useState(read);
  useEffect(() => {
    const listener = (): void => setRoute(read());
    listeners.add(listener);
    return () => void listeners.delete(listener);
  }, []);
  return route;
}
