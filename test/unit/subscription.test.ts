import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AppError, type FieldIssue } from '../../src/core/errors.js';
import { FORBIDDEN_HEADERS, LIMITS } from '../../src/core/limits.js';
import {
  DEFAULT_CONFIG,
  type ResolvedSubscription,
  type SubscribeBody,
  resolveReschedule,
  resolveSubscription,
} from '../../src/core/subscription.js';
import { type TargetPolicy, createTargetPolicy, parseTargetList } from '../../src/core/target-policy.js';

const NOW = Date.UTC(2026, 0, 1, 12, 0, 0);
const DAY = 86_400_000;
const strict = createTargetPolicy(parseTargetList([]));

type Config = NonNullable<SubscribeBody['config']>;
type HttpRequest = SubscribeBody['httpRequest'];

function body(httpRequest: Partial<HttpRequest> = {}, config?: Config): SubscribeBody {
  const b: SubscribeBody = { httpRequest: { url: 'https://target.example/hook', method: 'POST', ...httpRequest } };
  if (config) b.config = config;
  return b;
}

function resolve(b: SubscribeBody, policy: TargetPolicy = strict): ResolvedSubscription {
  return resolveSubscription(b, NOW, policy);
}

/** The issues of the VALIDATION_FAILED error `fn` throws; fails when it throws nothing or something else. */
function issuesOf(fn: () => unknown): FieldIssue[] {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof AppError, `expected an AppError, got ${String(error)}`);
    assert.equal(error.code, 'VALIDATION_FAILED');
    assert.equal(error.status, 400);
    for (const issue of error.issues) {
      assert.ok(error.message.includes(`${issue.field}: ${issue.message}`), `message names ${issue.field}`);
    }
    return [...error.issues];
  }
  assert.fail('expected a VALIDATION_FAILED error, but the subscription was accepted');
}

function fieldsOf(b: SubscribeBody, policy: TargetPolicy = strict): string[] {
  return issuesOf(() => resolve(b, policy)).map((i) => i.field);
}

describe('resolveSubscription: defaults', () => {
  test('no config gives DEFAULT_CONFIG and the first execution 1 ms after now', () => {
    const r = resolve(body());
    assert.deepEqual(r.config, DEFAULT_CONFIG);
    assert.equal(r.firstExecAt, NOW + 1);
    assert.deepEqual(r.request, { url: 'https://target.example/hook', method: 'POST' });
  });

  test('DEFAULT_CONFIG holds the documented defaults', () => {
    assert.deepEqual(DEFAULT_CONFIG, {
      executionDelay: 1,
      executionAt: 0,
      retry: 0,
      retryInterval: 1_000,
      retryExponential: true,
      retryAt: 0,
      repeat: 0,
      repeatInterval: 1_000,
      repeatExponential: true,
      repeatAt: 0,
      timeout: 300_000,
      callback: null,
    });
  });

  test('an empty config object is the same as none', () => {
    const r = resolve(body({}, {}));
    assert.deepEqual(r.config, DEFAULT_CONFIG);
    assert.equal(r.firstExecAt, NOW + 1);
  });

  test('resolving does not change DEFAULT_CONFIG', () => {
    const before = { ...DEFAULT_CONFIG };
    resolve(body({}, { repeat: 5, timeout: '10s', retryAt: NOW + 60_000, retryExponential: false }));
    assert.deepEqual(DEFAULT_CONFIG, before);
  });

  test('every given field lands in the effective config', () => {
    const r = resolve(
      body(
        {},
        {
          executionDelay: '10s',
          retry: 3,
          retryInterval: '2s',
          retryExponential: false,
          repeat: 2,
          repeatInterval: '1m',
          repeatExponential: false,
          timeout: '30s',
          callback: { url: 'https://callback.example/done', on: ['success', 'exhausted'] },
        },
      ),
    );
    assert.deepEqual(r.config, {
      executionDelay: 10_000,
      executionAt: 0,
      retry: 3,
      retryInterval: 2_000,
      retryExponential: false,
      retryAt: 0,
      repeat: 2,
      repeatInterval: 60_000,
      repeatExponential: false,
      repeatAt: 0,
      timeout: 30_000,
      callback: { url: 'https://callback.example/done', on: ['success', 'exhausted'] },
    });
    assert.equal(r.firstExecAt, NOW + 10_000);
  });
});

