import type { NetworkInterfaceInfo } from 'node:os';
import { buildConnector } from 'undici';
import { isIpLiteral, type TargetPolicy } from '../core/target-policy.js';
import type { NameLookups, ResolvedAddress } from './name-resolver.js';

/*
 * The target guard at dispatch. A host name is resolved here, every address it resolves to is
 * judged by the policy with the port, and the socket connects to an address that passed: the check
 * and the connection use the same resolution, so there is no window for DNS rebinding. A literal
 * address in the URL is judged before connecting (the URL was also judged at subscribe, but the
 * policy may have changed since, and the server's own endpoints are known only once it listens).
 *
 * A refusal of a name never says what the name resolved to: the timeline would let users read the
 * internal DNS (which names exist, and where). A refusal of a literal names the address the user wrote.
 */

export class TargetRefusedError extends Error {
  readonly code = 'ETARGETREFUSED';
  constructor(message: string) {
    super(message);
    this.name = 'TargetRefusedError';
  }
}

/** The addresses of `hostname` that may be reached on `port`; throws TargetRefusedError when none may. */
export function allowedAddresses(
  policy: TargetPolicy,
  hostname: string,
  port: number,
  addresses: readonly ResolvedAddress[],
): ResolvedAddress[] {
  const allowed = addresses.filter((a) => policy.allowsResolved(hostname, a.address, port));
  if (allowed.length === 0) {
    throw new TargetRefusedError(`target refused by the target policy: ${hostname} resolves to no address it allows on port ${port}`);
  }
  return allowed;
}

/** The port undici connects to: the origin's, or its scheme's. */
export function connectPort(options: buildConnector.Options): number {
  const port = Number(options.port);
  return Number.isInteger(port) && port > 0 ? port : options.protocol === 'https:' ? 443 : 80;
}

/** Addresses tried at most for one connection, in the order DNS gave them. */
const ADDRESSES_TRIED = 4;

/**
 * An undici connector that connects only to endpoints the policy allows. A name is connected to by
 * the address that passed (TLS still checks the certificate against the name: undici derives the
 * server name from the origin's host, which is left as it was).
 */
export function guardedConnector(policy: TargetPolicy, names: NameLookups): buildConnector.connector {
  const connect = buildConnector({});
  return (options, callback) => {
    const port = connectPort(options);
    if (isIpLiteral(options.hostname)) {
      const refused = policy.refuseAddress(options.hostname, port);
      if (refused) {
        callback(new TargetRefusedError(`target refused: ${refused}`), null);
        return;
      }
      return connect(options, callback);
    }
    names.lookup(options.hostname).then(
      (addresses) => {
        let allowed: ResolvedAddress[];
        try {
          allowed = allowedAddresses(policy, options.hostname, port, addresses).slice(0, ADDRESSES_TRIED);
        } catch (error) {
          callback(error as Error, null);
          return;
        }
        const tryFrom = (index: number): void => {
          connect({ ...options, hostname: allowed[index]!.address }, (error, socket) => {
            if (error && index + 1 < allowed.length) tryFrom(index + 1);
            else if (error) callback(error, null);
            else callback(null, socket);
          });
        };
        tryFrom(0);
      },
      (error: Error) => callback(error, null),
    );
  };
}

/**
 * An undici connector for deliveries to a project's own inbox on this server (TargetPolicy.ownInbox
 * chose it, with the task's project and the URL's path): it connects only to the server's own
 * endpoints, which every other connection is refused. Its own Agent, so its sockets are never
 * handed to another request.
 */
export function ownEndpointConnector(policy: TargetPolicy): buildConnector.connector {
  const connect = buildConnector({});
  return (options, callback) => {
    const port = connectPort(options);
    if (!policy.isOwnEndpoint(options.hostname, port)) {
      callback(new TargetRefusedError(`target refused: ${options.hostname}:${port} is not this server's inbox`), null);
      return;
    }
    connect(options, callback);
  };
}

/** A socket address the server listens on. */
export interface ListeningAddress {
  address: string;
  port: number;
}

/**
 * The endpoints that reach this server, as deny entries: each listening address with its port, and
 * for an unspecified one (0.0.0.0, ::) every interface's address (the whole loopback range for the
 * loopback interface, since the kernel delivers all of 127.0.0.0/8 to it). `::` also takes IPv4.
 */
export function ownEndpoints(listening: readonly ListeningAddress[], interfaces: NodeJS.Dict<NetworkInterfaceInfo[]>): string[] {
  const entries = new Set<string>();
  const add = (address: string, port: number): void => {
    const bare = address.replace(/%.*/, '');
    entries.add(bare.includes(':') ? `[${bare}]:${port}` : `${bare}:${port}`);
  };
  for (const { address, port } of listening) {
    const everywhere = address === '0.0.0.0' || address === '::';
    if (!everywhere) {
      add(address, port);
      continue;
    }
    add('0.0.0.0', port);
    if (address === '::') add('::', port);
    for (const info of Object.values(interfaces).flat()) {
      if (!info || (address === '0.0.0.0' && info.family !== 'IPv4')) continue;
      if (info.internal && info.family === 'IPv4' && info.cidr) entries.add(`${info.cidr}:${port}`);
      else add(info.address, port);
    }
  }
  return [...entries];
}
