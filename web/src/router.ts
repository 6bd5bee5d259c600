/*
 * The app's screens live under /dashboard; the server answers index.html for every such path, so a
 * reload or a shared link opens the same screen. Navigation is history.pushState plus a signal the
 * app listens to.
 */
import { useEffect, useState } from 'preact/hooks';
import { TASK_FILTERS, type TaskFilter, filterQuery } from './api.js';

export const BASE = '/dashboard';

export type Route =
  | { screen: 'tasks'; filter: TaskFilter }
  | { screen: 'task'; id: string }
  | { screen: 'new'; url: string | null }
  | { screen: 'activity' }
  | { screen: 'inbox' }
  | { screen: 'schedules' }
  | { screen: 'new-schedule'; url: string | null }
  | { screen: 'missing' };

/** The screen a location shows. */
export function routeOf(pathname: string, search: string): Route {
  const path = pathname.startsWith(BASE) ? pathname.slice(BASE.length).replace(/\/+$/, '') : pathname;
  if (path === '' || path === '/tasks') return { screen: 'tasks', filter: filterOf(search) };
  const task = /^\/tasks\/([^/]+)$/.exec(path);
  if (task) return { screen: 'task', id: decodeURIComponent(task[1]!) };
  if (path === '/new') return { screen: 'new', url: new URLSearchParams(search).get('url') };
  if (path === '/activity') return { screen: 'activity' };
  if (path === '/inbox') return { screen: 'inbox' };
  if (path === '/schedules') return { screen: 'schedules' };
  if (path === '/schedules/new') return { screen: 'new-schedule', url: new URLSearchParams(search).get('url') };
  return { screen: 'missing' };
}

/** The list's filter a query names (`?schedule=…&flow=…`): a reload or a shared link keeps it. */
function filterOf(search: string): TaskFilter {
  const query = new URLSearchParams(search);
  const filter: TaskFilter = {};
  for (const name of TASK_FILTERS) {
    const value = query.get(name)?.trim();
    if (value) filter[name] = value;
  }
  return filter;
}

/** `?url=…` for a form to start with that target. */
const urlQuery = (url?: string): string => (url ? `?${new URLSearchParams({ url }).toString()}` : '');

export const paths = {
  /** The task list, filtered as `filter` says. */
  tasks: (filter: TaskFilter = {}) => {
    const text = filterQuery(filter).toString();
    return `${BASE}/${text === '' ? '' : `?${text}`}`;
  },
  task: (id: string) => `${BASE}/tasks/${encodeURIComponent(id)}`,
  newTask: (url?: string) => `${BASE}/new${urlQuery(url)}`,
  activity: () => `${BASE}/activity`,
  inbox: () => `${BASE}/inbox`,
  schedules: () => `${BASE}/schedules`,
  newSchedule: (url?: string) => `${BASE}/schedules/new${urlQuery(url)}`,
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
