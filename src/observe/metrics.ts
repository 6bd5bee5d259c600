/*
 * Every metric the server exports, named here and nowhere else (docs/operations.md#monitor lists
 * them). One Registry per server, never prom-client's global one: tests run several servers in one
 * process, and each must count only its own.
 *
 * Labels are bounded sets chosen by the server, never what a client sends: HTTP requests are labelled
 * by the route template (`/v1beta/queues/:id`, not the id), attempts by outcome kind, store calls by
 * operation. No label names a project or a task: the number of series stays fixed, and a scrape
 * tells nothing about whose tasks run.
 *
 * What the scrape reads is already in memory: counters and histograms are updated as things happen,
 * and the two gauges read a number the process holds (attempts in flight; the due backlog as last
 * counted by dispatch/due-backlog.ts, outside the scrape). A scrape costs the same with a million
 * tasks pending as with none.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { OUTCOME_NAMES, type OutcomeName } from '../core/task-machine.js';

/** The prefix of every metric of the server's own (the process and Node.js ones are prom-client's standard names). */
export const METRIC_PREFIX = 'kuueri_tasks_';

/** The route label of a request no route matched (404s, whatever their path). */
export const UNMATCHED_ROUTE = 'unmatched';

/** What the gauges read at each scrape; set once the dispatcher exists. */
export interface GaugeSources {
  inFlight: () => number;
  dueBacklog: () => number;
}

const SECONDS = 1_000;

export class ServiceMetrics {
  readonly registry = new Registry();
  private sources: GaugeSources = { inFlight: () => 0, dueBacklog: () => 0 };

  private readonly subscribes: Counter;
  private readonly deliveries: Counter<'outcome'>;
  private readonly attemptSeconds: Histogram<'outcome'>;
  private readonly latenessSeconds: Histogram;
  private readonly storeSeconds: Histogram<'operation'>;
  private readonly httpRequests: Counter<'method' | 'route' | 'status'>;
  private readonly httpSeconds: Histogram<'method' | 'route'>;
  /** The series of each (method, route, status) met so far: prom-client checks and builds labels on every call otherwise. */
  private readonly httpSeries = new Map<string, { count: Counter.Internal; seconds: Histogram.Internal<'method' | 'route'> }>();
  private readonly outcomeSeries = new Map<OutcomeName, { count: Counter.Internal; seconds: Histogram.Internal<'outcome'> }>();

  constructor() {
    const registers = [this.registry];
    const sources = (): GaugeSources => this.sources;
    collectDefaultMetrics({ register: this.registry });
    this.subscribes = new Counter({
      name: `${METRIC_PREFIX}subscribes_total`,
      help: 'Tasks subscribed: accepted with 201, alone or in a batch',
      registers,
    });
    this.deliveries = new Counter({
      name: `${METRIC_PREFIX}deliveries_total`,
      help: 'Attempts by outcome: delivered (2xx), failed (another status), no_answer (timeout, reset, refused connection), refused (not sent: target guard, unreadable request)',
      labelNames: ['outcome'],
      registers,
    });
    this.attemptSeconds = new Histogram({
      name: `${METRIC_PREFIX}attempt_duration_seconds`,
      help: 'Time from sending an attempt to its outcome, by outcome',
      labelNames: ['outcome'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    });
    this.latenessSeconds = new Histogram({
      name: `${METRIC_PREFIX}attempt_lateness_seconds`,
      help: 'How long after its due time an attempt was sent (store clock)',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30, 60, 300],
      registers,
    });
    new Gauge({
      name: `${METRIC_PREFIX}attempts_in_flight`,
      help: 'Attempts this process is sending now',
      registers,
      collect() {
        this.set(sources().inFlight());
      },
    });
    new Gauge({
      name: `${METRIC_PREFIX}due_backlog`,
      help: 'Tasks due and not yet claimed, by every server sharing the store, counted up to 10000 at most every 5 s',
      registers,
      collect() {
        this.set(sources().dueBacklog());
      },
    });
    this.storeSeconds = new Histogram({
      name: `${METRIC_PREFIX}store_operation_duration_seconds`,
      help: 'Time a store operation took, by operation (TaskStore method)',
      labelNames: ['operation'],
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers,
    });
    this.httpRequests = new Counter({
      name: `${METRIC_PREFIX}http_requests_total`,
      help: `API requests answered, by method, route template (${UNMATCHED_ROUTE} when none matched) and status`,
      labelNames: ['method', 'route', 'status'],
      registers,
    });
    this.httpSeconds = new Histogram({
      name: `${METRIC_PREFIX}http_request_duration_seconds`,
      help: 'Time to answer an API request, by method and route template',
      labelNames: ['method', 'route'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    // Every outcome shows from the first scrape, at 0, so rates over it are defined.
    for (const outcome of OUTCOME_NAMES) {
      const series = { count: this.deliveries.labels(outcome), seconds: this.attemptSeconds.labels(outcome) };
      series.count.inc(0);
      this.outcomeSeries.set(outcome, series);
    }
    this.subscribes.inc(0);
  }

  /** Where the gauges read their values from. */
  watch(sources: GaugeSources): void {
    this.sources = sources;
  }

  /** Tasks accepted by a subscribe (1) or a batch (those stored). */
  subscribed(tasks: number): void {
    this.subscribes.inc(tasks);
  }

  /** One attempt's outcome: how long it took and how late it was sent, in ms. */
  attempt(outcome: OutcomeName, durationMs: number, latenessMs: number): void {
    const series = this.outcomeSeries.get(outcome)!;
    series.count.inc();
    series.seconds.observe(durationMs / SECONDS);
    this.latenessSeconds.observe(Math.max(0, latenessMs) / SECONDS);
  }

  /** A timer for one store operation: called with the ms it took. */
  storeTimer(operation: string): (ms: number) => void {
    const child = this.storeSeconds.labels(operation);
    return (ms) => child.observe(ms / SECONDS);
  }

  /** One API request answered. `route` is the template, or UNMATCHED_ROUTE. */
  request(method: string, route: string, status: number, ms: number): void {
    const key = `${method} ${route} ${status}`;
    let series = this.httpSeries.get(key);
    if (!series) {
      series = { count: this.httpRequests.labels(method, route, String(status)), seconds: this.httpSeconds.labels(method, route) };
      this.httpSeries.set(key, series);
    }
    series.count.inc();
    series.seconds.observe(ms / SECONDS);
  }

  /** The exposition text and its content type. */
  async scrape(): Promise<{ contentType: string; text: string }> {
    return { contentType: this.registry.contentType, text: await this.registry.metrics() };
  }
}
