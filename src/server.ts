import { networkInterfaces } from 'node:os';
import type { FastifyInstance } from 'fastify';
import type pino from 'pino';
import { type AppDeps, buildApp } from './api/app.js';
import { type AppConfig, describeStore, inboxEnabled } from './config.js';
import type { Clock } from './core/clock.js';
import type { Random } from './core/retry-policy.js';
import { createRequestCipher } from './core/sealed-request.js';
import { createTargetPolicy } from './core/target-policy.js';
import { CallbackSender } from './dispatch/callbacks.js';
import { CircuitGate } from './dispatch/circuits.js';
import { DeliverySigner } from './dispatch/delivery-signer.js';
import { Dispatcher } from './dispatch/dispatcher.js';
import { createHttpSender, warmUpHttpClient } from './dispatch/http-sender.js';
import { type AddressSource, NameLookups, systemAddresses } from './dispatch/name-resolver.js';
import { RetentionSweeper } from './dispatch/retention.js';
import { Scheduler } from './dispatch/scheduler.js';
import { ownEndpoints } from './dispatch/target-guard.js';
import { resolveEncryptionKey } from './key-file.js';
import { DueBacklog } from './dispatch/due-backlog.js';
import { ServiceMetrics } from './observe/metrics.js';
import { openStore } from './store/open-store.js';
import { timeStore } from './store/timed-store.js';
import type { TaskStore } from './store/task-store.js';

export interface ServerOverrides {
  /** The server's time as it is (a test clock); by default the store's (on Redis, Redis's time). */
  clock?: Clock;
  /** Stands in for DNS (and the hosts file) when resolving targets' host names. */
  resolver?: AddressSource;
  store?: TaskStore;
  /** Draws retry policies' jitter (a seeded source in tests); Math.random by default. */
  random?: Random;
}

export interface RunningServer {
  app: FastifyInstance;
  store: TaskStore;
  dispatcher: Dispatcher;
  /** Makes the runs of schedules (every server runs one). */
  scheduler: Scheduler;
  /** This server's metrics (its own registry). */
  metrics: ServiceMetrics;
  /** The address it listens on, e.g. http://127.0.0.1:8202 */
  url: string;
  /** Graceful stop: no new requests, no new claims, attempts in flight get the grace period. */
  close(): Promise<void>;
}

/** The API's dependencies: the parts given, and the rest from configuration. */
export function appDeps(
  config: AppConfig,
  parts: Pick<AppDeps, 'store' | 'cipher' | 'clock' | 'policy' | 'logger' | 'metrics' | 'signer' | 'circuits'>,
): AppDeps {
  return {
    ...parts,
    metricsToken: config.metricsToken,
    signingGraceMs: config.signingGraceSeconds * 1000,
    idempotencyWindowMs: config.idempotencyWindowSeconds * 1000,
    level: config.level,
    inbox: inboxEnabled(config),
    queueLimit: config.queueLimit,
    scheduleLimit: config.scheduleLimit,
    bodyLimit: config.maxBodyLength,
    batchBodyLimit: config.maxBatchBodyLength,
    trustedProxies: config.trustProxy,
    connections: {
      headersTimeoutMs: config.headersTimeoutMs,
      requestTimeoutMs: config.requestTimeoutMs,
      keepAliveTimeoutMs: config.keepAliveTimeoutMs,
      maxConnections: config.maxConnections,
    },
    throttle: { max: config.throttleLimit, timeWindowMs: config.throttleTtl * 1000 },
    register: { max: config.registerLimit, timeWindowMs: config.registerTtl * 1000 },
    authFailures: { max: config.authFailureLimit, timeWindowMs: config.authFailureTtl * 1000 },
  };
}

