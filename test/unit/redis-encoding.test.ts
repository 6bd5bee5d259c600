import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Command } from 'ioredis';
import { TASK_FIELDS } from '../../src/core/task.js';
import { HASH_FIELD_NAMES, FLOW_HASH_FIELDS, luaFieldTable, taskFromLine } from '../../src/store/redis/codec.js';
import { STORED_CONFIG_BASE } from '../../src/store/stored-config.js';
import { must } from '../helpers/must.js';
import { EncodedCommand, encode } from '../../src/store/redis/encoded-command.js';

/** What ioredis's own Command sends for the same arguments: the reference encoding. */
const reference = (name: string, args: string[]): Buffer => {
  const wire = new Command(name, args).toWritable({});
  return typeof wire === 'string' ? Buffer.from(wire) : wire;
};

describe('encode (RESP of a command)', () => {
  test('matches ioredis’s own encoding, argument for argument', () => {
    const args = ['', 'a', 'x'.repeat(9), 'x'.repeat(10), 'x'.repeat(99), 'x'.repeat(100), 'y'.repeat(1_391), '12345'];
    assert.deepEqual(encode('evalsha', [args.slice(0, 3), [], args.slice(3)]), reference('evalsha', args));
  });

  test('counts bytes, not characters, for text outside ASCII', () => {
    const args = ['é', '日本語', '😀 emoji', '{"label":"Subscribe","note":"ça"}', '\ud800 lone surrogate'];
    const wire = encode('rpush', [args]);
    assert.deepEqual(wire, reference('rpush', args));
    assert.match(wire.toString('utf8'), /\$9\r\n日本語\r\n/);
  });

  test('a command of no arguments, and of ten or more (two-digit count)', () => {
    assert.equal(encode('ping', []).toString(), '*1\r\n$4\r\nping\r\n');
    const many = Array.from({ length: 12 }, (_, i) => String(i));
    assert.deepEqual(encode('del', [many.slice(0, 5), many.slice(5)]), reference('del', many));
    assert.equal(encode('del', [many]).subarray(0, 5).toString(), '*13\r\n');
  });

  test('a Buffer argument is sent as its bytes, counted as bytes', () => {
    const bytes = Buffer.from([0, 0xff, 0x0d, 0x0a, 0x24, 0xc3]);
    const wire = encode('hset', [['k', 'request'], [bytes]]);
    assert.deepEqual(
      wire,
      Buffer.concat([Buffer.from('*4\r\n$4\r\nhset\r\n$1\r\nk\r\n$7\r\nrequest\r\n$6\r\n'), bytes, Buffer.from('\r\n')]),
    );
  });

  test('an EncodedCommand writes what encode made, and keeps its first chunk as its arguments', () => {
    const command = new EncodedCommand('evalsha', [
      ['sha', '1', 'key'],
      ['a', 'b'],
    ]);
    assert.deepEqual(
      command.toWritable(),
      encode('evalsha', [
        ['sha', '1', 'key'],
        ['a', 'b'],
      ]),
    );
    assert.deepEqual(command.args, ['sha', '1', 'key']);
  });
});

