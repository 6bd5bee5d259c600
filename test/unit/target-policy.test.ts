import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createTargetPolicy, isIpLiteral, parseAllowList } from '../../src/core/target-policy.js';

const strict = createTargetPolicy(parseAllowList([]));

function cidrText(list: ReturnType<typeof parseAllowList>): string[] {
  return list.cidrs.map(([address, bits]) => `${address.toString()}/${bits}`);
}

describe('parseAllowList', () => {
  test('an empty list', () => {
    assert.deepEqual(parseAllowList([]), { cidrs: [], hosts: [], invalid: [] });
  });

  test('CIDRs in both families', () => {
    const list = parseAllowList(['10.0.0.0/8', '127.0.0.0/8', '192.168.0.0/16', 'fd00::/8', '::1/128']);
    assert.deepEqual(cidrText(list), ['10.0.0.0/8', '127.0.0.0/8', '192.168.0.0/16', 'fd00::/8', '::1/128']);
    assert.deepEqual(list.hosts, []);
    assert.deepEqual(list.invalid, []);
  });

  test('a single address is a /32 or a /128', () => {
    const list = parseAllowList(['127.0.0.1', '::1', 'fd12:3456::7']);
    assert.deepEqual(cidrText(list), ['127.0.0.1/32', '::1/128', 'fd12:3456::7/128']);
    assert.deepEqual(list.invalid, []);
  });

  test('host names, wildcards, case and trailing dots', () => {
    const list = parseAllowList(['localhost', 'Dev.Internal', '*.example.internal', 'svc.local.', '*.LOCALHOST', 'my-host', 'a1.b2.c3']);
    assert.deepEqual(list.hosts, ['localhost', 'dev.internal', '*.example.internal', 'svc.local', '*.localhost', 'my-host', 'a1.b2.c3']);
    assert.deepEqual(list.cidrs, []);
    assert.deepEqual(list.invalid, []);
  });

  test('surrounding spaces are trimmed and empty entries skipped', () => {
    const list = parseAllowList(['  10.0.0.0/8 ', '', '   ', ' localhost ']);
    assert.deepEqual(cidrText(list), ['10.0.0.0/8']);
    assert.deepEqual(list.hosts, ['localhost']);
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
    'example.com:8080',
    '[::1]',
    'exa..mple',
    'ünicode.example',
  ];
  for (const entry of invalid) {
    test(`"${entry}" is invalid and kept as written`, () => {
      const list = parseAllowList([entry]);
      assert.deepEqual(list.invalid, [entry], entry);
      assert.deepEqual(list.cidrs, [], entry);
      assert.deepEqual(list.hosts, [], entry);
    });
  }

  test('invalid entries are reported in their original spelling, valid ones still read', () => {
    const list = parseAllowList(['10.0.0.0/8', ' Not A Host! ', 'localhost', '10.0.0.0/99']);
    assert.deepEqual(list.invalid, [' Not A Host! ', '10.0.0.0/99']);
    assert.deepEqual(cidrText(list), ['10.0.0.0/8']);
    assert.deepEqual(list.hosts, ['localhost']);
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
    ['169.254.169.254', /link-local/],
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
    ['::ffff:169.254.169.254', /169\.254\.169\.254 is a link-local/],
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
      const refusal = strict.refuseAddress(address);
      assert.ok(refusal !== null, `${address} should be refused`);
      assert.match(refusal, reason, address);
    });
  }

  // ::/96 held "IPv4-compatible" addresses (RFC 4291, deprecated): ::7f00:1 is ::127.0.0.1.
  for (const address of ['::7f00:1', '[::7f00:1]', '::a00:1', '::a9fe:a9fe']) {
    test(`${address} (IPv4-compatible IPv6, embeds a non-public IPv4 address) is refused`, () => {
      assert.notEqual(strict.refuseAddress(address), null, `${address} should be refused`);
    });
  }

  test('something that is not an IP address is refused as such', () => {
    for (const raw of ['example.com', 'localhost', '', '1.2.3.4.5', '::g']) {
      assert.match(strict.refuseAddress(raw) ?? '', /is not an IP address/, JSON.stringify(raw));
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
      assert.equal(strict.refuseAddress(address), null, address);
    });
  }
});