describe('resolveSubscription: executionDelay and executionAt', () => {
  test('executionDelay sets firstExecAt = now + delay, in ms or as a duration string', () => {
    for (const [delay, ms] of [
      [1, 1],
      [500, 500],
      ['500ms', 500],
      ['10s', 10_000],
      ['5m', 300_000],
      ['1h', 3_600_000],
      ['2d', 2 * DAY],
    ] as const) {
      const r = resolve(body({}, { executionDelay: delay }));
      assert.equal(r.firstExecAt, NOW + ms, `executionDelay ${delay}`);
      assert.equal(r.config.executionDelay, ms, `executionDelay ${delay}`);
    }
  });

  test('executionDelay must be at least 1 ms and at most scheduleAheadMax', () => {
    for (const delay of [0, '0s', -1, LIMITS.scheduleAheadMax + 1, '366d', 'soon', 1.5, '1.5ms']) {
      assert.deepEqual(fieldsOf(body({}, { executionDelay: delay })), ['config.executionDelay'], `executionDelay ${String(delay)}`);
    }
    assert.equal(resolve(body({}, { executionDelay: LIMITS.scheduleAheadMax })).firstExecAt, NOW + LIMITS.scheduleAheadMax);
    assert.equal(resolve(body({}, { executionDelay: '365d' })).firstExecAt, NOW + 365 * DAY);
  });

  test('executionAt sets firstExecAt and wins over executionDelay', () => {
    const at = NOW + 90_000;
    const r = resolve(body({}, { executionAt: at, executionDelay: '10s' }));
    assert.equal(r.firstExecAt, at);
    assert.equal(r.config.executionAt, at);
  });

  test('executionAt must be in the future', () => {
    for (const at of [NOW, NOW - 1, 0, 1]) {
      const issues = issuesOf(() => resolve(body({}, { executionAt: at })));
      assert.deepEqual(
        issues.map((i) => i.field),
        ['config.executionAt'],
        `executionAt ${at}`,
      );
      assert.match(issues[0]!.message, /future/);
    }
    assert.equal(resolve(body({}, { executionAt: NOW + 1 })).firstExecAt, NOW + 1);
  });

  test('executionAt must be within LIMITS.scheduleAheadMax', () => {
    assert.equal(resolve(body({}, { executionAt: NOW + LIMITS.scheduleAheadMax })).firstExecAt, NOW + LIMITS.scheduleAheadMax);
    assert.deepEqual(fieldsOf(body({}, { executionAt: NOW + LIMITS.scheduleAheadMax + 1 })), ['config.executionAt']);
  });
});

