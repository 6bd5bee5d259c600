import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Redis } from 'ioredis';
import { TurnBatch } from '../../src/store/redis/turn-batch.js';
import { TurnWrites } from '../../src/store/redis/turn-writes.js';
import { type RedisServer, startRedisServer } from '../helpers/redis-server.js';

/**
 * TurnWrites and TurnBatch on a real redis-server: the commands of one turn leave in one write, at
 * the end of the turn; a batch that fills up leaves at the end of the tick that filled it.
 */
let redis: RedisServer;
let client: Redis;

before(async () => {
  redis = await startRedisServer();
  client = new Redis(redis.url, { lazyConnect: true });
  await client.connect();
});

after(async () => {
  client.disconnect();
  await redis.close();
});

/** Counts what reaches the socket's own writer: one per write system call, or per batch when corked. */
function countWrites(stream: Redis['stream']): { readonly writes: number; restore(): void } {
  const handle = stream as unknown as { _writev?: (...a: unknown[]) => void; _write: (...a: unknown[]) => void };
  const writev = handle._writev;
  const write1 = handle._write;
  const counter = {
    writes: 0,
    restore() {
      handle._writev = writev;
      handle._write = write1;
    },
  };
  handle._writev = (...a: unknown[]) => (counter.writes++, writev?.apply(stream, a));
  handle._write = (...a: unknown[]) => (counter.writes++, write1.apply(stream, a));
  return counter;
}

test('commands sent in one turn wait in the socket until the turn ends, then all are answered', async () => {
  const writes = new TurnWrites(client);
  const stream = client.stream;
  const counter = countWrites(stream);
  try {
    writes.hold();
    writes.hold(); // a second hold in the same turn changes nothing
    const answers = Promise.all([client.set('a', '1'), client.set('b', '2'), client.incr('n'), client.get('a')]);
    assert.equal(stream.writableCorked, 1, 'held once');
    assert.ok(stream.writableLength > 0, 'the commands wait in the socket');
    assert.equal(counter.writes, 0, 'nothing written yet');
    assert.deepEqual(await answers, ['OK', 'OK', 1, '1']);
    assert.equal(stream.writableCorked, 0, 'released at the end of the turn');
    assert.equal(counter.writes, 1, 'one write for the four commands');
  } finally {
    counter.restore();
  }
});

test('sendSoon: commands sent from an immediate leave at the end of that tick, not a turn of the loop later', async () => {
  const writes = new TurnWrites(client);
  const stream = client.stream;
  // From inside an immediate, the end-of-turn release is itself an immediate of the next turn.
  type Seen = { heldAfterTick: number; heldWithout: number; answer: Promise<unknown>; otherAnswer: Promise<unknown> };
  const state = await new Promise<Seen>((resolve) => {
    setImmediate(() => {
      writes.hold();
      const answer = client.ping();
      writes.sendSoon();
      const other = new TurnWrites(client); // the same socket, released only at the end of the turn
      process.nextTick(() => {
        const heldAfterTick = stream.writableCorked;
        other.hold();
        const otherAnswer = client.ping();
        process.nextTick(() => resolve({ heldAfterTick, heldWithout: stream.writableCorked, answer, otherAnswer }));
      });
    });
  });
  assert.equal(state.heldAfterTick, 0, 'with sendSoon the command left within the tick');
  assert.equal(state.heldWithout, 1, 'without it, the command stays held past the tick');
  assert.equal(await state.answer, 'PONG');
  await new Promise((resolve) => setImmediate(resolve));
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(stream.writableCorked, 0, 'and is released at the end of the turn');
  // Both answers are awaited, so none is still pending when the connection closes after the tests.
  assert.equal(await state.otherAnswer, 'PONG');
});

test('beforeRelease: what a flush sends leaves in the same write as the turn, and with nothing held it runs in the next check phase', async () => {
  const writes = new TurnWrites(client);
  const stream = client.stream;
  const counter = countWrites(stream);
  try {
    writes.hold();
    const first = client.set('held', '1');
    const flushed: Promise<unknown>[] = [];
    writes.beforeRelease(() => {
      assert.equal(stream.writableCorked, 1, 'the flush runs while the turn is still held');
      flushed.push(client.get('held'));
    });
    assert.equal(flushed.length, 0, 'not before the end of the turn');
    assert.equal(await first, 'OK');
    assert.equal(flushed.length, 1, 'the flush ran');
    assert.equal(await flushed[0], '1', 'sent after the held command, on the same connection');
    assert.equal(counter.writes, 1, 'the held command and the flushed one left in one write');
  } finally {
    counter.restore();
  }

  // Nothing held (no hold() in this turn): the flush still runs, in the next check phase.
  const order: string[] = [];
  await new Promise<void>((resolve) => {
    writes.beforeRelease(() => {
      order.push('flush');
      resolve();
    });
    process.nextTick(() => order.push('tick'));
  });
  assert.deepEqual(order, ['tick', 'flush']);
});

test('TurnBatch: a full batch leaves at the end of the tick that filled it; what comes later in the turn, at its end', async () => {
  const writes = new TurnWrites(client);
  const stream = client.stream;
  const sent: number[][] = [];
  // Each batch is one MGET of its items' keys, so what Redis answers shows which call carried which item.
  const batch = new TurnBatch<number, string | null>(
    writes,
    (items) => {
      sent.push(items);
      return client.mget(items.map((i) => `tb:${i}`));
    },
    3,
  );
  await client.mset('tb:1', 'one', 'tb:4', 'four');
  type Seen = { sentInTick: number; corkedAfterTick: number; sentLater: number; corkedLater: number; answers: Promise<(string | null)[]> };
  const seen = await new Promise<Seen>((resolve) => {
    writes.hold(); // as RedisStore does before each call
    const first = [1, 2, 3].map((i) => batch.add(i));
    const sentInTick = sent.length;
    process.nextTick(() => {
      const corkedAfterTick = stream.writableCorked;
      writes.hold(); // the turn's next request
      const fourth = batch.add(4);
      process.nextTick(() =>
        resolve({
          sentInTick,
          corkedAfterTick,
          sentLater: sent.length,
          corkedLater: stream.writableCorked,
          answers: Promise.all([...first, fourth]),
        }),
      );
    });
  });
  assert.equal(seen.sentInTick, 1, 'the third item filled a batch, sent at once');
  assert.deepEqual(sent[0], [1, 2, 3]);
  assert.equal(seen.corkedAfterTick, 0, 'and written to the socket at the end of that tick');
  assert.equal(seen.sentLater, 1, 'a later item of the turn waits');
  assert.equal(seen.corkedLater, 1, 'held until the end of the turn');
  assert.deepEqual(await seen.answers, ['one', null, null, 'four'], 'every item answered by its own call');
  assert.deepEqual(sent, [[1, 2, 3], [4]]);
  assert.equal(stream.writableCorked, 0);
});
