import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Command } from 'ioredis';
import { TASK_FIELDS, taskFromLine } from '../../src/store/redis/codec.js';
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

  test('an EncodedCommand writes what encode made, and keeps its first chunk as its arguments', () => {
    const command = new EncodedCommand('evalsha', [['sha', '1', 'key'], ['a', 'b']]);
    assert.deepEqual(command.toWritable(), encode('evalsha', [['sha', '1', 'key'], ['a', 'b']]));
    assert.deepEqual(command.args, ['sha', '1', 'key']);
  });
});

describe('the task hash’s fields', () => {
  const scriptFields = (file: string): string[] => {
    const source = readFileSync(fileURLToPath(new URL(`../../src/store/redis/scripts/${file}`, import.meta.url)), 'utf8');
    const list = /local FIELDS = \{([^}]*)\}/.exec(source);
    assert.ok(list, `${file} declares FIELDS`);
    return [...list[1]!.matchAll(/'([^']+)'/g)].map((m) => m[1]!);
  };

  // Inserts send the values alone and claims answer them alone: a field out of order would store
  // or read one field's value under another's name.
  for (const file of ['insert-tasks-1.lua', 'claim-due-2.lua']) {
    test(`${file} lists them in the order of TASK_FIELDS`, () => {
      assert.deepEqual(scriptFields(file), [...TASK_FIELDS]);
    });
  }
});

describe('taskFromLine (a claimed task as claim-due-2.lua answers it)', () => {
  const values: Record<string, string> = {
    id: '01KB2ABCDEFGHJKMNPQRSTVWXY', projectId: '01KB2ABCDEFGHJKMNPQRSTVWXZ', startAt: '1000', request: '',
    state: 'RUNNING', statusCode: '0', execAt: '2000', endAt: '0', retrying: '0', repeating: '1', retryCount: '0',
    repeatCount: '2', attempts: '3', pausedLeft: '0', leaseToken: 'tok.7', leaseUntil: '17000', version: '5',
  };
  const sealed = 'AQAAAAA_sealed-base64url';
  const config = '{"retry":1,"retryInterval":1000,"timeout":30000}';
  const line = (v: Record<string, string>): string => TASK_FIELDS.map((f) => v[f]!).join('\n');

  test('reads each value under its field, the sealed request and the config beside them', () => {
    const task = taskFromLine(line(values), sealed, config);
    assert.equal(task.id, values.id);
    assert.equal(task.sealedRequest, sealed);
    assert.equal(task.estimateExecAt, 2000);
    assert.equal(task.currentlyRepeat, true);
    assert.equal(task.repeatCount, 2);
    assert.deepEqual(task.lease, { token: 'tok.7', until: 17000 });
    assert.equal(task.version, 5);
    assert.deepEqual(task.config, JSON.parse(config));
  });

  test('no lease when the token is empty', () => {
    assert.equal(taskFromLine(line({ ...values, leaseToken: '', leaseUntil: '' }), sealed, config).lease, null);
  });

  test('a line with a value too many or too few is refused, not read shifted', () => {
    assert.throws(() => taskFromLine(`${line(values)}\nextra`, sealed, config), /18 values, not 17/);
    assert.throws(() => taskFromLine(line(values).replace('\n0\n', '\n'), sealed, config), /16 values, not 17/);
  });

  test('a missing number (the script answers an empty value) is refused, not read as 0', () => {
    assert.throws(() => taskFromLine(line({ ...values, attempts: '' }), sealed, config), /bad attempts/);
    assert.throws(() => taskFromLine(line({ ...values, version: '' }), sealed, config), /bad version/);
  });
});
