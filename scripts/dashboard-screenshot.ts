/*
 * Makes docs/images/dashboard.png and schedules.png, the README's pictures of the web app: a real
 * server with a few tasks in every state (some delivered to a local target named like a real host)
 * and a few schedules, signed in, the task list and the schedules. Run after `npm run build`, by
 * hand when the app's look changes:
 *   npx tsx scripts/dashboard-screenshot.ts
 */
import type { LookupAddress } from 'node:dns';
import { subscribeOk, waitForState } from '../test/helpers/api-tasks.js';
import { launchBrowser, openPage } from '../test/helpers/browser.js';
import { TargetServer } from '../test/helpers/target-server.js';
import { startTestServer } from '../test/helpers/test-server.js';

const OUT = new URL('../docs/images/dashboard.png', import.meta.url).pathname;
const SCHEDULES_OUT = new URL('../docs/images/schedules.png', import.meta.url).pathname;
const HOSTS = ['api.example.com', 'hooks.example.org', 'legacy.example.net'];

const target = await TargetServer.start((request) => (request.url.startsWith('/fail') ? { status: 503 } : { status: 200 }));
const loopback: LookupAddress[] = [{ address: '127.0.0.1', family: 4 }];
const server = await startTestServer({
  overrides: {
    resolver: async (hostname) => {
      if (!HOSTS.includes(hostname)) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
      return loopback;
    },
  },
});
const browser = await launchBrowser();
try {
  const creds = await server.client.register('ops@example.com');
  const at = (host: string, path: string): string => `http://${host}:${target.port}${path}`;
  const task = (url: string, config: Record<string, unknown>, tags: string[], method = 'POST', flowKey?: string) =>
    subscribeOk(server.client, creds, { httpRequest: { url, method }, config, tags, ...(flowKey ? { flowKey } : {}) });

  const done = [
    await task(at('hooks.example.org', '/invoice/paid'), {}, ['billing']),
    await task(at('api.example.com', '/orders/sync'), { repeat: 1, repeatInterval: '1s' }, ['orders', 'nightly']),
    await task(at('legacy.example.net', '/fail/notify'), { retry: 1, retryInterval: '1s' }, ['billing']),
  ];
  const later = await task('https://api.example.com/reports/weekly', { executionDelay: '6h' }, ['reports'], 'GET');
  await server.client.pause(creds, later.id);
  const cancelled = await task('https://hooks.example.org/reminder', { executionDelay: '2d' }, []);
  await server.client.unsubscribe(creds, cancelled.id);
  await task('https://api.example.com/cache/warm', { executionDelay: '25m', repeat: 12, repeatInterval: '2h' }, ['ops']);
  await task('https://api.example.com/orders/sync', { executionDelay: '90s', retry: 3 }, ['orders'], 'POST', 'orders.eu');
  for (const { id } of done)
    await waitForState(server.client, creds, id, id === done[2]!.id ? 'ERROR' : 'COMPLETED', { timeoutMs: 30_000 });

  const { page } = await openPage(browser);
  await page.setViewportSize({ width: 1280, height: 820 });
  await page.goto(`${server.url}/dashboard`);
  await page.getByLabel('Project ID', { exact: true }).fill(creds.id);
  await page.getByLabel('Token', { exact: true }).fill(creds.token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('tbody tr').nth(6).waitFor();
  await page.getByRole('img', { name: /Last hour/ }).waitFor();
  await page.locator('.key.delivered', { hasText: /^[1-9]\d* delivered$/ }).waitFor({ timeout: 30_000 });
  await page.screenshot({ path: OUT });
  console.log(`wrote ${OUT}`);

  const schedule = async (cron: string, timezone: string, url: string, method: string, tags: string[]) => {
    const res = await server.client.request<{ id: string }>('POST', '/v1beta/schedules', {
      creds,
      body: { cron, timezone, httpRequest: { url, method }, tags },
    });
    if (res.status !== 201) throw new Error(`schedule refused: ${JSON.stringify(res.body)}`);
    return res.body.id;
  };
  const monthly = await schedule('0 0 1 * *', 'America/New_York', 'https://api.example.com/billing/invoices', 'POST', ['billing']);
  await server.client.request('PATCH', `/v1beta/schedules/${monthly}/pause`, { creds });
  await schedule('*/15 * * * *', 'UTC', 'https://hooks.example.org/health', 'GET', ['ops']);
  await schedule('0 9 * * 1-5', 'Europe/Berlin', 'https://api.example.com/reports/daily', 'POST', ['reports']);
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Schedules' }).click();
  await page.locator('tbody tr').nth(2).waitFor();
  await page.screenshot({ path: SCHEDULES_OUT });
  console.log(`wrote ${SCHEDULES_OUT}`);
} finally {
  await browser.close();
  await Promise.all([server.close(), target.close()]);
}
