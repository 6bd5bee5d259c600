/*
 * The app's frame: signed out, the sign-in screen; signed in, the header (project, navigation, sign
 * out) and the screen the location names. A change of screen moves focus to its heading, so a
 * keyboard or screen-reader user starts there, as after a page load.
 */
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { apiFor, whenUnauthorized } from './api.js';
import { Link } from './parts/link.js';
import { usePoll } from './poll.js';
import { type Route, navigate, paths, useRoute } from './router.js';
import { Activity } from './screens/activity.js';
import { Inbox } from './screens/inbox.js';
import { NewSchedule } from './screens/new-schedule.js';
import { NewTask } from './screens/new-task.js';
import { Schedules } from './screens/schedules.js';
import { SignIn } from './screens/sign-in.js';
import { TaskList } from './screens/task-list.js';
import { TaskPage } from './screens/task-page.js';
import { type Session, clearSession, readSession, saveSession } from './session.js';

export function App() {
  const [session, setSession] = useState<Session | null>(readSession);
  const [notice, setNotice] = useState<string | null>(null);
  const route = useRoute();

  const signOut = (message: string): void => {
    clearSession();
    setSession(null);
    setNotice(message);
    navigate(paths.tasks(), { replace: true });
  };
  useEffect(() => whenUnauthorized(() => signOut('The server refused this session; sign in again.')), []);
  // Not on the first render: a page that just loaded starts at its top, as any page does. A new
  // filter of the task list is the same screen: focus stays on the form that applied it.
  const opened = useRef(false);
  const place = route.screen === 'tasks' ? 'tasks' : JSON.stringify(route);
  useEffect(() => {
    if (opened.current) document.querySelector<HTMLElement>('main h1')?.focus();
    opened.current = true;
  }, [place, session === null]);

  if (!session) {
    return (
      <SignIn
        notice={notice}
        onSignIn={(next) => {
          saveSession(next);
          setNotice(null);
          setSession(next);
        }}
      />
    );
  }
  return <SignedIn session={session} route={route} onSignOut={() => signOut('Signed out.')} />;
}

const NAV: { label: string; href: string; screens: Route['screen'][] }[] = [
  { label: 'Tasks', href: paths.tasks(), screens: ['tasks', 'task'] },
  { label: 'New task', href: paths.newTask(), screens: ['new'] },
  { label: 'Schedules', href: paths.schedules(), screens: ['schedules', 'new-schedule'] },
  { label: 'Activity', href: paths.activity(), screens: ['activity'] },
  { label: 'Inbox', href: paths.inbox(), screens: ['inbox'] },
];

function SignedIn({ session, route, onSignOut }: { session: Session; route: Route; onSignOut: () => void }) {
  const api = useMemo(() => apiFor(session), [session]);
  const info = usePoll(() => api.info(), 'info', 30_000);
  return (
    <>
      <a class="skip" href="#content">
        Skip to content
      </a>
      <header class="top">
        <span class="brand">Kuueri Tasks</span>
        <nav aria-label="Main">
          <ul>
            {NAV.map((item) => (
              <li key={item.href} aria-current={item.screens.includes(route.screen) ? 'page' : undefined}>
                <Link href={item.href}>{item.label}</Link>
              </li>
            ))}
          </ul>
        </nav>
        <div class="who">
          <span class="project" title="Project ID">
            {info.data?.email ?? session.projectId}
          </span>
          {info.data && (
            <span class="muted small">
              {info.data.taskInQueue} / {info.data.taskInQueueLimit} queued
            </span>
          )}
          <button type="button" class="quiet" onClick={onSignOut}>
            Sign out
          </button>
        </div>
      </header>
      <div id="content" class="content">
        <Screen route={route} session={session} api={api} />
      </div>
    </>
  );
}

function Screen({ route, session, api }: { route: Route; session: Session; api: ReturnType<typeof apiFor> }) {
  switch (route.screen) {
    case 'tasks':
      return <TaskList api={api} filter={route.filter} />;
    case 'task':
      return <TaskPage key={route.id} api={api} id={route.id} />;
    case 'new':
      return <NewTask api={api} session={session} url={route.url} />;
    case 'activity':
      return <Activity api={api} />;
    case 'inbox':
      return <Inbox api={api} />;
    case 'schedules':
      return <Schedules api={api} />;
    case 'new-schedule':
      return <NewSchedule api={api} session={session} url={route.url} />;
    case 'missing':
      return (
        <main>
          <h1 tabIndex={-1}>Not found</h1>
          <p>
            No such page. <Link href={paths.tasks()}>Go to the tasks</Link>.
          </p>
        </main>
      );
  }
}