describe('refuseAddress with an allow list', () => {
  const policy = createTargetPolicy(parseAllowList(['127.0.0.0/8', '10.1.0.0/16', '::1', 'fd00::/8', '169.254.169.254']));

  test('addresses inside an allowed CIDR or equal to an allowed address are allowed', () => {
    for (const address of [
      '127.0.0.1',
      '127.9.9.9',
      '10.1.2.3',
      '::1',
      '[::1]',
      'fd00::1',
      'fd12::1',
      '169.254.169.254',
      '::ffff:127.0.0.1',
      '::ffff:10.1.0.9',
    ]) {
      assert.equal(policy.refuseAddress(address), null, address);
    }
  });

  test('neighbouring addresses stay refused', () => {
    for (const address of ['10.2.0.1', '10.0.255.255', '169.254.169.253', 'fe80::1', 'fc00::1', '192.168.0.1', '0.0.0.0', '::']) {
      assert.notEqual(policy.refuseAddress(address), null, address);
    }
  });

  test('an IPv4 range does not allow IPv6 loopback, nor the reverse', () => {
    assert.notEqual(createTargetPolicy(parseAllowList(['127.0.0.0/8'])).refuseAddress('::1'), null);
    assert.notEqual(createTargetPolicy(parseAllowList(['::1'])).refuseAddress('127.0.0.1'), null);
  });
});

describe('isHostExempt', () => {
  const policy = createTargetPolicy(parseAllowList(['dev.internal', '*.example.internal', 'localhost', '10.0.0.0/8']));
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
    test(`${host} is ${exempt ? '' : 'not '}exempt`, () => {
      assert.equal(policy.isHostExempt(host), exempt, host);
    });
  }

  test('nothing is exempt with an empty list', () => {
    for (const host of ['localhost', 'example.com', '127.0.0.1']) assert.equal(strict.isHostExempt(host), false, host);
  });
});

describe('refuseLiteralHost', () => {
  test('literal addresses are judged like refuseAddress', () => {
    for (const host of ['127.0.0.1', '[::1]', '10.0.0.1', '[fd00::1]', '169.254.169.254', '0.0.0.0', '[::ffff:7f00:1]']) {
      const refusal = strict.refuseLiteralHost(host);
      assert.ok(refusal !== null, host);
      assert.equal(refusal, strict.refuseAddress(host), host);
    }
    for (const host of ['8.8.8.8', '[2606:4700:4700::1111]']) assert.equal(strict.refuseLiteralHost(host), null, host);
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
      assert.match(strict.refuseLiteralHost(host) ?? '', /loopback/, host);
    }
  });

  test('other names are left for the dispatch-time guard', () => {
    for (const host of ['example.com', 'localhost.example.com', 'notlocalhost', 'localhostx', 'internal', 'metadata.google.internal']) {
      assert.equal(strict.refuseLiteralHost(host), null, host);
    }
  });

  test('loopback names are allowed when either loopback address is allowed, or the name is', () => {
    for (const entries of [['127.0.0.0/8'], ['127.0.0.1'], ['::1'], ['localhost', '*.localhost']]) {
      const policy = createTargetPolicy(parseAllowList(entries));
      for (const host of ['localhost', 'foo.localhost']) {
        assert.equal(policy.refuseLiteralHost(host), null, `${host} with ${entries.join(',')}`);
      }
    }
  });

  test('exempting one loopback name does not exempt another', () => {
    const policy = createTargetPolicy(parseAllowList(['localhost']));
    assert.equal(policy.refuseLiteralHost('localhost'), null);
    assert.notEqual(policy.refuseLiteralHost('foo.localhost'), null);
    assert.notEqual(policy.refuseLiteralHost('127.0.0.1'), null);
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
