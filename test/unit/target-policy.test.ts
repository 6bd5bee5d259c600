import assert from 'node:assert/strict';
import type { NetworkInterfaceInfo } from 'node:os';
import { describe, test } from 'node:test';
import { PLATFORM_ADDRESSES, createTargetPolicy, isIpLiteral, parseTargetList } from '../../src/core/target-policy.js';
import { ownEndpoints } from '../../src/dispatch/target-guard.js';

const strict = createTargetPolicy(parseTargetList([]));

function cidrText(list: ReturnType<typeof parseTargetList>): string[] {
  return list.cidrs.map(({ range: [address, bits], port }) => `${address.toString()}/${bits}${port === null ? '' : ` port ${port}`}`);
}

function hostText(list: ReturnType<typeof parseTargetList>): string[] {
  return list.hosts.map(({ name, port }) => (port === null ? name : `${name} port ${port}`));
}

describe('parseTargetList', () => {
  test('an empty list', () => {
    assert.deepEqual(parseTargetList([]), { cidrs: [], hosts: [], invalid: [] });
  });

  test('CIDRs in both families', () => {
    const list = parseTargetList(['10.0.0.0/8', '127.0.0.0/8', '192.168.0.0/16', 'fd00::/8', '::1/128']);
    assert.deepEqual(cidrText(list), ['10.0.0.0/8', '127.0.0.0/8', '192.168.0.0/16', 'fd00::/8', '::1/128']);
    assert.deepEqual(list.hosts, []);
    assert.deepEqual(list.invalid, []);
  });

  test('a single address is a /32 or a /128', () => {
    const list = parseTargetList(['127.0.0.1', '::1', 'fd12:3456::7']);
    assert.deepEqual(cidrText(list), ['127.0.0.1/32', '::1/128', 'fd12:3456::7/128']);
    assert.deepEqual(list.invalid, []);
  });

  test('host names, wildcards, case and trailing dots', () => {
    const list = parseTargetList(['localhost', 'Dev.Internal', '*.example.internal', 'svc.local.', '*.LOCALHOST', 'my-host', 'a1.b2.c3']);
    assert.deepEqual(hostText(list), [
      'localhost',
      'dev.internal',
      '*.example.internal',
      'svc.local',
      '*.localhost',
      'my-host',
      'a1.b2.c3',
    ]);
    assert.deepEqual(list.cidrs, []);
    assert.deepEqual(list.invalid, []);
  });

  test('surrounding spaces are trimmed and empty entries skipped', () => {
    const list = parseTargetList(['  10.0.0.0/8 ', '', '   ', ' localhost ']);
    assert.deepEqual(cidrText(list), ['10.0.0.0/8']);
    assert.deepEqual(hostText(list), ['localhost']);
    assert.deepEqual(list.invalid, []);
  });

  test('any entry may name a port: address:port, [IPv6]:port, CIDR:port, [IPv6 CIDR]:port, name:port', () => {
    const list = parseTargetList([
      '127.0.0.1:8203',
      '[::1]:8203',
      '[::1]',
      '10.0.0.0/8:443',
      '[fd00::/8]:443',
      'hooks.internal:8080',
      '*.svc.local:80',
    ]);
    assert.deepEqual(cidrText(list), [
      '127.0.0.1/32 port 8203',
      '::1/128 port 8203',
      '::1/128',
      '10.0.0.0/8 port 443',
      'fd00::/8 port 443',
    ]);
    assert.deepEqual(hostText(list), ['hooks.internal port 8080', '*.svc.local port 80']);
    assert.deepEqual(list.invalid, []);
  });

  const invalid = [
    '10.0.0.0/33',
    '::/129',
    '1.2.3.4/abc',
    '1.2.3.4/',
    'foo/24',
    '/8',
    '300.1.1.1/8',
    '*',
    '*.',
    '*.*.example',
    'a.*.example',
    'example*',
    'host_name',
    '-leading.example',
    'trailing-.example',
    'has space.example',
    'http://example.com',
    'exa..mple',
    'example.com:0',
    'example.com:65536',
    'example.com:',
    '127.0.0.1:80a',
    '[::1]:',
    '[::1',
    '[example.com]:80',
    'fd00::/8:443',
    '127.1',
    '0x7f000001',
    '10',
    'ünicode.example',
  ];
  for (const entry of invalid) {
    test(`"${entry}" is invalid and kept as written`, () => {
      const list = parseTargetList([entry]);
      assert.deepEqual(list.invalid, [entry], entry);
      assert.deepEqual(list.cidrs, [], entry);
      assert.deepEqual(list.hosts, [], entry);
    });
  }

  test('invalid entries are reported in their original spelling, valid ones still read', () => {
    const list = parseTargetList(['10.0.0.0/8', ' Not A Host! ', 'localhost', '10.0.0.0/99']);
    assert.deepEqual(list.invalid, [' Not A Host! ', '10.0.0.0/99']);
    assert.deepEqual(cidrText(list), ['10.0.0.0/8']);
    assert.deepEqual(hostText(list), ['localhost']);
  });
});

