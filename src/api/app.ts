import { isAscii } from 'node:buffer';
import Fastify, { type FastifyInstance, type FastifyReply, LogController } from 'fastify';
import pino from 'pino';
import secureJson from 'secure-json-parse';
import type { FastifyBaseLogger } from 'fastify';
import { AppError, invalidJson } from '../core/errors.js';
import type { Clock } from '../core/clock.js';
import type { Project } from '../core/task.js';
import type { RequestCipher } from '../core/sealed-request.js';
import type { TargetPolicy } from '../core/target-policy.js';
import { type ServiceMetrics, UNMATCHED_ROUTE } from '../observe/metrics.js';
import type { DeliverySigner } from '../dispatch/delivery-signer.js';
import type { CircuitGate } from '../dispatch/circuits.js';
import type { TaskStore } from '../store/task-store.js';
import { createAuthenticator } from './auth.js';
import { IDEMPOTENCY_HEADER } from './idempotency.js';
import { clientAddressOf } from './client-address.js';
import { FailureThrottle } from './failure-throttle.js';
import { asGiven } from './client-windows.js';
import { RequestThrottle, type ThrottleAnswer } from './request-throttle.js';
import type { RouteContext } from './context.js';
import { scheduleRoutes } from './routes/schedules.js';
import { clientError, frameworkError, installErrorHandling, notFound } from './error-handler.js';
import { registerOpenApi } from './openapi.js';
import { activityRoutes } from './routes/activity.js';
import { breakerRoutes } from './routes/breakers.js';
import { apiDocsRoutes } from './routes/api-docs.js';
import { dashboardRoutes } from './routes/dashboard.js';
import { healthRoutes } from './routes/health.js';
import { inboxRoutes } from './routes/inbox.js';
import { VERSION, serviceIndexRoutes } from './routes/service-index.js';
import { projectRoutes } from './routes/projects.js';
import { taskRoutes } from './routes/tasks.js';
import { batchRoutes } from './routes/batch.js';
import { listingRoutes } from './routes/listing.js';
import { flowRoutes } from './routes/flow.js';
import { metricsRoutes } from './routes/metrics.js';
import { REQUEST_ID_HEADER, requestIdOf } from './request-id.js';

export interface AppDeps {
  store: TaskStore;
  cipher: RequestCipher;
  clock: Clock;
  policy: TargetPolicy;
  logger: FastifyBaseLogger;
  /** This server's metrics: the API counts its requests and subscribes there, and serves them at GET /metrics. */
  metrics: ServiceMetrics;
  /** The bearer token GET /metrics asks for (config.ts metricsToken); null: none. */
  metricsToken: string | null;
  /** The dispatcher's signing keys: a rotation here drops the project's cached keys at once. */
  signer: Pick<DeliverySigner, 'forget'>;
  /** The dispatcher's circuit breakers: a policy or circuit changed here drops the project's kept copy at once. */
  circuits: Pick<CircuitGate, 'forget'>;
  /** How long both the old and the new signing secret sign deliveries after a rotation. */
  signingGraceMs: number;
  /** How long a subscribe's Idempotency-Key is remembered. */
  idempotencyWindowMs: number;
  /** This server's scheduler, told of schedules written (none: schedules wait for a scheduler's poll). */
  wakeScheduler?: (at: number) => void;
  level: 'DEVELOPMENT' | 'PRODUCTION';
  /** Whether the inbox routes answer (config.ts inboxEnabled); off, they answer 404. */
  inbox: boolean;
  queueLimit: number;
  /** Most schedules a project may hold. */
  scheduleLimit: number;
  bodyLimit: number;
  /** The body limit of POST /v1beta/subscribe/batch, which carries up to 1,000 subscribe bodies. */
  batchBodyLimit: number;
  /** Proxies (addresses or CIDRs) whose X-Forwarded-For names the client (api/client-address.ts). */
  trustedProxies: readonly string[];
  connections: ConnectionLimits;
  throttle: { max: number; timeWindowMs: number };
  register: { max: number; timeWindowMs: number };
  authFailures: { max: number; timeWindowMs: number };
}

/** How long a client may take over each part of a request, and how many connections may be open at once. */
export interface ConnectionLimits {
  headersTimeoutMs: number;
  /** At least `headersTimeoutMs` (Node refuses a server otherwise). */
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
  maxConnections: number;
}