describe('resolveSubscription: retryAt and repeatAt', () => {
  for (const [at, count] of [
    ['retryAt', 'retry'],
    ['repeatAt', 'repeat'],
  ] as const) {
    test(`${at} implies ${count} = 1`, () => {
      const r = resolve(body({}, { [at]: NOW + 60_000 }));
      assert.equal(r.config[at], NOW + 60_000);
      assert.equal(r.config[count], 1);
    });

    test(`${at} with an explicit ${count} of 1 is accepted`, () => {
      const r = resolve(body({}, { [at]: NOW + 60_000, [count]: 1 }));
      assert.equal(r.config[at], NOW + 60_000);
      assert.equal(r.config[count], 1);
    });

    test(`${at} with a different explicit ${count} is refused on config.${count}`, () => {
      for (const n of [0, 2, 5]) {
        const issues = issuesOf(() => resolve(body({}, { [at]: NOW + 60_000, [count]: n })));
        assert.deepEqual(
          issues.map((i) => i.field),
          [`config.${count}`],
          `${count} ${n}`,
        );
        assert.match(issues[0]!.message, new RegExp(at));
      }
    });

    test(`${at} must be after the first execution (delay form)`, () => {
      const first = NOW + 10_000;
      for (const value of [first, first - 1, NOW, NOW - 1]) {
        assert.deepEqual(fieldsOf(body({}, { executionDelay: '10s', [at]: value })), [`config.${at}`], `${at} ${value - NOW} ms from now`);
      }
      assert.equal(resolve(body({}, { executionDelay: '10s', [at]: first + 1 })).config[at], first + 1);
    });

    test(`${at} must be after the first execution (executionAt form)`, () => {
      const first = NOW + 3_600_000;
      // After now + delay, but not after executionAt: refused.
      assert.deepEqual(fieldsOf(body({}, { executionAt: first, [at]: first - 1_000 })), [`config.${at}`]);
      assert.deepEqual(fieldsOf(body({}, { executionAt: first, [at]: first })), [`config.${at}`]);
      assert.equal(resolve(body({}, { executionAt: first, [at]: first + 1 })).config[at], first + 1);
    });

    test(`${at} must be within LIMITS.scheduleAheadMax`, () => {
      assert.equal(resolve(body({}, { [at]: NOW + LIMITS.scheduleAheadMax })).config[at], NOW + LIMITS.scheduleAheadMax);
      assert.deepEqual(fieldsOf(body({}, { [at]: NOW + LIMITS.scheduleAheadMax + 1 })), [`config.${at}`]);
    });
  }

  test('retryAt and repeatAt together', () => {
    const r = resolve(body({}, { retryAt: NOW + 60_000, repeatAt: NOW + 120_000 }));
    assert.equal(r.config.retry, 1);
    assert.equal(r.config.repeat, 1);
    assert.equal(r.config.retryAt, NOW + 60_000);
    assert.equal(r.config.repeatAt, NOW + 120_000);
  });
});

describe('resolveSubscription: duration ranges', () => {
  const cases: [keyof Config, number | string, boolean][] = [
    ['retryInterval', 999, false],
    ['retryInterval', '999ms', false],
    ['retryInterval', 0, false],
    ['retryInterval', 1_000, true],
    ['retryInterval', '1s', true],
    ['retryInterval', '30d', true],
    ['retryInterval', LIMITS.intervalMax + 1, false],
    ['repeatInterval', 999, false],
    ['repeatInterval', '0.5s', false],
    ['repeatInterval', 1_000, true],
    ['repeatInterval', '1m', true],
    ['repeatInterval', '31d', false],
    ['timeout', 0, false],
    ['timeout', 1, true],
    ['timeout', '1ms', true],
    ['timeout', 600_000, true],
    ['timeout', '10m', true],
    ['timeout', 600_001, false],
    ['timeout', '11m', false],
    ['timeout', '1h', false],
  ];
  for (const [field, value, ok] of cases) {
    test(`${field} ${JSON.stringify(value)} is ${ok ? 'accepted' : 'refused'}`, () => {
      const b = body({}, { [field]: value });
      if (ok) {
        const r = resolve(b);
        assert.equal(typeof r.config[field], 'number', `${field} ${String(value)}`);
      } else {
        const issues = issuesOf(() => resolve(b));
        assert.deepEqual(
          issues.map((i) => i.field),
          [`config.${field}`],
          `${field} ${String(value)}`,
        );
      }
    });
  }

  test('a duration that does not parse says which forms are accepted', () => {
    const [issue] = issuesOf(() => resolve(body({}, { timeout: 'forever' })));
    assert.equal(issue!.field, 'config.timeout');
    assert.match(issue!.message, /duration string/);
  });

  test('an out-of-range duration names the range', () => {
    const [issue] = issuesOf(() => resolve(body({}, { retryInterval: 10 })));
    assert.match(issue!.message, /1000/);
  });
});

