/*
 * Who the throttles count: real connections from several loopback addresses (on Linux all of
 * 127.0.0.0/8 reaches a loopback server), a trusted proxy at 127.0.0.1, and clients that write
 * X-Forwarded-For to pick an address, to take a victim's, or to fill it with what is not an
 * address. Which window a registration was counted in shows in its x-ratelimit-remaining (the
 * registration throttle is the one counted per address; the others count per project).
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { type RawResponse, sendRequest } from '../helpers/raw-http.js';
import { type TestServer, startTestServer } from '../helpers/test-server.js';

const PROXY = '127.0.0.1';
const CLIENT = '127.0.0.2';
const VICTIM = '127.0.0.3';

/** One request to an authenticated route (failures count per address), from `from`, with X-Forwarded-For when given. */
async function probe(server: TestServer, from: string, forwardedFor?: string, headers: Record<string, string> = {}): Promise<RawResponse> {
  return send(server, from, { method: 'GET', path: '/v1beta/info', headers }, forwardedFor);
}

/**
 * One request counted in its address's window: a registration (the throttle counted per address),
 * with a body that fails validation, so nothing is registered.
 */
async function count(server: TestServer, from: string, forwardedFor?: string): Promise<RawResponse> {
  const registration = { method: 'POST', path: '/v1beta/register', headers: { 'content-type': 'application/json' }, body: '{}' };
  return send(server, from, registration, forwardedFor);
}

async function send(
  server: TestServer,
  from: string,
  request: { method: string; path: string; headers: Record<string, string>; body?: string },
  forwardedFor?: string,
): Promise<RawResponse> {
  // Always to 127.0.0.1, also when the server listens on every address.
  const answer = await sendRequest(
    `http://127.0.0.1:${new URL(server.url).port}`,
    { ...request, headers: { ...request.headers, ...(forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor }) } },
    { localAddress: from },
  );
  if (answer.kind !== 'answer') assert.fail(`no answer from ${from}: ${answer.error}`);
  return answer;
}

const remaining = (response: RawResponse): string => `${response.status} ${response.headers['x-ratelimit-remaining']}`;

/** Whether this machine can listen on `host` and be reached from `from`: the tests need it, and say so when it cannot. */
async function reachable(host: string, from: string): Promise<boolean> {
  const listener = createServer((socket) => socket.end());
  try {
    await new Promise<void>((resolve, reject) => listener.once('error', reject).listen(0, host, resolve));
    const { port } = listener.address() as { port: number };
    const answer = await sendRequest(`http://127.0.0.1:${port}`, { method: 'GET', path: '/' }, { localAddress: from, timeoutMs: 2_000 });
    return answer.kind === 'dropped' && !/EADDRNOTAVAIL|EINVAL|ECONNREFUSED/.test(answer.error);
  } catch {
    return false;
  } finally {
    listener.close();
  }
}

const NO_ALIASES = (await reachable('127.0.0.1', CLIENT))
  ? false
  : 'this machine cannot connect from 127.0.0.2 (only Linux routes all of 127.0.0.0/8)';
const NO_DUAL_STACK = (await reachable('::', CLIENT)) ? false : 'this machine has no dual-stack IPv6 listener reachable from 127.0.0.2';

