/*
 * The web app in a real browser against a real server (SQLite, dispatcher, real targets): what a
 * user does, screen by screen, waiting on what the page shows (playwright's locators wait by
 * themselves) and never on a fixed sleep. Each screen is judged by axe-core; each page must make no
 * request beyond this server, log nothing of the token, and break no rule of its CSP.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { after, afterEach, before, describe, test } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { QueuedView, ScheduleListView, ScheduleView } from '../../src/core/shapes.js';
import type { Credentials } from '../helpers/api-client.js';
import { getTask, subscribeOk } from '../helpers/api-tasks.js';
import { must } from '../helpers/must.js';
import { type PageRecord, accessibilityViolations, launchBrowser, openPage } from '../helpers/browser.js';
import { TargetServer } from '../helpers/target-server.js';
import { type TestServer, startTestServer } from '../helpers/test-server.js';

const execFileAsync = promisify(execFile);

/** The test server's TASKS_SCHEDULE_LIMIT. */
const SCHEDULE_LIMIT = 2;

describe('the web app at /dashboard', () => {
  let server: TestServer;
  let target: TargetServer;
  let browser: Browser;
  const opened: { context: BrowserContext; page: Page; record: PageRecord; creds: Credentials }[] = [];

  before(async () => {
    // Two schedules a project: a test can fill a project's schedules and see the form refuse one more.
    [server, target, browser] = await Promise.all([
      startTestServer({ env: { TASKS_SCHEDULE_LIMIT: String(SCHEDULE_LIMIT) } }),
      TargetServer.start(),
      launchBrowser(),
    ]);
  });
  after(async () => {
    await browser?.close();
    await Promise.all([server?.close(), target?.close()]);
  });
  // Whatever a test did, its page stayed on this server, never logged the token, and the CSP held.
  afterEach(async () => {
    for (const { context, record, creds } of opened.splice(0)) {
      await context.close();
      const elsewhere = record.requests.filter((url) => !url.startsWith(`${server.url}/`) && !url.startsWith('data:'));
      assert.deepEqual(elsewhere, [], 'the page requested nothing beyond this server');
      assert.deepEqual(
        record.console.filter((line) => line.includes(creds.token)),
        [],
        'the token appears in no console line',
      );
      assert.deepEqual(
        record.requests.filter((url) => url.includes(creds.token)),
        [],
        'the token appears in no URL',
      );
      assert.deepEqual(
        record.console.filter((line) => /Content Security Policy/i.test(line)),
        [],
        'the page broke no rule of its CSP',
      );
      assert.deepEqual(record.errors, [], 'the page threw no error');
    }
  });

  /** A new project, and a fresh browser context on the sign-in screen. */
  async function freshPage(): Promise<{ page: Page; context: BrowserContext; creds: Credentials }> {
    const creds = await server.client.register();
    const { context, page, record } = await openPage(browser);
    opened.push({ context, page, record, creds });
    await page.goto(`${server.url}/dashboard`);
    return { page, context, creds };
  }

  async function signIn(page: Page, creds: Credentials): Promise<void> {
    await page.getByLabel('Project ID', { exact: true }).fill(creds.id);
    await page.getByLabel('Token', { exact: true }).fill(creds.token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { level: 1, name: 'Tasks', exact: true }).waitFor();
  }

  async function assertAccessible(page: Page, screen: string): Promise<void> {
    assert.deepEqual(await accessibilityViolations(page), [], `no serious or critical axe-core violation on ${screen}`);
  }

  /** The page's storage and cookies, as the browser holds them. */
  async function storage(page: Page, context: BrowserContext) {
    const [session, local] = await page.evaluate<[string, string]>('[JSON.stringify(sessionStorage), JSON.stringify(localStorage)]');
    return { session, local, cookies: await context.cookies() };
  }

  /** Signs out, and checks the token is gone and nothing else was kept. */
  async function signOut(page: Page, context: BrowserContext, creds: Credentials): Promise<void> {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    const signedOut = await storage(page, context);
    assert.ok(!signedOut.session.includes(creds.token), 'the token is gone from sessionStorage');
    assert.equal(signedOut.local, '{}', 'nothing in localStorage');
    assert.deepEqual(signedOut.cookies, [], 'no cookie');
  }

  test('signs in with the labelled fields, keeps the token in sessionStorage only, and signs out', async () => {
    const { page, context, creds } = await freshPage();
    await assertAccessible(page, 'the sign-in screen');

    // A wrong token is refused with a message, and nothing is kept.
    await page.getByLabel('Project ID', { exact: true }).fill(creds.id);
    await page.getByLabel('Token', { exact: true }).fill('kt_wrong');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: /./ }).waitFor();
    assert.equal((await storage(page, context)).session, '{}', 'a refused token is not kept');

    await signIn(page, creds);
    const signedIn = await storage(page, context);
    assert.ok(signedIn.session.includes(creds.token), 'the token is in sessionStorage');
    assert.equal(signedIn.local, '{}', 'nothing in localStorage');
    assert.deepEqual(signedIn.cookies, [], 'no cookie');
    assert.ok(!page.url().includes(creds.token), 'the token is not in the URL');
    await assertAccessible(page, 'the task list');

    // A reload keeps the session (same tab). The keyboard starts at the skip link, then the
    // navigation, and the focused control shows it.
    await page.reload();
    await page.getByRole('heading', { level: 1, name: 'Tasks', exact: true }).waitFor();
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate<string>('document.activeElement.textContent'), 'Skip to content');
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate<string>('document.activeElement.textContent'), 'Tasks');
    assert.equal(await page.evaluate<string>('getComputedStyle(document.activeElement).outlineStyle'), 'solid', 'focus is visible');

    await signOut(page, context, creds);
  });

  test("a task's page shows it, and pauses, resumes and (after a confirmation dialog) cancels and deletes it", async () => {
    const { page, creds } = await freshPage();
    const task = await subscribeOk(server.client, creds, {
      httpRequest: { url: target.url('/later'), method: 'POST' },
      config: { executionDelay: '1h', retry: 2, retryInterval: '5s' },
    });
    await signIn(page, creds);
    // A link to the task's own screen opens it directly (the server answers the app for every path).
    await page.goto(`${server.url}/dashboard/tasks/${task.id}`);
    const badge = page.locator('.heading .badge');
    await page.getByRole('heading', { level: 1, name: task.id, exact: true }).waitFor();
    assert.equal(await badge.textContent(), 'RUNNING');
    await page.getByText('2 × every 5s').waitFor();
    await assertAccessible(page, "a task's page");

    await page.getByRole('button', { name: 'Pause' }).click();
    await badge.getByText('PAUSED').waitFor();
    assert.equal((await getTask(server.client, creds, task.id)).state, 'PAUSED');
    await page.getByRole('button', { name: 'Resume' }).click();
    await badge.getByText('RUNNING').waitFor();
    await page.locator('.timeline .label', { hasText: 'Resume' }).waitFor();

    // Cancel asks first; Escape keeps the task.
    await page.getByRole('button', { name: 'Cancel task' }).click();
    const dialog = page.getByRole('dialog', { name: 'Cancel this task?' });
    await dialog.waitFor();
    await assertAccessible(page, 'the confirmation dialog');
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    assert.equal((await getTask(server.client, creds, task.id)).state, 'RUNNING', 'Escape cancelled nothing');

    // Confirmed with the keyboard alone: focus starts on "Keep it", Tab reaches the action.
    await page.getByRole('button', { name: 'Cancel task' }).click();
    await dialog.waitFor();
    await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');
    await badge.getByText('CANCELED').waitFor();
    await page.locator('.timeline .label', { hasText: 'Unsubscribe' }).waitFor();

    await page.getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('dialog', { name: 'Delete this task?' }).getByRole('button', { name: 'Delete task' }).click();
    await page.getByRole('heading', { level: 1, name: 'Tasks', exact: true }).waitFor();
    assert.equal((await server.client.task(creds, task.id)).status, 404, 'the task is deleted');
  });

  test("a task's page reschedules it in a dialog and runs it now", async () => {
    const { page, creds } = await freshPage();
    const task = await subscribeOk(server.client, creds, {
      httpRequest: { url: target.url('/run-now'), method: 'POST' },
      config: { executionDelay: '1h' },
    });
    await signIn(page, creds);
    await page.goto(`${server.url}/dashboard/tasks/${task.id}`);
    await page.getByRole('heading', { level: 1, name: task.id, exact: true }).waitFor();

    await page.getByRole('button', { name: 'Reschedule' }).click();
    const dialog = page.getByRole('dialog', { name: 'Reschedule the next run' });
    await dialog.waitFor();
    await assertAccessible(page, 'the reschedule dialog');
    await dialog.getByLabel('Delay from now').fill('2h');
    await dialog.getByRole('button', { name: 'Reschedule' }).click();
    await page.getByRole('status').getByText('Task rescheduled.').waitFor();
    await page.locator('.timeline .label', { hasText: 'Reschedule' }).waitFor();
    const moved = await getTask(server.client, creds, task.id);
    assert.ok(moved.estimateExecAt - Date.now() > 90 * 60_000, 'the next run moved about two hours out');

    await page.getByRole('button', { name: 'Run now' }).click();
    await target.waitForRequests(1, { path: '/run-now' });
    await page.locator('.heading .badge', { hasText: 'COMPLETED' }).waitFor();
  });

  test('the new task form shows its curl command without the token, reports refused fields, and its task completes on screen', async () => {
    const { page, creds } = await freshPage();
    await signIn(page, creds);
    await page.getByRole('link', { name: 'New task' }).first().click();
    await page.getByRole('heading', { level: 1, name: 'New task', exact: true }).waitFor();
    await page.getByLabel('URL', { exact: true }).fill(target.url('/from-form'));
    await page.getByLabel('Body').fill('{"hello":"form"}');
    const curl = page.getByLabel('curl command');
    await curl.getByText('$KUUERI_TOKEN').waitFor();
    const command = (await curl.textContent()) ?? '';
    assert.ok(!command.includes(creds.token), 'the curl command never holds the token');
    assert.ok(command.includes(Buffer.from('{"hello":"form"}').toString('base64')), 'the body goes into data as base64');
    // The command works as shown, with the token from the environment (run without blocking: the
    // server answering it lives in this process).
    const ran = await execFileAsync('sh', ['-c', `${command} -s -w '\\n%{http_code}'`], {
      env: { ...process.env, KUUERI_TOKEN: creds.token },
      encoding: 'utf8',
    });
    const [answer, status] = ran.stdout.split('\n');
    assert.equal(status, '201', `curl answered ${ran.stdout} ${ran.stderr}`);
    const made = JSON.parse(answer!) as QueuedView;
    assert.equal((await server.client.unsubscribe(creds, made.id)).status, 200, 'the task the command made exists');
    await assertAccessible(page, 'the new task form');

    await page.getByLabel('Retries').fill('99999');
    await page.getByRole('button', { name: 'Create task' }).click();
    const refusal = page.getByRole('alert');
    await refusal.getByText('config.retry', { exact: true }).waitFor();
    assert.match((await refusal.textContent()) ?? '', /must be ≤ 10000/, 'the issue says what is wrong');
    assert.equal(await page.getByLabel('Retries').getAttribute('aria-invalid'), 'true', 'the refused field is marked');
    await assertAccessible(page, 'the new task form with a refusal');

    // Fixed, it is created: its page shows it RUNNING, then COMPLETED once the target answered, without a reload.
    await page.getByLabel('Retries').fill('0');
    await page.getByLabel('Delay', { exact: true }).fill('3s');
    await page.evaluate('window.kuueriTestMark = true');
    await page.getByRole('button', { name: 'Create task' }).click();
    const badge = page.locator('.heading .badge');
    await badge.getByText('RUNNING').waitFor();
    await badge.getByText('COMPLETED').waitFor({ timeout: 20_000 });
    assert.equal(await page.evaluate<boolean>("'kuueriTestMark' in window"), true, 'the page was never reloaded');
    await page.locator('.timeline .label', { hasText: 'Complete' }).waitFor();
    const [received] = target.requestsOn('/from-form');
    assert.equal(received?.method, 'POST');
    assert.equal(received?.body.toString('utf8'), '{"hello":"form"}', 'the body arrived as typed');
    assert.equal(received?.headers['content-type'], 'application/json');
  });

  // Needs the listing with tags (L), the inbox (O) and the activity aggregate (O) of issue 22.
  test('the whole flow: a task made with the form reaches the inbox and completes on screen; pause, resume; filter by tag', async () => {
    const { page, context, creds } = await freshPage();
    await signIn(page, creds);
    // Marks this document: still there at the end means the page never reloaded.
    await page.evaluate('window.kuueriTestMark = true');

    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Inbox' }).click();
    await page.getByRole('heading', { level: 1, name: 'Inbox', exact: true }).waitFor();
    await page.getByText('Nothing has arrived yet.').waitFor();
    await assertAccessible(page, 'the inbox');
    const inboxUrl = await page.getByLabel('Inbox URL').inputValue();
    assert.ok(inboxUrl.includes(`/inbox/${creds.id}`), `the inbox URL is the project's (${inboxUrl})`);

    await page.getByRole('link', { name: 'New task to the inbox' }).click();
    await page.getByRole('heading', { level: 1, name: 'New task', exact: true }).waitFor();
    assert.equal(await page.getByLabel('URL', { exact: true }).inputValue(), inboxUrl, 'the form targets the inbox');
    await page.getByLabel('Body').fill('{"hello":"dashboard"}');
    await page.getByLabel('Delay', { exact: true }).fill('3s');
    await page.getByLabel('Tags').fill('flow, first');
    await page.getByRole('button', { name: 'Create task' }).click();
    // The task's own page opens, headed by its id.
    const heading = page.getByRole('heading', { level: 1, name: /^[0-9A-Z]{26}$/ });
    await heading.waitFor();
    const id = must(await heading.textContent(), 'the new task id');

    // On the list, the task is RUNNING, then COMPLETED once the inbox answered: no reload.
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Tasks' }).click();
    const row = page.locator('tr', { hasText: id });
    await row.getByText('RUNNING').waitFor();
    await row.getByText('COMPLETED').waitFor({ timeout: 20_000 });
    await row.getByText('flow').waitFor();
    assert.equal(await page.evaluate<boolean>("'kuueriTestMark' in window"), true, 'the page was never reloaded');

    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Inbox' }).click();
    const request = page.locator('.request').first();
    await request.getByText('{"hello":"dashboard"}').waitFor();
    await request.getByText('POST').waitFor();

    // Another task, paused and resumed from its page, and told apart by its tag.
    const other = await subscribeOk(server.client, creds, {
      httpRequest: { url: target.url('/other'), method: 'POST' },
      config: { executionDelay: '1h' },
      tags: ['other'],
    });
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Tasks' }).click();
    await page.getByRole('link', { name: other.id }).click();
    await page.getByRole('button', { name: 'Pause' }).click();
    await page.locator('.heading .badge', { hasText: 'PAUSED' }).waitFor();
    await page.getByRole('button', { name: 'Resume' }).click();
    await page.locator('.heading .badge', { hasText: 'RUNNING' }).waitFor();

    await page.getByRole('link', { name: 'Tasks' }).first().click();
    await page.getByLabel('Tag', { exact: true }).fill('other');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.locator('tbody tr').filter({ hasText: other.id }).waitFor();
    await page.locator('tbody tr', { hasText: id }).waitFor({ state: 'detached' });
    assert.equal(await page.locator('tbody tr').count(), 1, 'only the task tagged "other"');

    // Selected tasks take an action at once; cancelling asks first.
    await page.getByLabel('Select every task on this page').check();
    await page.getByRole('button', { name: 'Pause selected' }).click();
    await page.getByRole('status').getByText('1 paused.').waitFor();
    await page.locator('tbody tr', { hasText: other.id }).getByText('PAUSED').waitFor();
    await page.getByLabel(`Select task ${other.id}`).check();
    await assertAccessible(page, 'the task list with a selection');
    await page.getByRole('button', { name: 'Cancel selected' }).click();
    await page.getByRole('dialog', { name: 'Cancel 1 task?' }).getByRole('button', { name: 'Cancel 1 task' }).click();
    await page.locator('tbody tr', { hasText: other.id }).getByText('CANCELED').waitFor();
    assert.equal((await getTask(server.client, creds, other.id)).state, 'CANCELED');

    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Activity' }).click();
    await page.getByRole('img', { name: /Last hour: 1 delivered, 0 failed/ }).waitFor();
    await assertAccessible(page, 'the activity screen');

    await signOut(page, context, creds);
  });

  test('a schedule made with the form runs into the inbox, its runs appear on the list, it pauses, and is deleted once confirmed', async () => {
    const { page, creds } = await freshPage();
    await signIn(page, creds);
    await page.evaluate('window.kuueriTestMark = true');
    const nav = page.getByRole('navigation', { name: 'Main' });
    await nav.getByRole('link', { name: 'Inbox' }).click();
    const inboxUrl = await page.getByLabel('Inbox URL').inputValue();

    await nav.getByRole('link', { name: 'Schedules' }).click();
    await page.getByRole('heading', { level: 1, name: 'Schedules', exact: true }).waitFor();
    await page.getByText('No schedules yet.', { exact: false }).waitFor();
    await assertAccessible(page, 'the schedules screen, empty');
    await page.getByRole('link', { name: 'New schedule' }).click();
    await page.getByRole('heading', { level: 1, name: 'New schedule', exact: true }).waitFor();

    // A cron expression the API refuses: the form shows its code and marks the field it names.
    await page.getByLabel('Cron expression').fill('every second');
    await page.getByLabel('URL', { exact: true }).fill(inboxUrl);
    await page.getByLabel('Body').fill('{"tick":true}');
    await page.getByLabel('Flow key').fill('ticks');
    await page.getByRole('button', { name: 'Create schedule' }).click();
    const refusal = page.getByRole('alert');
    await refusal.getByText('VALIDATION_FAILED', { exact: true }).waitFor();
    await refusal.getByText('cron', { exact: true }).waitFor();
    assert.equal(await page.getByLabel('Cron expression').getAttribute('aria-invalid'), 'true', 'the refused field is marked');
    await assertAccessible(page, 'the new schedule form with a refusal');

    // Six fields, seconds first: a run every second. The curl command says the same, without the token.
    await page.getByLabel('Cron expression').fill('* * * * * *');
    const curl = page.getByLabel('curl command');
    await curl.getByText('"cron": "* * * * * *"', { exact: false }).waitFor();
    const command = (await curl.textContent()) ?? '';
    assert.ok(command.includes(`${server.url}/v1beta/schedules`), 'the command posts to the schedules route');
    assert.ok(command.includes('$KUUERI_TOKEN') && !command.includes(creds.token), 'the command never holds the token');
    await page.getByRole('button', { name: 'Create schedule' }).click();

    // Listed with its expression, zone, target and state.
    await page.getByRole('heading', { level: 1, name: 'Schedules', exact: true }).waitFor();
    const listed = await server.client.request<ScheduleListView>('GET', '/v1beta/schedules', { creds });
    const schedule = must(listed.body.schedules[0], 'the schedule the form made');
    assert.equal(schedule.flowKey, 'ticks');
    const row = page.locator(`tr[data-schedule-id="${schedule.id}"]`);
    await row.getByText('* * * * * *', { exact: true }).waitFor();
    await row.getByText('UTC', { exact: true }).waitFor();
    await row.getByText(inboxUrl).waitFor();
    await row.locator('.badge', { hasText: 'ACTIVE' }).waitFor();
    await assertAccessible(page, 'the schedules screen');

    // "Runs" opens the task list filtered by the schedule; its runs appear as the list polls.
    await row.getByRole('link', { name: 'Runs' }).click();
    await page.getByRole('heading', { level: 1, name: 'Tasks', exact: true }).waitFor();
    assert.equal(new URL(page.url()).searchParams.get('schedule'), schedule.id, 'the URL keeps the filter');
    assert.equal(await page.getByLabel('Schedule ID').inputValue(), schedule.id);
    await page.locator('tbody tr').first().waitFor({ timeout: 20_000 });
    assert.equal(await page.evaluate<boolean>("'kuueriTestMark' in window"), true, 'the runs appeared without a reload');
    const firstRun = must(await page.locator('tbody tr').first().getAttribute('data-task-id'), 'a run');
    assert.equal((await getTask(server.client, creds, firstRun)).scheduleId, schedule.id, 'the row is a run of the schedule');
    // A run's page names its schedule, linked to the schedule's runs.
    await page.getByRole('link', { name: firstRun }).click();
    await page.getByRole('link', { name: schedule.id }).click();
    await page.getByRole('heading', { level: 1, name: 'Tasks', exact: true }).waitFor();
    assert.equal(new URL(page.url()).searchParams.get('schedule'), schedule.id, "the run's page links to its schedule's runs");
    await nav.getByRole('link', { name: 'Inbox' }).click();
    await page.locator('.request').first().getByText('{"tick":true}').waitFor({ timeout: 20_000 });

    await nav.getByRole('link', { name: 'Schedules' }).click();
    await row.getByRole('button', { name: 'Pause' }).click();
    await page.getByRole('status').getByText('Schedule paused.').waitFor();
    await row.locator('.badge', { hasText: 'PAUSED' }).waitFor();
    const paused = await server.client.request<ScheduleView>('GET', `/v1beta/schedules/${schedule.id}`, { creds });
    assert.equal(paused.body.state, 'PAUSED');

    // Delete asks first; "Keep it" keeps the schedule, confirming deletes it.
    await row.getByRole('button', { name: 'Delete' }).click();
    const dialog = page.getByRole('dialog', { name: 'Delete this schedule?' });
    await dialog.waitFor();
    await assertAccessible(page, 'the delete schedule dialog');
    await dialog.getByRole('button', { name: 'Keep it' }).click();
    await dialog.waitFor({ state: 'hidden' });
    assert.equal((await server.client.request('GET', `/v1beta/schedules/${schedule.id}`, { creds })).status, 200, 'kept');
    await row.getByRole('button', { name: 'Delete' }).click();
    await dialog.getByRole('button', { name: 'Delete schedule' }).click();
    await row.waitFor({ state: 'detached' });
    await page.getByText('No schedules yet.', { exact: false }).waitFor();
    assert.equal((await server.client.request('GET', `/v1beta/schedules/${schedule.id}`, { creds })).status, 404, 'deleted');
    assert.equal(await page.evaluate<boolean>("'kuueriTestMark' in window"), true, 'the page was never reloaded');
  });

  test('a project with all the schedules it may hold: the form says so with its code and keeps what was typed', async () => {
    const { page, creds } = await freshPage();
    for (let i = 0; i < SCHEDULE_LIMIT; i++) {
      const made = await server.client.request('POST', '/v1beta/schedules', {
        creds,
        body: { cron: '0 0 1 1 *', httpRequest: { url: target.url(`/yearly/${i}`), method: 'POST' } },
      });
      assert.equal(made.status, 201);
    }
    await signIn(page, creds);
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Schedules' }).click();
    await page
      .locator('tbody tr')
      .nth(SCHEDULE_LIMIT - 1)
      .waitFor();
    await page.getByRole('link', { name: 'New schedule' }).click();
    await page.getByLabel('Cron expression').fill('*/5 * * * *');
    await page.getByLabel('URL', { exact: true }).fill(target.url('/one-more'));
    await page.getByRole('button', { name: 'Create schedule' }).click();
    const refusal = page.getByRole('alert');
    await refusal.getByText('SCHEDULES_FULL', { exact: true }).waitFor();
    await refusal.getByText(/delete one first/).waitFor();
    await assertAccessible(page, 'the new schedule form refused for a full project');
    assert.equal(await page.getByLabel('Cron expression').inputValue(), '*/5 * * * *', 'what was typed is kept');
    const listed = await server.client.request<ScheduleListView>('GET', '/v1beta/schedules', { creds });
    assert.equal(listed.body.schedules.length, SCHEDULE_LIMIT, 'nothing more was made');
  });

  test('the task list filters by flow key, and its URL keeps the filter across a reload and Back', async () => {
    const { page, creds } = await freshPage();
    const later = { executionDelay: '1h' };
    const billed = await subscribeOk(server.client, creds, {
      httpRequest: { url: target.url('/billed'), method: 'POST' },
      config: later,
      flowKey: 'billing',
    });
    const plain = await subscribeOk(server.client, creds, { httpRequest: { url: target.url('/plain'), method: 'POST' }, config: later });
    await signIn(page, creds);
    const rows = page.locator('tbody tr');
    await rows.filter({ hasText: plain.id }).waitFor();
    await rows.filter({ hasText: billed.id }).waitFor();

    await page.getByLabel('Flow key').fill('billing');
    await page.getByRole('button', { name: 'Filter' }).click();
    await rows.filter({ hasText: plain.id }).waitFor({ state: 'detached' });
    assert.equal(await rows.count(), 1, 'only the task of flow "billing"');
    await rows.filter({ hasText: billed.id }).waitFor();
    assert.equal(new URL(page.url()).searchParams.get('flow'), 'billing', 'the URL names the filter');
    await assertAccessible(page, 'the task list filtered by flow key');

    await page.reload();
    await page.getByRole('heading', { level: 1, name: 'Tasks', exact: true }).waitFor();
    await rows.filter({ hasText: billed.id }).waitFor();
    assert.equal(await rows.count(), 1, 'the reload kept the filter');
    assert.equal(await page.getByLabel('Flow key').inputValue(), 'billing', 'the form shows it');

    await page.getByRole('button', { name: 'Clear' }).click();
    await rows.filter({ hasText: plain.id }).waitFor();
    assert.equal(new URL(page.url()).search, '', 'no filter left in the URL');
    await page.goBack();
    await rows.filter({ hasText: plain.id }).waitFor({ state: 'detached' });
    assert.equal(await page.getByLabel('Flow key').inputValue(), 'billing', 'Back brings the filter and its form value back');

    // The row shows its flow key; the task's page links it to the tasks of that flow.
    await rows.filter({ hasText: billed.id }).getByText('flow: billing').waitFor();
    await page.getByLabel('Flow key').fill('');
    await page.getByRole('button', { name: 'Filter' }).click();
    await rows.filter({ hasText: plain.id }).waitFor();
    await page.getByRole('link', { name: billed.id }).click();
    await page.getByRole('heading', { level: 1, name: billed.id }).waitFor();
    await assertAccessible(page, "a task's page with its flow key");
    await page.getByRole('link', { name: 'billing', exact: true }).click();
    await page.getByRole('heading', { level: 1, name: 'Tasks', exact: true }).waitFor();
    await rows.filter({ hasText: plain.id }).waitFor({ state: 'detached' });
    assert.equal(new URL(page.url()).searchParams.get('flow'), 'billing', "the flow key's link filters the list by it");
  });

  test('the activity screen names an open circuit of the project', async () => {
    const failing = await TargetServer.start(() => ({ status: 503 }));
    try {
      const { page, context, creds } = await freshPage();
      const policy = { failureThreshold: 1, openMs: 600_000, maxOpenMs: 600_000 };
      assert.equal((await server.client.request('PUT', '/v1beta/breakers/policy', { creds, body: policy })).status, 200);
      await subscribeOk(server.client, creds, { httpRequest: { url: failing.url('/down'), method: 'POST' }, config: { retry: 1 } });
      await signIn(page, creds);
      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Activity' }).click();
      const circuits = page.getByRole('region', { name: 'Open circuits' });
      await circuits.getByText('127.0.0.1').waitFor({ timeout: 20_000 });
      await circuits.getByText(/open, 1 failure in a row/).waitFor();
      await assertAccessible(page, 'the activity screen with an open circuit');
      await signOut(page, context, creds);
    } finally {
      await failing.close();
    }
  });
});
