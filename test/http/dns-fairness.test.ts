import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Credentials } from '../helpers/api-client.js';
import { getTask, getTimeline, subscribeOk, waitForState } from '../helpers/api-tasks.js';
import { DnsServer } from '../helpers/dns-server.js';
import { TargetServer } from '../helpers/target-server.js';
import { type TestServer, startTestServer } from '../helpers/test-server.js';
import { waitFor } from '../helpers/wait.js';

/**
 * One project's slow name server must not hold up other projects' tasks. The server resolves
 * through a real DNS server on 127.0.0.1 that never answers for `*.slow.test` and answers
 * `good.test` with 127.0.0.1. With lookups on libuv's thread pool (dns.lookup), four names that
 * hang would hold every thread, and every other lookup would wait behind them.
 */
describe("one project's slow names do not hold up other projects", () => {
  const GREEDY_TASKS = 30;
  /** NameLookups' defaults: names one project may wait on at once, and more queued behind them. */
  const WAITING = 4;
  const QUEUED = 16;

  let dns: DnsServer;
  let target: TargetServer;
  let server: TestServer;
  let greedy: Credentials;
  let polite: Credentials;

  before(async () => {
    dns = await DnsServer.start((name) =>
      name.endsWith('.slow.test') ? 'silent' : name === 'good.test' ? { addresses: ['127.0.0.1'] } : 'nxdomain',
    );
    target = await TargetServer.start();
    // The lookups of the slow names outlast the test: they are still waiting when it ends.
    server = await startTestServer({ env: { TASKS_DNS_SERVERS: dns.address, TASKS_DNS_TIMEOUT_MS: '60000' } });
    greedy = await server.client.register();
    polite = await server.client.register();
  });
  after(async () => {
    await server.close();
    await target.close();
    await dns.close();
  });

  test("while one project's lookups hang, another project's tasks are delivered; the first waits on a few names only", async () => {
    const slow: string[] = [];
    for (let i = 0; i < GREEDY_TASKS; i++) {
      const queued = await subscribeOk(server.client, greedy, {
        httpRequest: { url: `http://t${i}.slow.test:${target.port}/slow`, method: 'POST' },
        config: { timeout: '120s', retry: 0 },
      });
      slow.push(queued.id);
    }
    // Each of the project's names beyond its turns and its queue fails at once (and would be retried).
    const busy = await waitFor('the lookups beyond the project’s turns to fail', async () => {
      const ended: string[] = [];
      for (const id of slow) if ((await getTask(server.client, greedy, id)).state === 'ERROR') ended.push(id);
      return ended.length === GREEDY_TASKS - WAITING - QUEUED ? ended : null;
    });
    const description = (await getTimeline(server.client, greedy, busy[0]!)).at(-1)!.description;
    assert.match(description, /too many host name lookups of this project at once/);
    await dns.waitForQueries(WAITING, (q) => q.name.endsWith('.slow.test') && q.type === 'A');

    const good: string[] = [];
    for (let i = 0; i < 5; i++) {
      good.push(
        (await subscribeOk(server.client, polite, { httpRequest: { url: `http://good.test:${target.port}/good`, method: 'POST' } })).id,
      );
    }
    for (const id of good) await waitForState(server.client, polite, id, 'COMPLETED');
    assert.equal(target.requestsOn('/good').length, 5);

    // Meanwhile the slow lookups were still waiting, and DNS heard of only as many slow names as one project may wait on.
    const waiting = [];
    for (const id of slow) if ((await getTask(server.client, greedy, id)).state === 'RUNNING') waiting.push(id);
    assert.equal(waiting.length, WAITING + QUEUED);
    assert.equal(dns.namesAsked((name) => name.endsWith('.slow.test')).length, WAITING);
    assert.equal(target.requestsOn('/slow').length, 0);
  });
});
