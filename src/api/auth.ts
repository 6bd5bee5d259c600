import type { FastifyRequest } from 'fastify';
import { AppError } from '../core/errors.js';
import { isId } from '../core/ids.js';
import type { Project } from '../core/task.js';
import { TOKEN_PATTERN, hashToken, tokenMatches } from '../core/tokens.js';
import type { TaskStore } from '../store/task-store.js';
import type { FailureThrottle } from './failure-throttle.js';

/*
 * Every /v1beta route but `register` needs `authorization: Bearer <token>` and
 * `x-kuueri-tasks-project: <id>`. Any problem answers the same 401, so a caller learns nothing
 * about which part was wrong; a project that does not exist still costs a hash comparison.
 */

export const PROJECT_HEADER = 'x-kuueri-tasks-project';

const DUMMY_HASH = hashToken('kt_not-a-real-token');

/**
 * The header's value when it was sent exactly once, else undefined (`headers` keeps only the first
 * authorization). Reads `rawHeaders`, where repeats stay apart: `headersDistinct` would build an
 * array for every header of every request to answer this.
 */
function onlyValue(request: FastifyRequest, name: string): string | undefined {
  const raw = (request.raw as Partial<FastifyRequest['raw']> | undefined)?.rawHeaders;
  if (!raw) {
    const value = request.headers[name];
    return typeof value === 'string' ? value : undefined;
  }
  let found: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const key = raw[i]!;
    if (key.length !== name.length || key.toLowerCase() !== name) continue;
    if (found !== undefined) return undefined;
    found = raw[i + 1]!;
  }
  return found;
}

export interface Authenticator {
  /**
   * The caller's project. Answers at once when the project is cached (most requests), so the hook
   * calling it need not wait a turn; refusals are thrown then, or rejected when a store read was due.
   */
  authenticate(request: FastifyRequest): Project | Promise<Project>;
}

/** Projects never change once registered, so a bounded cache saves a store read per request. */
export function createAuthenticator(store: TaskStore, failures: FailureThrottle, cacheSize = 10_000): Authenticator {
  const cache = new Map<string, Project>();
  const refuse = (client: string): AppError => {
    failures.recordFailure(client);
    return new AppError(
      'UNAUTHORIZED',
      'Missing or invalid credentials: send authorization: Bearer <token> and x-kuueri-tasks-project: <project id>',
    );
  };

  const blocked = (ms: number): AppError => {
    const seconds = Math.ceil(ms / 1000);
    const error = new AppError('RATE_LIMITED', `Too many failed authentications from this address; try again in ${seconds} s`);
    error.retryAfterSeconds = seconds;
    return error;
  };

  return {
    authenticate(request) {
      const blockedFor = failures.blockedFor(request.clientAddress);
      // Exactly one of each: node keeps the first of repeated headers and drops the rest, so a
      // proxy reading the last one would disagree with this server about who is calling.
      const authorization = onlyValue(request, 'authorization');
      const projectId = onlyValue(request, PROJECT_HEADER);
      const match = authorization === undefined ? null : /^Bearer +(\S+)$/i.exec(authorization);
      const token = match?.[1];
      const wellFormed = token !== undefined && TOKEN_PATTERN.test(token) && projectId !== undefined && isId(projectId);
      const cached = wellFormed ? cache.get(projectId) : undefined;
      if (blockedFor > 0) {
        // A blocked address still reaches a project this server holds with its valid token (one
        // hash, no store read): a misconfigured neighbour behind the same address must not stop a
        // working client. Anything else answers 429 at no cost and is not counted again.
        if (cached && tokenMatches(token!, cached.tokenHash)) return cached;
        throw blocked(blockedFor);
      }
      if (!wellFormed) throw refuse(request.clientAddress);

      const check = (project: Project | null): Project => {
        const ok = tokenMatches(token, project ? project.tokenHash : DUMMY_HASH);
        if (!project || !ok) throw refuse(request.clientAddress);
        return project;
      };
      if (cached) return check(cached);
      return store.findProject(projectId).then((project) => {
        if (project) {
          if (cache.size >= cacheSize) cache.delete(cache.keys().next().value as string);
          cache.set(projectId, project);
        }
        return check(project);
      });
    },
  };
}
