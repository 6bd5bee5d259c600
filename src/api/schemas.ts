/*
 * The schemas of the v1beta routes, built from the shapes in core/shapes.ts. Fastify validates
 * requests against them (types, lengths, patterns, unknown fields; every error collected) before
 * core/subscription.ts checks what needs the clock or several fields, and serialises answers from
 * them: a field an answer's schema lacks is not sent.
 */
import Type from 'typebox';
import {
  ActionAnswer,
  AttemptsView,
  BreakerPolicyBody,
  BreakerPolicyView,
  BreakersView,
  CircuitView,
  ActivityView,
  BatchResults,
  BulkAnswer,
  BulkBody,
  FlowBody,
  FlowListView,
  FlowView,
  InboxView,
  InfoView,
  QueuedView,
  RegisterBody,
  RegisteredView,
  RescheduleBody,
  ScheduleBody,
  ScheduleListView,
  ScheduleView,
  SigningSecretView,
  SubscribeBatchBody,
  SubscribeBody,
  TaskListView,
  TaskView,
  TimelineView,
  FlowKey,
} from '../core/shapes.js';
import { LISTING } from '../core/listing.js';
import { TIMELINE } from '../core/timeline.js';
import { ATTEMPT_LOG } from '../core/limits.js';

const IdParams = Type.Object({ id: Type.String() });
const CircuitParams = Type.Object({
  kind: Type.Enum(['host', 'flow'], { type: 'string' }),
  key: Type.String({ minLength: 1, maxLength: 256, description: "The circuit's key; for kind host also the host name" }),
});
const FlowParams = Type.Object({ key: FlowKey });

/** Checked by core/timeline.ts timelinePageQuery; other parameters are ignored, as they always were. */
const TimelineQuery = Type.Object({
  limit: Type.Optional(Type.String({ maxLength: 16, description: `Entries in the page, 1 to ${TIMELINE.pageMax} (the default)` })),
  cursor: Type.Optional(Type.String({ maxLength: 64, description: 'Where the page starts, from the Link header of the page before' })),
});

/** Checked by core/attempt-log.ts attemptPageQuery. */
const AttemptsQuery = Type.Object({
  limit: Type.Optional(Type.String({ maxLength: 16, description: `Attempts in the page, 1 to ${ATTEMPT_LOG.pageMax} (the default)` })),
  cursor: Type.Optional(Type.String({ maxLength: 64, description: 'Where the page starts, from the Link header of the page before' })),
});

/** Checked by core/listing.ts listingQuery (every problem at once); other parameters are ignored, as the timeline's are. */
const text = (description: string) => Type.Optional(Type.String({ maxLength: 256, description }));
const ListQuery = Type.Object({
  state: text('States, comma-separated: any of them'),
  tag: text('A tag the tasks carry'),
  host: text('The target host name, matched exactly (case-insensitive)'),
  schedule: text("A schedule's id: the tasks its runs made"),
  flow: text('A flow key the tasks carry'),
  createdFrom: text('Created at or after (epoch ms)'),
  createdTo: text('Created before (epoch ms)'),
  nextFrom: text('Next execution at or after (epoch ms); tasks with none never match'),
  nextTo: text('Next execution before (epoch ms)'),
  limit: text(`Tasks in the page, 1 to ${LISTING.pageMax} (default ${LISTING.pageDefault})`),
  cursor: text('Where the page starts: the nextCursor of the page before'),
});

/** Checked by api/routes/schedules.ts (core/listing.ts's page size and cursor). */
const ScheduleListQuery = Type.Object({
  limit: text(`Schedules in the page, 1 to ${LISTING.pageMax} (default ${LISTING.pageDefault})`),
  cursor: text('Where the page starts: the nextCursor of the page before'),
});

export const ROUTE_SCHEMAS = {
  register: { body: RegisterBody, response: { 201: RegisteredView } },
  info: { response: { 200: InfoView } },
  signingSecret: { response: { 200: SigningSecretView } },
  subscribe: { body: SubscribeBody, response: { 201: QueuedView, 200: QueuedView } },
  subscribeBatch: { body: SubscribeBatchBody, response: { 200: BatchResults } },
  task: { params: IdParams, response: { 200: TaskView } },
  timeline: { params: IdParams, querystring: TimelineQuery, response: { 200: TimelineView } },
  attempts: { params: IdParams, querystring: AttemptsQuery, response: { 200: AttemptsView } },
  replay: { params: IdParams, response: { 201: TaskView } },
  pause: { params: IdParams, response: { 200: ActionAnswer('PAUSED') } },
  resume: { params: IdParams, response: { 200: QueuedView } },
  unsubscribe: { params: IdParams, response: { 200: ActionAnswer('UNSUBSCRIBED') } },
  execute: { params: IdParams, response: { 200: QueuedView } },
  reschedule: { params: IdParams, body: RescheduleBody, response: { 200: QueuedView } },
  remove: { params: IdParams, response: { 200: ActionAnswer('EMPTY') } },
  inbox: { response: { 200: InboxView } },
  clearInbox: { response: { 200: ActionAnswer('EMPTY') } },
  activity: { response: { 200: ActivityView } },
  list: { querystring: ListQuery, response: { 200: TaskListView } },
  bulk: { body: BulkBody, response: { 200: BulkAnswer } },
  createSchedule: { body: ScheduleBody, response: { 201: ScheduleView } },
  listSchedules: { querystring: ScheduleListQuery, response: { 200: ScheduleListView } },
  schedule: { params: IdParams, response: { 200: ScheduleView } },
  pauseSchedule: { params: IdParams, response: { 200: ScheduleView } },
  resumeSchedule: { params: IdParams, response: { 200: ScheduleView } },
  removeSchedule: { params: IdParams, response: { 200: ActionAnswer('EMPTY') } },
  breakers: { response: { 200: BreakersView } },
  breakerPolicy: { response: { 200: BreakerPolicyView } },
  putBreakerPolicy: { body: BreakerPolicyBody, response: { 200: BreakerPolicyView } },
  deleteBreakerPolicy: { response: { 200: ActionAnswer('EMPTY') } },
  circuit: { params: CircuitParams, response: { 200: CircuitView } },
  resetCircuit: { params: CircuitParams, response: { 200: ActionAnswer('EMPTY') } },
  putFlow: { params: FlowParams, body: FlowBody, response: { 200: FlowView } },
  flow: { params: FlowParams, response: { 200: FlowView } },
  flows: { response: { 200: FlowListView } },
  deleteFlow: { params: FlowParams, response: { 200: ActionAnswer('EMPTY') } },
  pauseFlow: { params: FlowParams, response: { 200: FlowView } },
  resumeFlow: { params: FlowParams, response: { 200: FlowView } },
};