describe('resolveSubscription: URL', () => {
  const refusedUrls: [string, string][] = [
    ['ftp://target.example/file', 'ftp scheme'],
    ['file:///etc/passwd', 'file scheme'],
    ['javascript:alert(1)', 'javascript scheme'],
    ['ws://target.example/', 'ws scheme'],
    ['target.example/hook', 'no scheme'],
    ['/relative/path', 'relative path'],
    ['not a url', 'not a URL'],
    ['https://user:secret@target.example/', 'user and password'],
    ['https://user@target.example/', 'user only'],
    ['https://:secret@target.example/', 'password only'],
  ];
  for (const [url, label] of refusedUrls) {
    test(`refuses ${label}: ${url}`, () => {
      assert.deepEqual(fieldsOf(body({ url })), ['httpRequest.url'], url);
    });
  }

  test('credentials in the URL are refused with advice to use headers', () => {
    const [issue] = issuesOf(() => resolve(body({ url: 'https://user:secret@target.example/' })));
    assert.match(issue!.message, /credentials/);
  });

  const privateTargets: [string, string, string[]][] = [
    // url, what it is, allow-list entries that exempt it
    ['http://127.0.0.1/', 'loopback', ['127.0.0.0/8']],
    ['http://127.1/', 'loopback, short form', ['127.0.0.1']],
    ['http://0x7f000001/', 'loopback, hex', ['127.0.0.0/8']],
    ['http://2130706433/', 'loopback, decimal', ['127.0.0.0/8']],
    ['http://0177.0.0.1/', 'loopback, octal', ['127.0.0.0/8']],
    ['http://127.0.0.1.:8080/', 'loopback, trailing dot', ['127.0.0.0/8']],
    ['http://[::1]/', 'IPv6 loopback', ['::1']],
    ['http://[::ffff:127.0.0.1]/', 'IPv4-mapped loopback', ['127.0.0.1']],
    ['http://[::ffff:7f00:1]/', 'IPv4-mapped loopback, hex', ['127.0.0.0/8']],
    ['http://[::127.0.0.1]/', 'IPv4-compatible loopback (deprecated ::/96 form)', ['127.0.0.0/8', '::/96']],
    ['http://0.0.0.0/', 'unspecified', ['0.0.0.0']],
    ['http://[::]/', 'IPv6 unspecified', ['::/128']],
    ['http://169.254.1.1/', 'link-local', ['169.254.1.1/32']],
    ['http://10.0.0.1/', 'private 10/8', ['10.0.0.0/8']],
    ['http://172.16.5.4/', 'private 172.16/12', ['172.16.0.0/12']],
    ['http://192.168.1.1/', 'private 192.168/16', ['192.168.1.1']],
    ['http://100.64.0.1/', 'carrier-grade NAT', ['100.64.0.0/10']],
    ['http://[fd00::1]/', 'unique-local', ['fd00::/8']],
    ['http://[fe80::1]/', 'IPv6 link-local', ['fe80::/10']],
    ['http://[::ffff:10.0.0.1]/', 'IPv4-mapped private', ['10.0.0.0/8']],
    ['http://[::ffff:169.254.1.1]/', 'IPv4-mapped link-local', ['169.254.0.0/16']],
    ['http://224.0.0.1/', 'multicast', ['224.0.0.0/4']],
    ['http://255.255.255.255/', 'broadcast', ['255.255.255.255']],
    ['http://localhost/', 'localhost', ['localhost']],
    ['http://LOCALHOST:8080/', 'localhost in upper case', ['localhost']],
    ['http://localhost./', 'localhost with a trailing dot', ['localhost']],
    ['http://foo.localhost/', 'a .localhost subdomain', ['*.localhost']],
    ['http://a.b.localhost/', 'a deeper .localhost subdomain', ['*.localhost']],
    ['http://localhost.localdomain/', 'localhost.localdomain', ['localhost.localdomain']],
    ['http://ip6-localhost/', 'ip6-localhost', ['ip6-localhost']],
  ];
  for (const [url, label, allow] of privateTargets) {
    test(`refuses ${label} (${url}) unless the allow list exempts it`, () => {
      const issues = issuesOf(() => resolve(body({ url })));
      assert.deepEqual(
        issues.map((i) => i.field),
        ['httpRequest.url'],
        url,
      );
      assert.match(issues[0]!.message, /target refused/, url);
      assert.match(issues[0]!.message, /TASKS_ALLOW_TARGETS/, url);

      const list = parseTargetList(allow);
      assert.deepEqual(list.invalid, [], `allow entries ${allow.join(',')}`);
      const r = resolve(body({ url }), createTargetPolicy(list));
      assert.equal(r.request.url, url, `${url} allowed by ${allow.join(',')}`);
    });
  }

  test('cloud metadata is refused even when its range is allowed, and the refusal does not offer the allow list', () => {
    const policy = createTargetPolicy(parseTargetList(['169.254.0.0/16', '168.63.0.0/16']));
    for (const url of ['http://169.254.169.254/latest/meta-data/', 'http://[::ffff:169.254.169.254]/', 'http://168.63.129.16/']) {
      const issues = issuesOf(() => resolve(body({ url }), policy));
      assert.deepEqual(
        issues.map((i) => i.field),
        ['httpRequest.url'],
        url,
      );
      assert.match(issues[0]!.message, /target refused: .* cloud platform/, url);
      assert.doesNotMatch(issues[0]!.message, /TASKS_ALLOW_TARGETS/, url);
    }
  });

  test('localhost is also allowed when the loopback range is allowed by address', () => {
    const policy = createTargetPolicy(parseTargetList(['127.0.0.0/8']));
    assert.equal(resolve(body({ url: 'http://localhost:3000/' }), policy).request.url, 'http://localhost:3000/');
    assert.equal(resolve(body({ url: 'http://api.localhost/' }), policy).request.url, 'http://api.localhost/');
  });

  test('an allow list entry exempts only what it names', () => {
    const policy = createTargetPolicy(parseTargetList(['127.0.0.1', 'dev.internal']));
    assert.deepEqual(fieldsOf(body({ url: 'http://10.0.0.1/' }), policy), ['httpRequest.url']);
    assert.deepEqual(fieldsOf(body({ url: 'http://[::1]/' }), policy), ['httpRequest.url']);
    assert.deepEqual(fieldsOf(body({ url: 'http://127.0.0.2/' }), policy), ['httpRequest.url']);
  });

  const publicUrls = [
    'https://target.example/hook',
    'http://target.example:8080/a/b?c=d',
    'https://8.8.8.8/',
    'http://1.1.1.1:8080/',
    'https://[2606:4700:4700::1111]/',
    'https://localhost.example.com/',
    'https://mylocalhost/',
    'https://internal-service/',
  ];
  for (const url of publicUrls) {
    test(`accepts ${url}`, () => {
      assert.equal(resolve(body({ url })).request.url, url);
    });
  }
});

