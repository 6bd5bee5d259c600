import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { TestClock } from '../../src/core/clock.js';
import { LOOKUPS_BUSY, NameLookups, readHostsFile, systemAddresses } from '../../src/dispatch/name-resolver.js';
import { type DnsAnswer, DnsServer } from '../helpers/dns-server.js';
import { makeTempDir, removeDir } from '../helpers/temp-dir.js';
import { waitFor } from '../helpers/wait.js';

/**
 * Host name lookups against a real DNS server on 127.0.0.1: `*.slow.test` never answers (a name
 * server that hangs), `*.gone.test` does not exist, everything else resolves.
 */
describe('name lookups over c-ares, against a DNS server on 127.0.0.1', () => {
  let dns: DnsServer;
  let dir: string;
  let hostsFile: string;

  const answer = (name: string): DnsAnswer => {
    if (name.endsWith('slow.test')) return 'silent';
    if (name.endsWith('gone.test')) return 'nxdomain';
    if (name === 'v4only.test') return { addresses: ['203.0.113.4'], ttl: 5 };
    return { addresses: ['203.0.113.7', '2001:db8::7'], ttl: 10 };
  };

  before(async () => {
    dns = await DnsServer.start(answer);
    dir = makeTempDir('hosts');
    hostsFile = join(dir, 'hosts');
    writeFileSync(
      hostsFile,
      '# comment\n127.0.0.1 localhost box\n::1 localhost ip6-localhost\n10.1.2.3 Files.Test other.test # trailing\n',
    );
  });
  after(async () => {
    await dns.close();
    removeDir(dir);
  });

  const lookups = (options: { timeoutMs?: number; clock?: TestClock; perProject?: number; queuedPerProject?: number } = {}) =>
    new NameLookups(systemAddresses({ servers: [dns.address], timeoutMs: options.timeoutMs ?? 5_000, hostsFile }), options);

  test('A and AAAA records both come back, IPv4 first, with their TTL', async () => {
    const names = lookups();
    try {
      assert.deepEqual(await names.lookup('both.test', 'p1'), [
        { address: '203.0.113.7', family: 4, ttl: 10 },
        { address: '2001:db8::7', family: 6, ttl: 10 },
      ]);
      assert.deepEqual(await names.lookup('v4only.test'), [{ address: '203.0.113.4', family: 4, ttl: 5 }]);
    } finally {
      names.close();
    }
  });

  test('the hosts file and localhost are answered without asking DNS (c-ares reads neither)', async () => {
    const names = lookups();
    try {
      const before = dns.queries.length;
      assert.deepEqual(
        (await names.lookup('localhost')).map((a) => a.address),
        ['127.0.0.1', '::1'],
      );
      assert.deepEqual(
        (await names.lookup('FILES.test.')).map((a) => a.address),
        ['10.1.2.3'],
      );
      assert.deepEqual(
        (await names.lookup('box', 'p1')).map((a) => a.address),
        ['127.0.0.1'],
      );
      assert.deepEqual(
        (await names.lookup('app.localhost')).map((a) => a.address),
        ['127.0.0.1', '::1'],
        'RFC 6761',
      );
      assert.equal(dns.queries.length, before, 'DNS was asked');
    } finally {
      names.close();
    }
  });

  test('readHostsFile: comments, aliases, case; a missing file is empty', () => {
    const hosts = readHostsFile(hostsFile);
    assert.deepEqual(hosts.get('other.test'), [{ address: '10.1.2.3', family: 4 }]);
    assert.deepEqual(
      hosts.get('localhost')?.map((a) => a.address),
      ['127.0.0.1', '::1'],
    );
    assert.equal(readHostsFile(join(dir, 'none')).size, 0);
  });

  test('a name that does not exist fails with ENOTFOUND, and is answered from memory for a while', async () => {
    const clock = new TestClock();
    const names = lookups({ clock });
    try {
      await assert.rejects(names.lookup('x.gone.test', 'p1'), { code: 'ENOTFOUND' });
      const asked = dns.queries.filter((q) => q.name === 'x.gone.test').length;
      await assert.rejects(names.lookup('x.gone.test', 'p1'), { code: 'ENOTFOUND' });
      assert.equal(dns.queries.filter((q) => q.name === 'x.gone.test').length, asked, 'asked again at once');
      clock.advance(5_001);
      await assert.rejects(names.lookup('x.gone.test', 'p1'), { code: 'ENOTFOUND' });
      assert.ok(dns.queries.filter((q) => q.name === 'x.gone.test').length > asked, 'not asked again after the failure was forgotten');
    } finally {
      names.close();
    }
  });

  test('answers are kept for their TTL, capped at 30 s', async () => {
    const clock = new TestClock();
    const names = lookups({ clock });
    const asked = (name: string): number => dns.queries.filter((q) => q.name === name && q.type === 'A').length;
    try {
      await names.lookup('ttl.test');
      await names.lookup('ttl.test');
      assert.equal(asked('ttl.test'), 1);
      clock.advance(9_999);
      await names.lookup('ttl.test');
      assert.equal(asked('ttl.test'), 1, 'asked again within the TTL (10 s)');
      clock.advance(2);
      await names.lookup('ttl.test');
      assert.equal(asked('ttl.test'), 2, 'not asked again after the TTL');

      dns.respond((name) => (name === 'long.test' ? { addresses: ['203.0.113.9'], ttl: 86_400 } : 'nxdomain'));
      await names.lookup('long.test');
      clock.advance(30_001);
      await names.lookup('long.test');
      assert.equal(asked('long.test'), 2, 'a day-long TTL was kept beyond 30 s');
    } finally {
      dns.respond(answer);
      names.close();
    }
  });

  test('lookups of a name already in flight join it: one query', async () => {
    const names = lookups();
    try {
      const all = await Promise.all(['p1', 'p2', 'p3', undefined, 'p1'].map((project) => names.lookup('joined.test', project)));
      for (const addresses of all) assert.equal(addresses[0]!.address, '203.0.113.7');
      assert.equal(dns.queries.filter((q) => q.name === 'joined.test' && q.type === 'A').length, 1);
    } finally {
      names.close();
    }
  });

  test('a name server that never answers costs the deadline, then ETIMEOUT', async () => {
    const names = lookups({ timeoutMs: 300 });
    try {
      await assert.rejects(names.lookup('never.slow.test', 'p1'), { code: 'ETIMEOUT' });
    } finally {
      names.close();
    }
  });

  test("one project's slow names wait in its own turns: other projects' lookups are answered meanwhile", async () => {
    const names = lookups({ timeoutMs: 60_000, perProject: 2, queuedPerProject: 3 });
    const outcomes: string[] = [];
    try {
      // Ten distinct names whose server never answers, for one project.
      const slow = Array.from({ length: 10 }, (_, i) =>
        names.lookup(`n${i}.hang.slow.test`, 'greedy').then(
          () => 'answered',
          (error: NodeJS.ErrnoException) => error.code ?? 'failed',
        ),
      );
      for (const outcome of slow) void outcome.then((o) => outcomes.push(o));
      // Two wait on DNS, three are queued, the other five are refused at once.
      await waitFor('five lookups refused at once', () => outcomes.filter((o) => o === LOOKUPS_BUSY).length === 5);
      assert.deepEqual(names.pending('greedy'), { waiting: 2, queued: 3 });
      await dns.waitForQueries(4, (q) => q.name.endsWith('hang.slow.test'));

      // Another project is not held up by them.
      assert.equal((await names.lookup('fine.test', 'other'))[0]!.address, '203.0.113.7');
      assert.equal((await names.lookup('fine2.test', 'other'))[0]!.address, '203.0.113.7');
      assert.deepEqual(names.pending('other'), { waiting: 0, queued: 0 });

      // The greedy project's lookups are all still waiting, and DNS was asked for two slow names only.
      assert.deepEqual(names.pending('greedy'), { waiting: 2, queued: 3 });
      assert.equal(dns.namesAsked((name) => name.endsWith('hang.slow.test')).length, 2);
      assert.equal(outcomes.length, 5);
    } finally {
      names.close();
    }
  });
});