describe('refuseAddress: refused ranges', () => {
  const cases: [string, RegExp][] = [
    ['127.0.0.1', /loopback/],
    ['127.255.255.254', /loopback/],
    ['::1', /loopback/],
    ['[::1]', /loopback/],
    ['10.0.0.1', /private/],
    ['10.255.255.255', /private/],
    ['172.16.0.1', /private/],
    ['172.31.255.254', /private/],
    ['192.168.1.1', /private/],
    ['169.254.169.254', /cloud platform/],
    ['169.254.0.1', /link-local/],
    ['fe80::1', /link-local/],
    ['[fe80::abcd]', /link-local/],
    ['fc00::1', /unique-local/],
    ['fd00::1', /unique-local/],
    ['fdff:ffff::1', /unique-local/],
    ['100.64.0.1', /carrier-grade NAT/],
    ['100.127.255.254', /carrier-grade NAT/],
    ['0.0.0.0', /unspecified/],
    ['0.1.2.3', /unspecified/],
    ['::', /unspecified/],
    ['224.0.0.1', /multicast/],
    ['239.255.255.250', /multicast/],
    ['ff02::1', /multicast/],
    ['ff05::2', /multicast/],
    ['255.255.255.255', /broadcast/],
    ['240.0.0.1', /non-public \(reserved\)/],
    ['192.0.2.1', /non-public \(reserved\)/],
    ['198.51.100.7', /non-public \(reserved\)/],
    ['203.0.113.9', /non-public \(reserved\)/],
    ['198.18.0.1', /non-public \(reserved\)/],
    ['2001:db8::1', /non-public \(reserved\)/],
    ['fec0::1', /non-public/],
    ['100::1', /non-public/],
    // IPv4-mapped IPv6 is judged as the IPv4 address it holds
    ['::ffff:127.0.0.1', /127\.0\.0\.1 is a loopback/],
    ['[::ffff:7f00:1]', /127\.0\.0\.1 is a loopback/],
    ['::ffff:10.0.0.1', /10\.0\.0\.1 is a private/],
    ['::ffff:169.254.169.254', /169\.254\.169\.254 is a cloud platform/],
    ['::ffff:169.254.169.1', /169\.254\.169\.1 is a link-local/],
    ['::ffff:0.0.0.0', /unspecified/],
    // other IPv6 forms that embed an IPv4 address
    ['64:ff9b::7f00:1', /non-public \(rfc6052\)/],
    ['64:ff9b::808:808', /non-public \(rfc6052\)/],
    ['64:ff9b:1::a00:1', /non-public \(rfc6052\)/],
    ['2002:7f00:1::', /non-public \(6to4\)/],
    ['2002:a00:1::1', /non-public \(6to4\)/],
    ['2001::1', /non-public \(teredo\)/],
    ['::ffff:0:7f00:1', /non-public \(rfc6145\)/],
  ];
  for (const [address, reason] of cases) {
    test(`${address} is refused`, () => {
      const refusal = strict.refuseAddress(address, 80);
      assert.ok(refusal !== null, `${address} should be refused`);
      assert.match(refusal, reason, address);
    });
  }

  // ::/96 held "IPv4-compatible" addresses (RFC 4291, deprecated): ::7f00:1 is ::127.0.0.1.
  for (const address of ['::7f00:1', '[::7f00:1]', '::a00:1', '::a9fe:a9fe']) {
    test(`${address} (IPv4-compatible IPv6, embeds a non-public IPv4 address) is refused`, () => {
      assert.notEqual(strict.refuseAddress(address, 80), null, `${address} should be refused`);
    });
  }

  test('something that is not an IP address is refused as such', () => {
    for (const raw of ['example.com', 'localhost', '', '1.2.3.4.5', '::g']) {
      assert.match(strict.refuseAddress(raw, 80) ?? '', /is not an IP address/, JSON.stringify(raw));
    }
  });
});