describe('resolveSubscription: headers', () => {
  const forbidden = [
    'Host',
    'Content-Length',
    'Transfer-Encoding',
    'Connection',
    'Keep-Alive',
    'Upgrade',
    'TE',
    'Trailer',
    'Proxy-Connection',
    'Expect',
    'HTTP2-Settings',
  ];

  test('every forbidden header is in FORBIDDEN_HEADERS', () => {
    for (const name of forbidden) assert.ok(FORBIDDEN_HEADERS.has(name.toLowerCase()), name);
  });

  for (const name of [...forbidden, 'host', 'CONTENT-LENGTH', 'transfer-encoding']) {
    test(`refuses the connection header ${name}`, () => {
      const issues = issuesOf(() => resolve(body({ headers: { [name]: 'x' } })));
      assert.deepEqual(
        issues.map((i) => i.field),
        [`httpRequest.headers.${name}`],
      );
    });
  }

  for (const name of ['X-Kuueri-Tasks-Queue', 'x-kuueri-tasks-retry-count', 'X-KUUERI-TASKS-CURRENTLY-REPEAT', 'X-Kuueri-Tasks-Anything']) {
    test(`refuses the reserved header ${name}`, () => {
      const issues = issuesOf(() => resolve(body({ headers: { [name]: 'x' } })));
      assert.deepEqual(
        issues.map((i) => i.field),
        [`httpRequest.headers.${name}`],
      );
      assert.match(issues[0]!.message, /x-kuueri-tasks-/);
    });
  }

  test('a header that only starts like the reserved prefix is accepted', () => {
    const r = resolve(body({ headers: { 'X-Kuueri-Task': '1', 'X-Kuueri-Tasks': '2' } }));
    assert.deepEqual(r.request.headers, { 'X-Kuueri-Task': '1', 'X-Kuueri-Tasks': '2' });
  });

  test('a header name given twice in different cases is refused on the second spelling', () => {
    const issues = issuesOf(() => resolve(body({ headers: { 'X-Token': 'a', 'x-token': 'b' } })));
    assert.deepEqual(
      issues.map((i) => i.field),
      ['httpRequest.headers.x-token'],
    );
    assert.match(issues[0]!.message, /twice/);
  });

  test('three spellings of one name give two issues', () => {
    const issues = issuesOf(() => resolve(body({ headers: { Accept: 'a', ACCEPT: 'b', accept: 'c' } })));
    assert.deepEqual(issues.map((i) => i.field).sort(), ['httpRequest.headers.ACCEPT', 'httpRequest.headers.accept']);
  });

  test('ordinary headers are kept as given, in a copy', () => {
    const headers = { 'Content-Type': 'application/json', Authorization: 'Bearer secret', 'User-Agent': 'mine' };
    const r = resolve(body({ headers }));
    assert.deepEqual(r.request.headers, headers);
    assert.notEqual(r.request.headers, headers);
  });

  test('an empty headers or params object is dropped', () => {
    const r = resolve(body({ headers: {}, params: {} }));
    assert.equal(r.request.headers, undefined);
    assert.equal(r.request.params, undefined);
    assert.deepEqual(Object.keys(r.request).sort(), ['method', 'url']);
  });

  test('params are kept as given, in a copy', () => {
    const params = { key: 'value', page: '2' };
    const r = resolve(body({ params }));
    assert.deepEqual(r.request.params, params);
    assert.notEqual(r.request.params, params);
  });
});

