/*
 * The bare store server: a node:http server in its own process that does what the server's
 * subscribe does to a request, less the HTTP framework around it. It parses the body,
 * resolves it with the server's own core (validation that needs no schema, the target policy),
 * seals the request, builds the task and writes it through the server's own store adapter, the
 * same batched write, then answers 201 with the queued view. No Fastify, no schema validation,
 * no authentication, no throttle, no dispatcher.
 *
 * Loaded as the server is, in the same run, it shows what the store's write alone gives at this
 * load in that minute: the CPU the server spends beyond it is the framework's and the checks',
 * and a latency it cannot beat is the store's and the machine's, not the server's. Its configuration comes from the same settings as the server's (TASKS_DB,
 * TASKS_CRYPTO_KEY, TASKS_ALLOW_TARGETS), read by the server's own loader.
 */
import { type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import type * as ConfigModule from '../../src/config.js';
import type * as IdsModule from '../../src/core/ids.js';
import type * as SealedRequestModule from '../../src/core/sealed-request.js';
import type * as SubscriptionModule from '../../src/core/subscription.js';
import type * as TargetPolicyModule from '../../src/core/target-policy.js';
import type * as TaskMachineModule from '../../src/core/task-machine.js';
import type * as TokensModule from '../../src/core/tokens.js';
import type * as ViewsModule from '../../src/core/views.js';
import type * as KeyFileModule from '../../src/key-file.js';
import type * as LoggerModule from '../../src/logger.js';
import type * as OpenStoreModule from '../../src/store/open-store.js';
import { serve } from '../lib/child.js';

// The server's own modules as `npm start` runs them: dist/, which `npm run bench` builds first, and
// not src/ through tsx, whose transform adds work to every call (a name set on each closure made).
// Typed from src/, which dist/ is compiled from.
const DIST = new URL('../../dist/', import.meta.url);
const load = <T>(path: string): Promise<T> => import(new URL(path, DIST).href) as Promise<T>;
const { loadConfig } = await load<typeof ConfigModule>('config.js');
const { newId } = await load<typeof IdsModule>('core/ids.js');
const { createRequestCipher } = await load<typeof SealedRequestModule>('core/sealed-request.js');
const { resolveSubscription } = await load<typeof SubscriptionModule>('core/subscription.js');
const { createTargetPolicy } = await load<typeof TargetPolicyModule>('core/target-policy.js');
const { createTask } = await load<typeof TaskMachineModule>('core/task-machine.js');
const { hashToken, newToken } = await load<typeof TokensModule>('core/tokens.js');
const { queuedView } = await load<typeof ViewsModule>('core/views.js');
const { resolveEncryptionKey } = await load<typeof KeyFileModule>('key-file.js');
const { silentLogger } = await load<typeof LoggerModule>('logger.js');
const { openStore } = await load<typeof OpenStoreModule>('store/open-store.js');
type SubscribeBody = SubscriptionModule.SubscribeBody;
type Task = ReturnType<typeof TaskMachineModule.createTask>;

export type BareStoreProtocol = { served: { args: null; result: number } };

// Only the settings the bench passes, read as the server reads them; no config file (the server's
// runs start in an empty folder).
const SETTINGS = ['TASKS_DB', 'TASKS_CRYPTO_KEY', 'TASKS_ALLOW_TARGETS', 'TASKS_QUEUE_LIMIT'];
const config = loadConfig(Object.fromEntries(SETTINGS.map((name) => [name, process.env[name]])), tmpdir());
const store = await openStore(config);
const cipher = createRequestCipher(resolveEncryptionKey(config, silentLogger).key);
const policy = createTargetPolicy(config.allowList);
const projectId = newId(Date.now());
await store.insertProject({
  id: projectId,
  email: `bare-store-${projectId}@example.com`,
  tokenHash: hashToken(newToken()),
  createdAt: Date.now(),
  as: 'DEV',
});

let served = 0;
/** The task a subscribe body makes, as the server's route makes it (throws on a refused body). */
function taskOf(text: string): Task {
  const now = Date.now();
  const resolved = resolveSubscription(JSON.parse(text) as SubscribeBody, now, policy);
  const id = newId(now);
  return createTask({ id, projectId, config: resolved.config, request: cipher.seal(resolved.request, id) }, now);
}
const answer = (res: ServerResponse, status: number, out: string): void => {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(out) });
  res.end(out);
};
const message = (error: unknown): string => JSON.stringify({ error: error instanceof Error ? error.message : String(error) });
const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    let made: Task;
    try {
      made = taskOf(Buffer.concat(chunks).toString('utf8'));
    } catch (error) {
      answer(res, 400, message(error));
      return;
    }
    store.insertTask(made, [], config.queueLimit).then(
      () => {
        served++;
        answer(res, 201, JSON.stringify(queuedView(made)));
      },
      (error: unknown) => answer(res, 500, message(error)),
    );
  });
});
server.keepAliveTimeout = 120_000;
server.headersTimeout = 130_000;
server.listen(0, '127.0.0.1', () => {
  const port = (server.address() as AddressInfo).port;
  serve<BareStoreProtocol>({ served: () => served }, { port, url: `http://127.0.0.1:${port}` });
});