describe('refuseAddress: public unicast is allowed', () => {
  for (const address of [
    '8.8.8.8',
    '1.1.1.1',
    '93.184.216.34',
    '172.15.255.255',
    '172.32.0.1',
    '100.63.255.255',
    '100.128.0.1',
    '169.253.0.1',
    '11.0.0.1',
    '2606:4700:4700::1111',
    '[2001:4860:4860::8888]',
    '2a00:1450:4001::1',
    '::ffff:8.8.8.8',
  ]) {
    test(`${address} is allowed`, () => {
      assert.equal(strict.refuseAddress(address, 80), null, address);
    });
  }
});

describe('refuseAddress with an allow list', () => {
  const policy = createTargetPolicy(parseTargetList(['127.0.0.0/8', '10.1.0.0/16', '::1', 'fd00::/8', '169.254.169.1']));

  test('addresses inside an allowed CIDR or equal to an allowed address are allowed', () => {
    for (const address of [
      '127.0.0.1',
      '127.9.9.9',
      '10.1.2.3',
      '::1',
      '[::1]',
      'fd00::1',
      'fd12::1',
      '169.254.169.1',
      '::ffff:127.0.0.1',
      '::ffff:10.1.0.9',
    ]) {
      assert.equal(policy.refuseAddress(address, 80), null, address);
    }
  });

  test('neighbouring addresses stay refused', () => {
    for (const address of ['10.2.0.1', '10.0.255.255', '169.254.169.2', 'fe80::1', 'fc00::1', '192.168.0.1', '0.0.0.0', '::']) {
      assert.notEqual(policy.refuseAddress(address, 80), null, address);
    }
  });

  test('an IPv4 range does not allow IPv6 loopback, nor the reverse', () => {
    assert.notEqual(createTargetPolicy(parseTargetList(['127.0.0.0/8'])).refuseAddress('::1', 80), null);
    assert.notEqual(createTargetPolicy(parseTargetList(['::1'])).refuseAddress('127.0.0.1', 80), null);
  });
});

describe('allowsResolved: a name exempted by the allow list', () => {
  const policy = createTargetPolicy(
    parseTargetList(['dev.internal', '*.example.internal', 'localhost', '10.0.0.0/8', 'hooks.internal:8080']),
  );
  const cases: [string, boolean][] = [
    ['dev.internal', true],
    ['DEV.Internal', true],
    ['dev.internal.', true],
    ['api.dev.internal', false],
    ['xdev.internal', false],
    ['a.example.internal', true],
    ['a.b.example.internal', true],
    ['A.EXAMPLE.INTERNAL.', true],
    ['example.internal', false],
    ['evilexample.internal', false],
    ['example.internal.evil', false],
    ['localhost', true],
    ['foo.localhost', false],
    ['10.0.0.1', false],
    ['other.example', false],
  ];
  for (const [host, exempt] of cases) {
    test(`${host} is ${exempt ? '' : 'not '}exempt: a private address it resolves to is ${exempt ? 'allowed' : 'refused'}`, () => {
      assert.equal(policy.allowsResolved(host, '192.168.1.1', 80), exempt, host);
      assert.equal(policy.allowsResolved(host, '8.8.8.8', 80), true, `${host}: a public address is allowed either way`);
    });
  }

  test('a name exempted on one port is exempt on that port only', () => {
    assert.equal(policy.allowsResolved('hooks.internal', '192.168.1.1', 8080), true);
    assert.equal(policy.allowsResolved('hooks.internal', '192.168.1.1', 6379), false);
  });

  test('nothing is exempt with an empty list', () => {
    for (const host of ['localhost', 'example.com']) assert.equal(strict.allowsResolved(host, '127.0.0.1', 80), false, host);
  });

  test('an exempt name still never reaches a denied address', () => {
    const denying = createTargetPolicy(parseTargetList(['*.internal']), parseTargetList(['10.0.0.9', '10.0.0.10:6379']));
    assert.equal(denying.allowsResolved('a.internal', '10.0.0.8', 80), true);
    assert.equal(denying.allowsResolved('a.internal', '10.0.0.9', 80), false);
    assert.equal(denying.allowsResolved('a.internal', '10.0.0.10', 80), true);
    assert.equal(denying.allowsResolved('a.internal', '10.0.0.10', 6379), false);
    assert.equal(denying.allowsResolved('a.internal', '168.63.129.16', 80), false, 'a platform address');
    assert.equal(denying.allowsResolved('a.internal', '169.254.169.254', 80), false, 'instance metadata');
  });

  test('a denied name is refused whatever it resolves to', () => {
    const denying = createTargetPolicy(parseTargetList([]), parseTargetList(['blocked.example', '*.tracker.example:443']));
    assert.equal(denying.allowsResolved('blocked.example', '8.8.8.8', 80), false);
    assert.equal(denying.allowsResolved('a.tracker.example', '8.8.8.8', 443), false);
    assert.equal(denying.allowsResolved('a.tracker.example', '8.8.8.8', 80), true);
    assert.match(denying.refuseLiteralHost('blocked.example', 80) ?? '', /TASKS_DENY_TARGETS/);
  });
});

