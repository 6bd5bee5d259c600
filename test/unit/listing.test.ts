import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isAppError } from '../../src/core/errors.js';
import { idFloor, newId } from '../../src/core/ids.js';
import { decodeListCursor, encodeListCursor, listingQuery, normaliseHost } from '../../src/core/listing.js';

describe('listing query', () => {
  test('a created range becomes an id range: ids made in it, and only those, fall inside', () => {
    const query = listingQuery({ createdFrom: '1000', createdTo: '2000' });
    const inside = [newId(1000), newId(1500), newId(1999)];
    const outside = [newId(999), newId(2000)];
    const within = (id: string): boolean => id >= query.atLeast! && id < query.below!;
    assert.ok(inside.every(within), 'from inclusive');
    assert.ok(!outside.some(within), 'to exclusive');
    assert.equal(query.atLeast, idFloor(1000));
  });

  test('the cursor and createdTo together: the lower of the two bounds', () => {
    const early = newId(1500);
    assert.equal(listingQuery({ createdTo: '2000', cursor: encodeListCursor(early) }).below, early);
    assert.equal(listingQuery({ createdTo: '1000', cursor: encodeListCursor(early) }).below, idFloor(1000));
  });

  test('a cursor round-trips; anything else is refused', () => {
    const id = newId(Date.UTC(2026, 0, 1));
    assert.equal(decodeListCursor(encodeListCursor(id)), id);
    for (const bad of ['', 'x', Buffer.from('p12').toString('base64url'), Buffer.from(`i${id}x`).toString('base64url')]) {
      assert.equal(decodeListCursor(bad), null, bad);
    }
  });

  test('defaults: 100 a page, no filter; states deduplicated', () => {
    assert.deepEqual(listingQuery({}), { limit: 100 });
    assert.deepEqual(listingQuery({ state: 'RUNNING,PAUSED,RUNNING' }).states, ['RUNNING', 'PAUSED']);
  });

  test('hosts as a URL names them; a scheme, port, path or space is refused', () => {
    assert.equal(normaliseHost('API.Example.COM'), 'api.example.com');
    assert.equal(normaliseHost('[::1]'), '[::1]');
    for (const bad of ['http://a.example', 'a.example:80', 'a.example/x', 'a b', '']) assert.equal(normaliseHost(bad), null, bad);
  });

  test('a schedule is an id, a flow key as a subscribe takes it; both pass through as they are', () => {
    const schedule = newId(Date.UTC(2026, 0, 1));
    assert.deepEqual(listingQuery({ schedule, flow: 'a.b:c_d-1' }), { scheduleId: schedule, flowKey: 'a.b:c_d-1', limit: 100 });
    for (const [name, value] of [
      ['schedule', schedule.toLowerCase()],
      ['schedule', `${schedule}0`],
      ['schedule', ''],
      ['flow', '-x'],
      ['flow', 'a b'],
      ['flow', 'f'.repeat(65)],
      ['flow', ''],
    ] as const) {
      assert.throws(
        () => listingQuery({ [name]: value }),
        (error: unknown) => isAppError(error) && error.code === 'VALIDATION_FAILED' && error.issues[0]?.field === `querystring.${name}`,
        `${name}=${value}`,
      );
    }
  });

  test('every bad parameter at once', () => {
    try {
      listingQuery({ state: 'NOPE', limit: '0', nextFrom: '-1', cursor: '!' });
      assert.fail('no error');
    } catch (error) {
      assert.ok(isAppError(error));
      assert.deepEqual(
        error.issues.map((i) => i.field),
        ['querystring.state', 'querystring.nextFrom', 'querystring.limit', 'querystring.cursor'],
      );
    }
  });
});
