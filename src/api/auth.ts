import type { FastifyRequest } from 'fastify';
import { AppError } from '../core/errors.js';
import { isId } from '../core/ids.js';
import type { Project } from '../core/task.js';
import { TOKEN_PATTERN, hashToken, tokenMatches } from '../core/tokens.js';
import type { TaskStore } from '../store/task-store.js';
import type { FailureThrottle } from './failure-throttle.js';

/**
 * Every /v1beta route but `register` needs `authorization: Bearer <token>` and
 * `x-kuueri-tasks-project: <id>`. Any problem answers the same 401, so a caller learns nothing
 * about which part was wrong; a project that does not exist still costs a hash comparison.
 */
export const PROJECT_HEADER = 'x-kuueri-tasks-project';

const DUMMY_HASH = hashToken('kt_not-a-real-token');

/** Every value a header was sent with, repeats included (`headers` keeps only the first authorization). */
function everyValue(request: FastifyRequest, name: string): string[] {
  const distinct = (request.raw as Partial<FastifyRequest['raw']> | undefined)?.headersDistinct?.[name];
  if (distinct) return distinct;
  const value = request.headers[name];
  return value === undefined ? [] : ([] as string[]).concat(value);
}

export interface Authenticator {
  authenticate(request: FastifyRequest): Promise<Project>;
}

/** Projects never change once registered, so a bounded cache saves a store read per request. */
export function createAuthenticator(store: TaskStore, failures: FailureThrottle, cacheSize = 10_000): Authenticator {
  const cache = new Map<string, Project>();
  const refuse = (client: string): AppError => {
    failures.recordFailure(client);
    return new AppError('UNAUTHORIZED', 'Missing or invalid credentials: send authorization: Bearer <token> and x-kuueri-tasks-project: <project id>');
  };

  return {
    async authenticate(request) {
      const blockedFor = failures.blockedFor(request.ip);
      if (blockedFor > 0) {
        const seconds = Math.ceil(blockedFor / 1000);
        const error = new AppError('RATE_LIMITED', `Too many failed authentications from this address; try again in ${seconds} s`);
        error.retryAfterSeconds = seconds;
        throw error;
      }
      // Exactly one of each: node keeps the first of repeated headers and drops the rest, so a
      // proxy reading the last one would disagree with this server about who is calling.
      const authorizations = everyValue(request, 'authorization');
      const projects = everyValue(request, PROJECT_HEADER);
      if (authorizations.length !== 1 || projects.length !== 1) throw refuse(request.ip);
      const authorization = authorizations[0]!;
      const projectId = projects[0]!;
      const match = /^Bearer +(\S+)$/i.exec(authorization);
      const token = match?.[1];
      if (!token || !TOKEN_PATTERN.test(token) || !isId(projectId)) throw refuse(request.ip);

      let project = cache.get(projectId) ?? null;
      if (!project) {
        project = await store.findProject(projectId);
        if (project) {
          if (cache.size >= cacheSize) cache.delete(cache.keys().next().value as string);
          cache.set(projectId, project);
        }
      }
      const ok = tokenMatches(token, project ? project.tokenHash : DUMMY_HASH);
      if (!project || !ok) throw refuse(request.ip);
      return project;
    },
  };
}
