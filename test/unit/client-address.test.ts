import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { UNKNOWN_CLIENT, clientFrom } from '../../src/api/client-address.js';
import { canonicalAddress, parseRange } from '../../src/core/ip-address.js';

describe('canonicalAddress', () => {
  test('one text per address: IPv4-mapped IPv6 is its IPv4 form, IPv6 is compressed and lower case, zones are dropped', () => {
    for (const [text, canonical] of [
      ['203.0.113.9', '203.0.113.9'],
      ['::ffff:203.0.113.9', '203.0.113.9'],
      ['::FFFF:cb00:7109', '203.0.113.9'],
      ['2001:DB8:0:0:0:0:0:1', '2001:db8::1'],
      ['2001:db8::1', '2001:db8::1'],
      ['fe80::1%eth0', 'fe80::1'],
      ['::1', '::1'],
    ] as const) {
      assert.equal(canonicalAddress(text), canonical, text);
    }
  });

  test('anything else is not an address: other spellings of IPv4, names, ports, brackets, empty', () => {
    for (const text of [
      '127.1',
      '0x7f000001',
      '2130706433',
      '010.0.0.1',
      '256.0.0.1',
      'localhost',
      'unknown',
      '1.2.3.4:80',
      '[::1]',
      '',
      ' 1.2.3.4',
    ]) {
      assert.equal(canonicalAddress(text), null, text);
    }
  });
});

describe('parseRange', () => {
  test('addresses are ranges of one; CIDRs keep their prefix; an IPv4-mapped CIDR is its IPv4 range', () => {
    assert.deepEqual(parseRange('10.0.0.2')?.map(String), ['10.0.0.2', '32']);
    assert.deepEqual(parseRange('10.0.0.0/8')?.map(String), ['10.0.0.0', '8']);
    assert.deepEqual(parseRange('fd00::/8')?.map(String), ['fd00::', '8']);
    assert.deepEqual(parseRange('::ffff:10.0.0.0/104')?.map(String), ['10.0.0.0', '8']);
    for (const entry of ['10.0.0.0/33', '10.0.0.0/', '10.0.0.0/8/8', '::ffff:10.0.0.0/95', 'proxy', '10.0.0.0/-1', '10.0.0.0/ 8']) {
      assert.equal(parseRange(entry), null, entry);
    }
  });
});

describe('clientFrom: who is calling', () => {
  const PROXY = '10.0.0.2';
  const behindProxy = clientFrom([PROXY, '10.1.0.0/16']);

  test('with no trusted proxy, the socket address, whatever X-Forwarded-For says', () => {
    const direct = clientFrom([]);
    assert.equal(direct('203.0.113.9', '198.51.100.1'), '203.0.113.9');
    assert.equal(direct('::ffff:203.0.113.9', undefined), '203.0.113.9');
  });

  test('a client that is not a trusted proxy cannot name itself or anyone else', () => {
    assert.equal(behindProxy('203.0.113.9', '198.51.100.1'), '203.0.113.9');
    assert.equal(behindProxy('203.0.113.9', ['198.51.100.1', PROXY]), '203.0.113.9');
  });

  test('behind a trusted proxy, the hop it appended; what the client wrote to the left is not read', () => {
    assert.equal(behindProxy(PROXY, '203.0.113.9'), '203.0.113.9');
    assert.equal(behindProxy(PROXY, 'victim-chosen, 198.51.100.7, 203.0.113.9'), '203.0.113.9');
    assert.equal(behindProxy(`::ffff:${PROXY}`, '203.0.113.9'), '203.0.113.9', 'the proxy seen on a dual-stack socket');
  });

  test('a chain of trusted proxies is walked from the right to the first hop that is not one', () => {
    assert.equal(behindProxy(PROXY, '198.51.100.7, 203.0.113.9, 10.1.2.3'), '203.0.113.9');
    assert.equal(behindProxy(PROXY, ['198.51.100.7, 203.0.113.9', '10.1.2.3']), '203.0.113.9', 'repeated headers, in order');
    assert.equal(behindProxy(PROXY, '10.1.2.3'), '10.1.2.3', 'only proxies: the farthest');
  });

  test('a hop that is not an address stops the walk: the client is the trusted proxy that passed it on', () => {
    for (const header of ['not-an-address', 'unknown', '', ' , ', '127.1', '203.0.113.9, 10.1.2.3, _hidden']) {
      const client = behindProxy(PROXY, header);
      assert.equal(canonicalAddress(client), client, `${JSON.stringify(header)}: ${client} is an address`);
    }
    assert.equal(behindProxy(PROXY, 'not-an-address'), PROXY);
    assert.equal(behindProxy(PROXY, '203.0.113.9, 10.1.2.3, _hidden'), PROXY);
    assert.equal(behindProxy(PROXY, '203.0.113.9, garbage, 10.1.2.3'), '10.1.2.3');
  });

  test('hops as proxies may write them: with a port, bracketed IPv6, IPv4-mapped, any case', () => {
    assert.equal(behindProxy(PROXY, '203.0.113.9:51234'), '203.0.113.9');
    assert.equal(behindProxy(PROXY, '[2001:DB8::1]:443'), '2001:db8::1');
    assert.equal(behindProxy(PROXY, '[2001:db8::1]'), '2001:db8::1');
    assert.equal(behindProxy(PROXY, '::ffff:203.0.113.9'), '203.0.113.9');
    assert.equal(behindProxy(PROXY, '2001:db8::1%eth0'), '2001:db8::1');
  });

  test('no X-Forwarded-For from a trusted proxy: the proxy itself', () => {
    assert.equal(behindProxy(PROXY, undefined), PROXY);
  });

  test('a socket whose address is gone counts as one unknown client, never as a value that is not an address', () => {
    assert.equal(behindProxy(undefined, '203.0.113.9'), UNKNOWN_CLIENT);
    assert.equal(clientFrom([])(undefined, undefined), UNKNOWN_CLIENT);
  });

  test('an entry that is not an address or a CIDR is a programming error (config refuses it first)', () => {
    assert.throws(() => clientFrom(['proxy.internal']), /TRUST_PROXY/);
  });
});