describe('X-Forwarded-For is read only from trusted proxies (TASKS_TRUST_PROXY=127.0.0.1, registration limit 3)', () => {
  let server: TestServer;
  before(async () => {
    if (!NO_ALIASES) server = await startTestServer({ env: { TASKS_TRUST_PROXY: PROXY, TASKS_REGISTER_LIMIT: '3' } });
  });
  after(async () => {
    await server?.close();
  });

  test(
    'a client that is not a proxy cannot pick a new address per request: spoofed headers share its one window',
    { skip: NO_ALIASES },
    async () => {
      const seen: string[] = [];
      for (const spoof of ['203.0.113.1', '203.0.113.2', '198.51.100.1, 203.0.113.3', '::ffff:203.0.113.4']) {
        seen.push(remaining(await count(server, CLIENT, spoof)));
      }
      assert.deepEqual(seen, ['400 2', '400 1', '400 0', '429 0']);
    },
  );

  test(
    "a client cannot spend a victim's window: the victim, direct or through the proxy, keeps all of its own",
    { skip: NO_ALIASES },
    async () => {
      for (let i = 0; i < 3; i++) await count(server, '127.0.0.4', VICTIM);
      // Through the proxy, an attacker's own entry for the victim sits left of the address the proxy appended.
      for (let i = 0; i < 3; i++) await count(server, PROXY, `${VICTIM}, 198.51.100.66`);
      assert.equal(remaining(await count(server, PROXY, '198.51.100.66')), '429 0', 'the attacker behind the proxy used up its own window');
      assert.equal(remaining(await count(server, VICTIM)), '400 2', 'the victim direct: first request of its window');
      assert.equal(remaining(await count(server, PROXY, VICTIM)), '400 1', 'the victim through the proxy: the same window');
    },
  );

  test('through the proxy each client has its own window, and an IPv4-mapped address is its IPv4 form', { skip: NO_ALIASES }, async () => {
    const seen = [
      remaining(await count(server, PROXY, '198.51.100.7')),
      remaining(await count(server, PROXY, '::ffff:198.51.100.7')),
      remaining(await count(server, PROXY, '[::ffff:198.51.100.7]:4711')),
      remaining(await count(server, PROXY, '198.51.100.8')),
    ];
    assert.deepEqual(seen, ['400 2', '400 1', '400 0', '400 2']);
  });

  test(
    'values that are not addresses never make a window of their own: they count as the proxy that passed them on',
    { skip: NO_ALIASES },
    async () => {
      const junk = ['not-an-address', 'unknown', '127.1', `x${'y'.repeat(300)}`, '203.0.113.9 ; drop', '%00'];
      const seen: string[] = [];
      for (const value of junk) seen.push(remaining(await count(server, PROXY, value)));
      assert.deepEqual(seen, ['400 2', '400 1', '400 0', '429 0', '429 0', '429 0']);
      assert.equal(remaining(await count(server, PROXY)), '429 0', 'the proxy itself, without a header: the same window');
    },
  );
});

describe("a client cannot lock a victim out with the victim's address (TASKS_AUTH_FAILURE_LIMIT=2)", () => {
  let server: TestServer;
  before(async () => {
    if (!NO_ALIASES) server = await startTestServer({ env: { TASKS_TRUST_PROXY: PROXY, TASKS_AUTH_FAILURE_LIMIT: '2' } });
  });
  after(async () => {
    await server?.close();
  });

  test(
    'failures sent in the name of the victim block the sender, direct or behind the proxy; the victim is not blocked',
    { skip: NO_ALIASES },
    async () => {
      const bad = { authorization: `Bearer kt_${'A'.repeat(43)}`, 'x-kuueri-tasks-project': '01ARZ3NDEKTSV4RRFFQ69G5FAV' };
      const statuses = async (from: string, forwardedFor: string): Promise<number[]> => {
        const out: number[] = [];
        for (let i = 0; i < 3; i++) out.push((await probe(server, from, forwardedFor, bad)).status);
        return out;
      };
      assert.deepEqual(await statuses(CLIENT, VICTIM), [401, 401, 429], 'the direct sender blocked itself');
      assert.deepEqual(await statuses(PROXY, `${VICTIM}, 198.51.100.66`), [401, 401, 429], 'the sender behind the proxy blocked itself');
      assert.equal((await probe(server, VICTIM, undefined, bad)).status, 401, 'the victim direct: not blocked');
      assert.equal((await probe(server, PROXY, VICTIM, bad)).status, 401, 'the victim through the proxy: not blocked');
    },
  );
});

describe('on a dual-stack listener (HOST=::), IPv4 clients arrive IPv4-mapped and are counted by their IPv4 address', () => {
  let server: TestServer;
  before(async () => {
    if (!NO_DUAL_STACK) server = await startTestServer({ env: { HOST: '::', TASKS_TRUST_PROXY: PROXY, TASKS_REGISTER_LIMIT: '3' } });
  });
  after(async () => {
    await server?.close();
  });

  test(
    'the proxy is recognised as ::ffff:127.0.0.1, and a client direct and through the proxy shares one window',
    { skip: NO_DUAL_STACK },
    async () => {
      const seen = [
        remaining(await count(server, CLIENT)),
        remaining(await count(server, PROXY, CLIENT)),
        remaining(await count(server, PROXY, `::ffff:${CLIENT}`)),
        remaining(await count(server, CLIENT, '203.0.113.50')),
      ];
      assert.deepEqual(seen, ['400 2', '400 1', '400 0', '429 0']);
    },
  );
});
