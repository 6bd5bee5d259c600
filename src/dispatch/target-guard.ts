import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import type { LookupFunction } from 'node:net';
import { buildConnector } from 'undici';
import { isIpLiteral, type TargetPolicy } from '../core/target-policy.js';

/*
 * The target guard at dispatch. A host name is resolved here, every address it resolves to is
 * judged by the policy, and the socket connects to an address that passed: the check and the
 * connection use the same resolution, so there is no window for DNS rebinding. A literal address
 * in the URL is judged before connecting (the URL was also judged at subscribe, but the policy may
 * have changed since).
 */

export class TargetRefusedError extends Error {
  readonly code = 'ETARGETREFUSED';
  constructor(message: string) {
    super(message);
    this.name = 'TargetRefusedError';
  }
}

/** Resolves a host name to all its addresses; tests may stand in for DNS with their own. */
export type Resolver = (hostname: string) => Promise<LookupAddress[]>;

export const systemResolver: Resolver = (hostname) =>
  new Promise((resolve, reject) => {
    dnsLookup(hostname, { all: true, verbatim: true }, (error, addresses) => (error ? reject(error) : resolve(addresses)));
  });

export function guardedLookup(policy: TargetPolicy, resolver: Resolver): LookupFunction {
  return (hostname, options, callback) => {
    resolver(hostname).then(
      (addresses) => {
        const exempt = policy.isHostExempt(hostname);
        const wanted = options.family === 4 || options.family === 6 ? options.family : 0;
        const allowed = addresses.filter(
          (a) => (wanted === 0 || a.family === wanted) && (exempt || policy.refuseAddress(a.address) === null),
        );
        if (allowed.length === 0) {
          const reason = addresses.length > 0 ? policy.refuseAddress(addresses[0]!.address) : null;
          callback(new TargetRefusedError(`${hostname} resolves to a refused address${reason ? `: ${reason}` : ''}`), '', 0);
          return;
        }
        if (options.all) {
          (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, allowed);
        } else {
          callback(null, allowed[0]!.address, allowed[0]!.family);
        }
      },
      (error: unknown) => callback(error as NodeJS.ErrnoException, '', 0),
    );
  };
}

export function guardedConnector(policy: TargetPolicy, resolver: Resolver = systemResolver): buildConnector.connector {
  const connect = buildConnector({ lookup: guardedLookup(policy, resolver) });
  return (options, callback) => {
    if (isIpLiteral(options.hostname) && !policy.isHostExempt(options.hostname)) {
      const refused = policy.refuseAddress(options.hostname);
      if (refused) {
        callback(new TargetRefusedError(`target refused: ${refused}`), null);
        return;
      }
    }
    return connect(options, callback);
  };
}