/** Wires configuration to store, API and dispatcher, and starts listening. */
export async function startServer(config: AppConfig, logger: pino.Logger, overrides: ServerOverrides = {}): Promise<RunningServer> {
  const opened = overrides.store ?? (await openStore(config, overrides.clock));
  const metrics = new ServiceMetrics();
  // Everything below uses the store through its timed face: each operation's latency is a metric.
  const store = timeStore(opened, (operation) => metrics.storeTimer(operation));
  const clock = overrides.clock ?? store.clock;
  try {
    const encryption = resolveEncryptionKey(config, logger);
    const cipher = createRequestCipher(encryption.key);
    const boundKey = await store.bindKeyId(cipher.keyId);
    const where = describeStore(config.store);
    if (boundKey !== cipher.keyId) {
      throw new Error(
        `The stored tasks in ${where} were sealed with another encryption key (id ${boundKey}; this server has ${cipher.keyId}, from ${encryption.source}). ` +
          'Restore the original tasks.key or TASKS_CRYPTO_KEY; every server sharing a store needs the same key ' +
          '(a key made anew at each start, as by $(openssl rand -hex 32), never matches: make it once and keep it).',
      );
    }
    logger.info(
      { keyId: cipher.keyId, keyFrom: encryption.source, store: where },
      `encryption key ${cipher.keyId} from ${encryption.source}; ${where} is bound to it`,
    );
    const report = await store.inspect();
    logger.info({ store: store.kind, ...report.facts }, `${store.kind} store opened`);
    for (const warning of report.warnings) logger.warn({ store: store.kind }, warning);
    const policy = createTargetPolicy(config.allowList, config.denyList, { inbox: inboxEnabled(config) });
    const names = new NameLookups(overrides.resolver ?? systemAddresses({ servers: config.dnsServers, timeoutMs: config.dnsTimeoutMs }));
    const sender = createHttpSender({ policy, names, maxResponseBytes: config.maxContentLength });
    const signer = new DeliverySigner(store, cipher);
    const callbacks = new CallbackSender({ store, sender, signer, cipher, clock, logger });
    const circuits = new CircuitGate({ store, sender, signer, cipher, clock, logger, cacheMs: config.breakersCacheMs });
    const dispatcher = new Dispatcher({
      store,
      sender,
      cipher,
      signer,
      callbacks,
      circuits,
      clock,
      logger,
      observer: metrics,
      concurrency: config.concurrency,
      projectShare: config.projectShare / 100,
      hostShare: config.hostShare / 100,
      leaseMs: config.leaseMs,
      maxIdleMs: config.pollMs,
      aheadMs: config.aheadMs,
      ...(overrides.random ? { random: overrides.random } : {}),
    });
    const scheduler = new Scheduler({
      store,
      cipher,
      clock,
      logger,
      queueLimit: config.queueLimit,
      leadMs: config.scheduleLeadMs,
      catchUpMax: config.scheduleCatchUpMax,
      maxIdleMs: config.pollMs,
      ...(overrides.random ? { random: overrides.random } : {}),
    });
    const retention = new RetentionSweeper(store, clock, logger, config.retentionSeconds * 1000);
    const backlog = new DueBacklog(store, clock, logger);
    metrics.watch({ inFlight: () => dispatcher.active, dueBacklog: () => backlog.read() });
    const app = await buildApp({
      ...appDeps(config, { store, cipher, clock, policy, logger, metrics, signer, circuits }),
      wakeScheduler: (at) => scheduler.wake(at),
    });
    // Restart rules are decided before anything is accepted; no task is sent before the server
    // listens (a start that cannot listen must not have sent anything).
    await dispatcher.prepare();
    await warmUpHttpClient();
    const url = await app.listen({ port: config.port, host: config.host });
    const listening = app.addresses().filter((a) => typeof a !== 'string');
    policy.denyOwnEndpoints(ownEndpoints(listening, networkInterfaces()));
    await dispatcher.start();
    scheduler.start();
    retention.start();

    let closing: Promise<void> | null = null;
    const close = (): Promise<void> => {
      closing ??= (async () => {
        // Claiming stops at once; requests to the API and attempts in flight finish meanwhile.
        const dispatcherStopped = dispatcher.stop(config.shutdownGraceMs);
        const schedulerStopped = scheduler.stop();
        await app.close();
        await schedulerStopped;
        await dispatcherStopped;
        await callbacks.stop();
        await circuits.stop();
        await retention.stop();
        await sender.close();
        await store.close();
      })();
      return closing;
    };
    return { app, store, dispatcher, scheduler, metrics, url, close };
  } catch (error) {
    await store.close();
    throw error;
  }
}