describe('ports', () => {
  test('an allowed address:port allows that port only', () => {
    const policy = createTargetPolicy(parseTargetList(['127.0.0.1:8203', '[::1]:8203', '10.0.0.0/8:443']));
    assert.equal(policy.refuseAddress('127.0.0.1', 8203), null);
    assert.equal(policy.refuseAddress('::1', 8203), null);
    assert.equal(policy.refuseAddress('[::1]', 8203), null);
    assert.equal(policy.refuseAddress('10.9.8.7', 443), null);
    for (const [address, port] of [
      ['127.0.0.1', 6379],
      ['127.0.0.2', 8203],
      ['::1', 6379],
      ['10.9.8.7', 80],
    ] as const) {
      assert.match(policy.refuseAddress(address, port) ?? '', /loopback|private/, `${address} port ${port}`);
    }
  });

  test('a literal host is judged with its port at subscribe, loopback names too', () => {
    const policy = createTargetPolicy(parseTargetList(['127.0.0.1:8203']));
    assert.equal(policy.refuseLiteralHost('127.0.0.1', 8203), null);
    assert.equal(policy.refuseLiteralHost('localhost', 8203), null);
    assert.notEqual(policy.refuseLiteralHost('127.0.0.1', 6379), null);
    assert.notEqual(policy.refuseLiteralHost('localhost', 6379), null);
  });
});