/** Builds the HTTP API from its dependencies, without listening (tests can `inject`). */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.logger,
    // One info line per request (onResponse below) instead of two.
    logController: new LogController({ disableRequestLogging: true }),
    // Every line logged about a request carries its id (reqId), answered in X-Request-Id too.
    requestIdHeader: false,
    genReqId: requestIdOf,
    bodyLimit: deps.bodyLimit,
    // A client that stalls mid-request, or never sends one, is answered 408 and cut off; an idle
    // connection is closed after the keep-alive timeout. Fastify's own defaults wait forever.
    requestTimeout: deps.connections.requestTimeoutMs,
    keepAliveTimeout: deps.connections.keepAliveTimeoutMs,
    http: {
      headersTimeout: deps.connections.headersTimeoutMs,
      requestTimeout: deps.connections.requestTimeoutMs,
      connectionsCheckingInterval: checkingInterval(deps.connections),
    },
    // Longer than any request line Node accepts, so an id is never refused by length before we see it.
    routerOptions: { maxParamLength: 16_384 },
    frameworkErrors: frameworkError,
    clientErrorHandler: clientError,
    // While closing, requests still arriving on open connections are refused by the onRequest hook
    // below, as SHUTTING_DOWN in the documented error shape rather than Fastify's own 503 body.
    return503OnClosing: false,
    ajv: {
      // Validate as written: no type coercion, no silently dropped fields, every error reported.
      customOptions: { coerceTypes: false, removeAdditional: false, useDefaults: false, allErrors: true, allowUnionTypes: true },
    },
  });
  // Past the limit Node closes a new connection as soon as it is accepted, before reading from it.
  app.server.maxConnections = deps.connections.maxConnections;
  app.decorateRequest('project', null);
  app.decorateRequest('rawBody', null);
  app.decorateRequest('clientAddress', '');
  app.decorateRequest('taskId', undefined);
  const clientAddress = clientAddressOf(deps.trustedProxies);
  installErrorHandling(app, deps.bodyLimit);

  // JSON only; an empty body is "no body" (PATCH routes carry none), and a body that tries to set
  // __proto__ or constructor.prototype is refused rather than parsed.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    const text = typeof body === 'string' ? body : bodyText(body);
    if (request.headers[IDEMPOTENCY_HEADER] !== undefined) request.rawBody = text;
    if (text.trim() === '') return done(null, undefined);
    try {
      done(null, secureJson.parse(text, undefined, { protoAction: 'error', constructorAction: 'error' }));
    } catch (error) {
      const message = error instanceof Error ? error.message : '';
      // secure-json-parse's own refusals name a key, never a value: safe to pass on.
      done(
        /forbidden prototype property/.test(message)
          ? new AppError('INVALID_JSON', `The request body is not valid JSON: ${message}`)
          : invalidJson(error),
        undefined,
      );
    }
  });

  app.setNotFoundHandler(notFound);

  const ctx: RouteContext = {
    store: deps.store,
    cipher: deps.cipher,
    clock: deps.clock,
    policy: deps.policy,
    auth: createAuthenticator(deps.store, new FailureThrottle(deps.authFailures.max, deps.authFailures.timeWindowMs, deps.clock)),
    level: deps.level,
    inbox: deps.inbox,
    queueLimit: deps.queueLimit,
    scheduleLimit: deps.scheduleLimit,
    metrics: deps.metrics,
    signer: deps.signer,
    circuits: deps.circuits,
    signingGraceMs: deps.signingGraceMs,
    idempotencyWindowMs: deps.idempotencyWindowMs,
    wakeScheduler: deps.wakeScheduler ?? (() => undefined),
  };
  // Registrations are counted per client address; everything else a project does, per project
  // (when a limit is set): an app server calling its own service is one address doing everything.
  const registrations = new RequestThrottle(deps.register.max, deps.register.timeWindowMs, deps.clock);
  const perProject = deps.throttle.max > 0 ? new RequestThrottle(deps.throttle.max, deps.throttle.timeWindowMs, deps.clock, asGiven) : null;
  const throttled = (reply: FastifyReply, answer: ThrottleAnswer, who: string): AppError | undefined => {
    reply.header('x-ratelimit-limit', answer.limit);
    reply.header('x-ratelimit-remaining', answer.remaining);
    reply.header('x-ratelimit-reset', answer.resetSeconds);
    if (answer.allowed) return undefined;
    const error = new AppError('RATE_LIMITED', `Too many requests from this ${who}; try again in ${answer.resetSeconds} s`);
    error.retryAfterSeconds = answer.resetSeconds;
    return error;
  };

  // Set as close begins, before the listener closes: from then on every request that still arrives
  // (on a connection kept alive, or pipelined) is answered SHUTTING_DOWN, and Fastify adds
  // `connection: close`. Requests already in progress finish.
  let closing = false;
  app.addHook('preClose', (done) => {
    closing = true;
    done();
  });

  // The hooks every request runs take a callback rather than return a promise: an async hook costs
  // a promise and a turn of the microtask queue each, on every request. First, a closing server
  // takes nothing new; then a registration is counted against its address.
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('cache-control', 'no-store');
    reply.header('x-content-type-options', 'nosniff');
    reply.header(REQUEST_ID_HEADER, request.id);
    if (closing) return done(new AppError('SHUTTING_DOWN'));
    request.clientAddress = clientAddress(request);
    if (request.routeOptions.config.throttle !== 'register') return done();
    done(throttled(reply, registrations.take(request.clientAddress), 'address'));
  });
  // Credentials are checked before the body is read (failures are counted per address by the
  // authenticator); then the request counts against its project's throttle.
  app.addHook('preParsing', (request, reply, payload, done) => {
    if (request.routeOptions.url === undefined || request.routeOptions.config.public) return done(null, payload);
    const admit = (found: Project): void => {
      request.project = found;
      done((perProject && throttled(reply, perProject.take(found.id), 'project')) ?? null, payload);
    };
    let project: Project | Promise<Project>;
    try {
      project = ctx.auth.authenticate(request);
    } catch (error) {
      return done(error as Error, payload);
    }
    if (!(project instanceof Promise)) return admit(project);
    project.then(admit, (error: unknown) => done(error as Error, payload));
  });
  // Each answer is counted by its route's template (a URL holds ids) and logged in one line: never
  // the URL itself (its query may hold anything) nor a header or a body.
  const logRequests = (pino.levels.values[deps.logger.level] ?? Infinity) <= pino.levels.values.info!;
  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? UNMATCHED_ROUTE;
    deps.metrics.request(request.method, route, reply.statusCode, reply.elapsedTime);
    if (logRequests) {
      const taskId = request.taskId ?? (request.params as { id?: string } | undefined)?.id;
      request.log.info(
        { method: request.method, route, status: reply.statusCode, ms: reply.elapsedTime, projectId: request.project?.id, taskId },
        'request',
      );
    }
    done();
  });

  // Before any route: it documents routes as they are registered.
  await registerOpenApi(app, VERSION);
  serviceIndexRoutes(app);
  healthRoutes(app, ctx);
  metricsRoutes(app, deps.metrics, deps.metricsToken);
  projectRoutes(app, ctx);
  taskRoutes(app, ctx);
  batchRoutes(app, ctx, deps.batchBodyLimit);
  listingRoutes(app, ctx);
  scheduleRoutes(app, ctx);
  flowRoutes(app, ctx);
  activityRoutes(app, ctx);
  breakerRoutes(app, ctx);
  await inboxRoutes(app, ctx);
  await apiDocsRoutes(app);
  dashboardRoutes(app);
  return app;
}

/**
 * The body as text. JSON bodies are almost always ASCII (a batch is mostly base64), and an ASCII
 * buffer is its own Latin-1 text: copying it as such is several times cheaper than UTF-8 decoding,
 * which the largest bodies (a batch of 1,000 subscribes) would otherwise pay per byte.
 */
function bodyText(body: Buffer): string {
  return body.toString(isAscii(body) ? 'latin1' : 'utf8');
}

/**
 * How often Node looks for connections past the header or request timeout: by default only every
 * 30 s, which would let a stalled client hold on that much longer than its timeout. Often enough
 * that a cut-off comes within an eighth of the shorter timeout, and at least every second.
 */
function checkingInterval(limits: ConnectionLimits): number {
  return Math.max(10, Math.min(1_000, Math.floor(Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs) / 8)));
}
