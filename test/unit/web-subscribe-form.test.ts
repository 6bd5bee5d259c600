/*
 * The web app's "new task" and "new schedule" forms as data: what body and curl command their values become.
 * Pure functions of web/src, run here without a browser; the browser test runs the command itself.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { base64Of, curlOf, parseHeaders } from '../../web/src/request-form.js';
import { EMPTY_SCHEDULE_FORM, scheduleBodyOf } from '../../web/src/schedule-form.js';
import { EMPTY_FORM, subscribeBodyOf } from '../../web/src/subscribe-form.js';

describe('the new task form of the web app', () => {
  test('the body text is sent as UTF-8, base64-encoded', () => {
    for (const text of ['', '{"hello":"world"}', 'héllo wörld ✓ 🎉', 'x'.repeat(100_000)]) {
      assert.equal(base64Of(text), Buffer.from(text, 'utf8').toString('base64'));
    }
  });

  test('headers are read one per line as "Name: value"; a line without a name is a problem', () => {
    assert.deepEqual(parseHeaders('Content-Type: application/json\n\n  X-Trace :  a:b  \n'), {
      headers: { 'Content-Type': 'application/json', 'X-Trace': 'a:b' },
      problem: null,
    });
    assert.match(parseHeaders('Accept: */*\nno colon here').problem ?? '', /line 2/);
    assert.match(parseHeaders(': value').problem ?? '', /line 1/);
  });

  test('the subscribe body holds only what was given; durations of digits alone are milliseconds', () => {
    const body = subscribeBodyOf({
      ...EMPTY_FORM,
      url: ' https://api.example.com/hook ',
      body: 'hi',
      delay: '1500',
      retry: '3',
      retryInterval: '2s',
      repeat: '0',
      repeatInterval: '1h',
      tags: 'a, b  c,',
    });
    assert.deepEqual(body, {
      httpRequest: { url: 'https://api.example.com/hook', method: 'POST', headers: { 'Content-Type': 'application/json' }, data: 'aGk=' },
      config: { executionDelay: 1500, retry: 3, retryInterval: '2s' },
      tags: ['a', 'b', 'c'],
    });
  });

  test('GET and DELETE send no body, and a time is sent as executionAt', () => {
    const at = '2030-01-02T03:04:05';
    const body = subscribeBodyOf({ ...EMPTY_FORM, url: 'https://x.test/', method: 'GET', body: 'ignored', headers: '', when: 'at', at });
    assert.deepEqual(body, { httpRequest: { url: 'https://x.test/', method: 'GET' }, config: { executionAt: new Date(at).getTime() } });
  });

  test('the curl command quotes for the shell and names the token only as $KUUERI_TOKEN', () => {
    const body = subscribeBodyOf({ ...EMPTY_FORM, url: "https://x.test/it's", body: `it's "quoted" $HOME` });
    const command = curlOf(body, 'http://127.0.0.1:8202', '01PROJECT');
    assert.ok(command.includes('"authorization: Bearer $KUUERI_TOKEN"'));
    assert.ok(command.includes(`'x-kuueri-tasks-project: 01PROJECT'`));
    assert.ok(command.includes(`'\\''`), 'a single quote closes, escapes and reopens');
    // What the shell passes as -d is the JSON of the body, exactly.
    const quoted = command.slice(command.indexOf("-d '") + 3);
    const unquoted = quoted.slice(1, -1).replaceAll(`'\\''`, "'");
    assert.deepEqual(JSON.parse(unquoted), body);
  });
});

describe('the new schedule form of the web app', () => {
  test('sends the cron expression and time zone, the request as a task form does, tags and a flow key', () => {
    const form = {
      ...EMPTY_SCHEDULE_FORM,
      cron: ' * * * * * * ',
      url: ' https://x.test/tick ',
      body: '{}',
      tags: 'a, b',
      flowKey: ' billing ',
    };
    assert.deepEqual(scheduleBodyOf(form), {
      cron: '* * * * * *',
      timezone: 'UTC',
      httpRequest: subscribeBodyOf({ ...EMPTY_FORM, url: form.url, body: '{}' }).httpRequest,
      tags: ['a', 'b'],
      flowKey: 'billing',
    });
    assert.deepEqual(scheduleBodyOf({ ...EMPTY_SCHEDULE_FORM, cron: '0 9 * * *', timezone: '', headers: '' }), {
      cron: '0 9 * * *',
      httpRequest: { url: '', method: 'POST' },
    });
  });

  test('its curl command posts to the schedules route', () => {
    const body = scheduleBodyOf({ ...EMPTY_SCHEDULE_FORM, cron: '0 9 * * *', url: 'https://x.test/' });
    const command = curlOf(body, 'http://127.0.0.1:8202', '01PROJECT', '/v1beta/schedules');
    assert.ok(command.startsWith(`curl -X POST 'http://127.0.0.1:8202/v1beta/schedules'`));
    const quoted = command.slice(command.indexOf("-d '") + 4, -1);
    assert.deepEqual(JSON.parse(quoted), body);
  });
});