describe('resolveSubscription: data', () => {
  const data = Buffer.from('{"hello":"world"}').toString('base64');

  for (const method of ['POST', 'PATCH', 'PUT'] as const) {
    test(`${method} keeps data`, () => {
      assert.equal(resolve(body({ method, data })).request.data, data);
    });
  }

  test('DELETE drops data', () => {
    const r = resolve(body({ method: 'DELETE', data }));
    assert.equal(r.request.method, 'DELETE');
    assert.equal(r.request.data, undefined);
    assert.ok(!('data' in r.request), 'no data key at all');
  });

  test('empty data is refused as empty (the schema leaves emptiness to this check)', () => {
    assert.deepEqual(
      issuesOf(() => resolve(body({ data: '' }))),
      [{ field: 'httpRequest.data', message: 'must not be empty' }],
    );
  });

  test('base64 whose length cannot be valid is refused', () => {
    for (const bad of ['Q', 'QUJDR', 'QUJDR===']) {
      assert.deepEqual(fieldsOf(body({ data: bad })), ['httpRequest.data'], bad);
    }
    for (const good of ['QQ', 'QQ==', 'QUI', 'QUI=', 'QUJD', data]) {
      assert.equal(resolve(body({ data: good })).request.data, good, good);
    }
  });
});

describe('resolveSubscription: every problem at once', () => {
  test('issues from the request and the config are all reported, each naming its field', () => {
    const b: SubscribeBody = {
      httpRequest: {
        url: 'http://169.254.169.254/latest/meta-data/',
        method: 'POST',
        data: 'Q',
        headers: { Host: 'evil', 'X-Kuueri-Tasks-Queue': 'forged', 'X-A': '1', 'x-a': '2' },
      },
      config: {
        executionDelay: 0,
        executionAt: NOW - 1,
        retryInterval: '1ms',
        repeatInterval: 'often',
        timeout: 600_001,
        retryAt: NOW + 30_000,
        retry: 4,
        repeatAt: NOW - 5,
      },
    };
    const fields = fieldsOf(b);
    const expected = [
      'httpRequest.url',
      'httpRequest.headers.Host',
      'httpRequest.headers.X-Kuueri-Tasks-Queue',
      'httpRequest.headers.x-a',
      'httpRequest.data',
      'config.executionDelay',
      'config.retryInterval',
      'config.repeatInterval',
      'config.timeout',
      'config.executionAt',
      'config.retry',
      'config.repeatAt',
    ];
    assert.deepEqual([...fields].sort(), [...expected].sort());
  });

  test('the error message lists every issue', () => {
    try {
      resolve(body({ url: 'ftp://x.example/' }, { timeout: 0, retryInterval: 1 }));
      assert.fail('expected an error');
    } catch (error) {
      assert.ok(error instanceof AppError);
      assert.match(error.message, /httpRequest\.url: /);
      assert.match(error.message, /config\.timeout: /);
      assert.match(error.message, /config\.retryInterval: /);
      assert.equal(error.issues.length, 3);
    }
  });
});