describe('the deny list', () => {
  test('a deny entry beats an allow entry, on its port only when it names one', () => {
    const policy = createTargetPolicy(parseTargetList(['127.0.0.0/8', '10.0.0.0/8']), parseTargetList(['127.0.0.1:6379', '10.1.0.0/16']));
    assert.match(policy.refuseAddress('127.0.0.1', 6379) ?? '', /127\.0\.0\.1:6379 is refused by TASKS_DENY_TARGETS/);
    assert.equal(policy.refuseAddress('127.0.0.1', 8203), null);
    assert.equal(policy.refuseAddress('127.0.0.2', 6379), null);
    assert.match(policy.refuseAddress('10.1.2.3', 443) ?? '', /TASKS_DENY_TARGETS/);
    assert.equal(policy.refuseAddress('10.2.2.3', 443), null);
    assert.match(policy.refuseLiteralHost('127.0.0.1', 6379) ?? '', /TASKS_DENY_TARGETS/);
  });

  test('a public address can be denied too', () => {
    const policy = createTargetPolicy(parseTargetList([]), parseTargetList(['203.0.114.7', '[2606:4700::1111]:443']));
    assert.notEqual(policy.refuseAddress('203.0.114.7', 80), null);
    assert.notEqual(policy.refuseAddress('2606:4700::1111', 443), null);
    assert.equal(policy.refuseAddress('2606:4700::1111', 80), null);
  });

  for (const address of PLATFORM_ADDRESSES) {
    test(`${address}, a cloud platform's address, is refused on every port even when its range is allowed`, () => {
      const policy = createTargetPolicy(parseTargetList(['0.0.0.0/0', '::/0', `${address.includes(':') ? `[${address}]` : address}:80`]));
      for (const port of [80, 443, 32526])
        assert.match(policy.refuseAddress(address, port) ?? '', /cloud platform/, `${address} port ${port}`);
      assert.match(policy.refuseLiteralHost(address.includes(':') ? `[${address}]` : address, 80) ?? '', /cloud platform/);
    });
  }

  test("the server's own endpoints, once known, are refused on their port, even where loopback is allowed", () => {
    const policy = createTargetPolicy(parseTargetList(['127.0.0.0/8', '::1']));
    assert.equal(policy.refuseAddress('127.0.0.1', 8202), null, 'before the server listens');
    assert.equal(policy.refuseLiteralHost('localhost', 8202), null);
    policy.denyOwnEndpoints(['127.0.0.0/8:8202', '[::1]:8202']);
    assert.match(policy.refuseAddress('127.0.0.1', 8202) ?? '', /127\.0\.0\.1:8202 is this server's own address/);
    assert.match(policy.refuseAddress('127.0.0.9', 8202) ?? '', /own address/);
    assert.match(policy.refuseAddress('::1', 8202) ?? '', /\[::1\]:8202 is this server's own address/);
    assert.notEqual(policy.refuseLiteralHost('localhost', 8202), null);
    assert.equal(policy.refuseAddress('127.0.0.1', 8203), null, 'another port on the same address');
  });
});

describe('ownEndpoints', () => {
  const interfaces = {
    lo: [
      { address: '127.0.0.1', netmask: '255.0.0.0', family: 'IPv4', mac: '00:00:00:00:00:00', internal: true, cidr: '127.0.0.1/8' },
      {
        address: '::1',
        netmask: 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
        family: 'IPv6',
        mac: '00:00:00:00:00:00',
        internal: true,
        cidr: '::1/128',
        scopeid: 0,
      },
    ],
    eth0: [
      {
        address: '203.0.113.5',
        netmask: '255.255.255.0',
        family: 'IPv4',
        mac: '02:00:00:00:00:01',
        internal: false,
        cidr: '203.0.113.5/24',
      },
      {
        address: 'fe80::1',
        netmask: 'ffff:ffff:ffff:ffff::',
        family: 'IPv6',
        mac: '02:00:00:00:00:01',
        internal: false,
        cidr: 'fe80::1/64',
        scopeid: 2,
      },
    ],
  } as const satisfies NodeJS.Dict<NetworkInterfaceInfo[]>;

  test('a specific listening address is itself, with its port', () => {
    assert.deepEqual(ownEndpoints([{ address: '127.0.0.1', port: 8202 }], interfaces), ['127.0.0.1:8202']);
    assert.deepEqual(ownEndpoints([{ address: '::1', port: 8202 }], interfaces), ['[::1]:8202']);
  });

  test('0.0.0.0 is every IPv4 interface address, the whole loopback range, and 0.0.0.0', () => {
    assert.deepEqual(ownEndpoints([{ address: '0.0.0.0', port: 8202 }], interfaces), [
      '0.0.0.0:8202',
      '127.0.0.1/8:8202',
      '203.0.113.5:8202',
    ]);
  });

  test(':: is every interface address of both families', () => {
    assert.deepEqual(ownEndpoints([{ address: '::', port: 8202 }], interfaces), [
      '0.0.0.0:8202',
      '[::]:8202',
      '127.0.0.1/8:8202',
      '[::1]:8202',
      '203.0.113.5:8202',
      '[fe80::1]:8202',
    ]);
  });

  test('what it lists is refused by a policy that allows everything else', () => {
    const policy = createTargetPolicy(parseTargetList(['0.0.0.0/0', '::/0']));
    policy.denyOwnEndpoints(ownEndpoints([{ address: '::', port: 8202 }], interfaces));
    for (const address of ['127.0.0.1', '127.0.0.53', '203.0.113.5', '::1', 'fe80::1', '0.0.0.0', '::', '::ffff:127.0.0.1']) {
      assert.match(policy.refuseAddress(address, 8202) ?? '', /own address/, address);
      assert.equal(policy.refuseAddress(address, 8203), null, `${address} on another port`);
    }
  });
});

describe('refuseLiteralHost', () => {
  test('literal addresses are judged like refuseAddress', () => {
    for (const host of ['127.0.0.1', '[::1]', '10.0.0.1', '[fd00::1]', '169.254.169.254', '0.0.0.0', '[::ffff:7f00:1]']) {
      const refusal = strict.refuseLiteralHost(host, 80);
      assert.ok(refusal !== null, host);
      assert.equal(refusal, strict.refuseAddress(host, 80), host);
    }
    for (const host of ['8.8.8.8', '[2606:4700:4700::1111]']) assert.equal(strict.refuseLiteralHost(host, 80), null, host);
  });

  test('loopback names are refused as loopback', () => {
    for (const host of [
      'localhost',
      'LOCALHOST',
      'localhost.',
      'localhost.localdomain',
      'ip6-localhost',
      'ip6-loopback',
      'foo.localhost',
      'a.b.localhost',
      'Foo.LocalHost.',
    ]) {
      assert.match(strict.refuseLiteralHost(host, 80) ?? '', /loopback/, host);
    }
  });

  test('other names are left for the dispatch-time guard', () => {
    for (const host of ['example.com', 'localhost.example.com', 'notlocalhost', 'localhostx', 'internal', 'metadata.google.internal']) {
      assert.equal(strict.refuseLiteralHost(host, 80), null, host);
    }
  });

  test('loopback names are allowed when either loopback address is allowed, or the name is', () => {
    for (const entries of [['127.0.0.0/8'], ['127.0.0.1'], ['::1'], ['localhost', '*.localhost']]) {
      const policy = createTargetPolicy(parseTargetList(entries));
      for (const host of ['localhost', 'foo.localhost']) {
        assert.equal(policy.refuseLiteralHost(host, 80), null, `${host} with ${entries.join(',')}`);
      }
    }
  });

  test('exempting one loopback name does not exempt another', () => {
    const policy = createTargetPolicy(parseTargetList(['localhost']));
    assert.equal(policy.refuseLiteralHost('localhost', 80), null);
    assert.notEqual(policy.refuseLiteralHost('foo.localhost', 80), null);
    assert.notEqual(policy.refuseLiteralHost('127.0.0.1', 80), null);
  });
});

describe('isIpLiteral', () => {
  test('addresses with or without brackets are literals; names are not', () => {
    for (const host of ['127.0.0.1', '8.8.8.8', '::1', '[::1]', '[2606:4700:4700::1111]', '::ffff:127.0.0.1']) {
      assert.equal(isIpLiteral(host), true, host);
    }
    for (const host of ['localhost', 'example.com', '', '[example.com]', '1.2.3.4.5']) {
      assert.equal(isIpLiteral(host), false, host);
    }
  });
});

describe('ownInbox: the one place of this server a task may reach', () => {
  const P = '01ARZ3NDEKTSV4RRFFQ69G5FAV';
  const Q = '01BX5ZZKBKACTAV9WEVGEMMVRZ';
  const listening = (inbox: boolean) => {
    const policy = createTargetPolicy(parseTargetList(['127.0.0.0/8']), undefined, { inbox });
    policy.denyOwnEndpoints(['127.0.0.0/8:8202', '[::1]:8202']);
    return policy;
  };

  test("only its own project's inbox path, over http, at a literal own endpoint", () => {
    const policy = listening(true);
    for (const url of [`http://127.0.0.1:8202/inbox/${P}`, `http://127.0.0.1:8202/inbox/${P}?a=1`, `http://[::1]:8202/inbox/${P}`]) {
      assert.equal(policy.ownInbox(new URL(url), P), true, url);
    }
    for (const url of [
      `http://127.0.0.1:8202/inbox/${Q}`,
      `http://127.0.0.1:8202/inbox/${P}/`,
      `http://127.0.0.1:8202/inbox/${P}/x`,
      `http://127.0.0.1:8202/inbox/${P.toLowerCase()}`,
      `http://127.0.0.1:8202/inbox/%30${P.slice(1)}`,
      `http://127.0.0.1:8202/v1beta/info`,
      `https://127.0.0.1:8202/inbox/${P}`,
      `http://127.0.0.1:8203/inbox/${P}`,
      `http://localhost:8202/inbox/${P}`,
      `http://user:pw@127.0.0.1:8202/inbox/${P}`,
    ]) {
      assert.equal(policy.ownInbox(new URL(url), P), false, url);
    }
    // The URL parser normalises dot segments before the path is compared.
    assert.equal(policy.ownInbox(new URL(`http://127.0.0.1:8202/inbox/x/../${P}`), P), true);
    assert.equal(policy.ownInbox(new URL(`http://127.0.0.1:8202/inbox/${P}/../../v1beta/info`), P), false);
  });

  test('never while the inbox is off; the own endpoints stay refused either way', () => {
    const policy = listening(false);
    assert.equal(policy.ownInbox(new URL(`http://127.0.0.1:8202/inbox/${P}`), P), false);
    assert.match(listening(true).refuseAddress('127.0.0.1', 8202) ?? '', /own address/);
  });
});