describe('the task hash’s fields, derived from TASK_FIELDS', () => {
  const scriptsDir = fileURLToPath(new URL('../../src/store/redis/scripts/', import.meta.url));
  const generated = luaFieldTable();
  const declared = (name: string): string => must(new RegExp(`local ${name} = (.*)`).exec(generated)?.[1], name);
  const FIELDS = [...declared('FIELDS').matchAll(/'([^']+)'/g)].map((m) => m[1]!);
  const LINE = Number(declared('LINE'));

  test('the generated FIELDS list every hash field once: no id (the key), no config (database 2)', () => {
    assert.deepEqual([...FIELDS].sort(), [...HASH_FIELD_NAMES].sort());
    assert.ok(!FIELDS.includes('id') && !FIELDS.includes('config'));
    for (const field of TASK_FIELDS) if (field.name !== 'id' && field.kind !== 'config') assert.ok(FIELDS.includes(field.name), field.name);
  });

  test('AT gives each name its place in FIELDS, and the line ends with the version, before the sealed request', () => {
    const at = Object.fromEntries([...declared('AT').matchAll(/(\w+) = (\d+)/g)].map((m) => [m[1]!, Number(m[2])]));
    FIELDS.forEach((name, i) => assert.equal(at[name], i + 1, name));
    assert.equal(FIELDS[LINE - 1], 'version');
    assert.deepEqual(FIELDS.slice(LINE), ['request']);
  });

  test('no script keeps a list of fields, and every field a script names is one of the hash', () => {
    // Besides the task hash's: the project hash's count, a schedule hash's JSON (its other fields are named as the task's are), a flow key's limits.
    const allowed = new Set([...HASH_FIELD_NAMES, 'active', 'data', ...FLOW_HASH_FIELDS]);
    for (const file of readdirSync(scriptsDir)) {
      const source = readFileSync(scriptsDir + file, 'utf8');
      assert.doesNotMatch(source, /local FIELDS|'projectId', '/, `${file} declares a field list of its own`);
      for (const line of source.split('\n')) {
        if (!/'(HGET|HSET|HMGET|HINCRBY|HDEL)'/.test(line) || line.trim().startsWith('--')) continue;
        const names = [...line.matchAll(/'([a-z][A-Za-z]*)'/g)].map((m) => m[1]!);
        for (const name of names) assert.ok(allowed.has(name), `${file} names '${name}', not a field of the task hash: ${line.trim()}`);
      }
    }
  });
});

describe('taskFromLine (a claimed task as claim-due-3.lua answers it)', () => {
  const generated = luaFieldTable();
  const FIELDS = [...must(/local FIELDS = (.*)/.exec(generated)?.[1], 'FIELDS').matchAll(/'([^']+)'/g)].map((m) => m[1]!);
  const LINE = Number(must(/local LINE = (\d+)/.exec(generated)?.[1], 'LINE'));
  const ID = '01KB2ABCDEFGHJKMNPQRSTVWXY';
  const values: Record<string, string> = {
    projectId: '01KB2ABCDEFGHJKMNPQRSTVWXZ',
    startAt: '1000',
    state: 'RUNNING',
    statusCode: '0',
    execAt: '2000',
    endAt: '',
    retrying: '',
    repeating: '1',
    retryCount: '',
    repeatCount: '2',
    attempts: '3',
    pausedLeft: '',
    leaseToken: 'tok.7',
    leaseUntil: '17000',
    version: '5',
  };
  const sealed = Buffer.from([2, 0, 1, 2, 0xff]);
  const config = '{"retry":1,"timeout":30000}';
  const line = (v: Record<string, string>): string =>
    FIELDS.slice(0, LINE)
      .map((f) => v[f] ?? '')
      .join('\n');

  test('reads each value under its field, a missing one as its zero, the sealed request and the config beside them', () => {
    const task = taskFromLine(ID, line(values), sealed, config);
    assert.equal(task.id, ID);
    assert.deepEqual(task.request, sealed);
    assert.equal(task.execAt, 2000);
    assert.equal(task.endAt, 0);
    assert.equal(task.retrying, false);
    assert.equal(task.repeating, true);
    assert.equal(task.repeatCount, 2);
    assert.equal(task.leaseToken, 'tok.7');
    assert.equal(task.leaseUntil, 17000);
    assert.equal(task.version, 5);
    assert.deepEqual(task.config, { ...STORED_CONFIG_BASE, retry: 1, timeout: 30000 });
  });

  test('a sealed request stored as base64url text (before bytes) reads as its bytes', () => {
    const task = taskFromLine(ID, line(values), Buffer.from(Buffer.from([1, 9, 8]).toString('base64url')), config);
    assert.deepEqual(task.request, Buffer.from([1, 9, 8]));
  });

  test('no lease when the token is empty', () => {
    const task = taskFromLine(ID, line({ ...values, leaseToken: '', leaseUntil: '' }), sealed, config);
    assert.equal(task.leaseToken, null);
    assert.equal(task.leaseUntil, 0);
  });

  test('a line with a value too many or too few is refused, not read shifted', () => {
    assert.throws(() => taskFromLine(ID, `${line(values)}\nextra`, sealed, config), new RegExp(`${LINE + 1} values, not ${LINE}`));
    assert.throws(
      () => taskFromLine(ID, line(values).replace('\n1000\n', '\n'), sealed, config),
      new RegExp(`${LINE - 1} values, not ${LINE}`),
    );
  });

  test('what cannot be a task is refused: no version, a bad number, an unknown state, no project, no request', () => {
    assert.throws(() => taskFromLine(ID, line({ ...values, version: '' }), sealed, config), /bad version/);
    assert.throws(() => taskFromLine(ID, line({ ...values, attempts: 'x' }), sealed, config), /bad attempts/);
    assert.throws(() => taskFromLine(ID, line({ ...values, state: 'DONE' }), sealed, config), /bad state/);
    assert.throws(() => taskFromLine(ID, line({ ...values, projectId: '' }), sealed, config), /bad projectId/);
    assert.throws(() => taskFromLine(ID, line(values), Buffer.alloc(0), config), /bad request/);
    assert.throws(() => taskFromLine(ID, line(values), sealed, '{"retry":"1"}'), /bad config field retry/);
  });
});