describe('resolveReschedule', () => {
  test('executionDelay counts from now; executionAt is taken as given', () => {
    assert.equal(resolveReschedule({ executionDelay: '10s' }, NOW), NOW + 10_000);
    assert.equal(resolveReschedule({ executionDelay: 1 }, NOW), NOW + 1);
    assert.equal(resolveReschedule({ executionAt: NOW + 5 }, NOW), NOW + 5);
    assert.equal(resolveReschedule({ executionAt: NOW + LIMITS.scheduleAheadMax }, NOW), NOW + LIMITS.scheduleAheadMax);
  });

  test('exactly one of the two', () => {
    const message = 'must give exactly one of executionDelay and executionAt';
    assert.deepEqual(
      issuesOf(() => resolveReschedule({}, NOW)),
      [{ field: 'body', message }],
    );
    assert.deepEqual(
      issuesOf(() => resolveReschedule({ executionDelay: '1s', executionAt: NOW + 1_000 }, NOW)),
      [{ field: 'body', message }],
    );
  });

  test('the bounds of a first execution', () => {
    assert.deepEqual(
      issuesOf(() => resolveReschedule({ executionDelay: 0 }, NOW)).map((i) => i.field),
      ['executionDelay'],
    );
    assert.deepEqual(
      issuesOf(() => resolveReschedule({ executionDelay: '366d' }, NOW)).map((i) => i.field),
      ['executionDelay'],
    );
    assert.match(issuesOf(() => resolveReschedule({ executionDelay: 'soon' }, NOW))[0]!.message, /duration string/);
    assert.match(issuesOf(() => resolveReschedule({ executionAt: NOW }, NOW))[0]!.message, /must be in the future/);
    assert.match(issuesOf(() => resolveReschedule({ executionAt: NOW + LIMITS.scheduleAheadMax + 1 }, NOW))[0]!.message, /at most/);
  });
});
