import assert from 'node:assert/strict';
import { test } from 'node:test';
import { warmUpHttpClient } from '../../src/dispatch/http-sender.js';
import { waitFor } from '../helpers/wait.js';

const count = (kind: string): number => process.getActiveResourcesInfo().filter((r) => r === kind).length;

test('warming up the HTTP client makes its request and leaves no server or socket open', async () => {
  const servers = count('TCPServerWrap');
  const sockets = count('TCPSocketWrap');
  await warmUpHttpClient();
  // Handles go away once their close callbacks have run: look again for up to a second.
  await waitFor(
    () =>
      `the warm-up's handles to close (${count('TCPServerWrap') - servers} server and ${count('TCPSocketWrap') - sockets} socket handles left)`,
    () => count('TCPServerWrap') <= servers && count('TCPSocketWrap') <= sockets,
    { timeoutMs: 1_000, everyMs: 10 },
  );
  assert.equal(count('TCPServerWrap'), servers, 'the throw-away server is closed');
  assert.equal(count('TCPSocketWrap'), sockets, 'the client socket is closed');
});
