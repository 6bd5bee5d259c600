import type { FastifyRequest } from 'fastify';
import type { Clock } from '../core/clock.js';
import { AppError } from '../core/errors.js';
import type { RequestCipher } from '../core/sealed-request.js';
import type { TargetPolicy } from '../core/target-policy.js';
import type { Project } from '../core/task.js';
import type { ServiceMetrics } from '../observe/metrics.js';
import type { DeliverySigner } from '../dispatch/delivery-signer.js';
import type { CircuitGate } from '../dispatch/circuits.js';
import type { TaskStore } from '../store/task-store.js';
import type { Authenticator } from './auth.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The authenticated project; set by the onRequest hook of every non-public /v1beta route. */
    project: Project | null;
    /** The task the request created or acted on, for its log line; routes with an `:id` need not set it. */
    taskId: string | undefined;
    /** The body as received, kept only when an Idempotency-Key came with it (its digest is compared). */
    rawBody: string | null;
  }
  interface FastifyContextConfig {
    /** Routes that need no credentials (register, health). */
    public?: boolean;
    /**
     * `register`: the route's requests count against the registration throttle of their address.
     * Routes that need credentials count against their project's throttle; other public ones, none.
     */
    throttle?: 'register';
  }
}

/** What route handlers need; built once by buildApp. */
export interface RouteContext {
  store: TaskStore;
  cipher: RequestCipher;
  clock: Clock;
  policy: TargetPolicy;
  auth: Authenticator;
  level: 'DEVELOPMENT' | 'PRODUCTION';
  /** Whether the inbox routes answer. */
  inbox: boolean;
  queueLimit: number;
  scheduleLimit: number;
  /** Where subscribes are counted. */
  metrics: Pick<ServiceMetrics, 'subscribed'>;
  signer: Pick<DeliverySigner, 'forget'>;
  circuits: Pick<CircuitGate, 'forget'>;
  signingGraceMs: number;
  idempotencyWindowMs: number;
  /** Tells this server's scheduler that a schedule is due at `at` (it may sleep past it otherwise until its next poll). */
  wakeScheduler: (at: number) => void;
}

export function projectOf(request: FastifyRequest): Project {
  if (!request.project) throw new AppError('UNAUTHORIZED');
  return request.project;
}
