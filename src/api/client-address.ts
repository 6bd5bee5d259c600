import type { FastifyRequest } from 'fastify';
import { type AddressRange, canonicalAddress, inRanges, parseRange } from '../core/ip-address.js';
import { remembered } from '../core/remembered.js';

/*
 * Who is calling: the one derivation of a request's client address, which every throttle counts
 * by. It is the socket's address, unless that is a proxy the operator listed (TRUST_PROXY): then
 * X-Forwarded-For is read from its right end, one hop per trusted proxy, and the client is the
 * first hop that is not one. Entries left of it were written by the client and are never read,
 * so nobody can pick their own address or take a victim's.
 *
 * The answer is always a canonical address (core/ip-address.ts): a hop that is not an address
 * stops the walk, and the client is then the trusted proxy that passed it on.
 */

declare module 'fastify' {
  interface FastifyRequest {
    /** The client's canonical address; set first thing by the onRequest hook (api/app.ts), from `ClientAddressOf`. */
    clientAddress: string;
  }
}

/** The client of a request whose socket address is already gone (it closed first): one key for all of them. */
export const UNKNOWN_CLIENT = '0.0.0.0';

/** The client address of a request. */
export type ClientAddressOf = (request: FastifyRequest) => string;

/** The client address of requests, trusting X-Forwarded-For from `trustedProxies` (addresses or CIDRs; none by default). */
export function clientAddressOf(trustedProxies: readonly string[]): ClientAddressOf {
  const client = clientFrom(trustedProxies);
  return (request) => client(request.socket.remoteAddress, request.headers['x-forwarded-for']);
}

/** The walk itself, on the socket's address and the X-Forwarded-For header as received. */
export function clientFrom(
  trustedProxies: readonly string[],
): (socketAddress: string | undefined, forwardedFor: string | string[] | undefined) => string {
  const ranges = trustedProxies.map(parseRange).filter((range): range is AddressRange => range !== null);
  if (ranges.length !== trustedProxies.length) throw new Error('TRUST_PROXY holds an entry that is not an address or a CIDR');
  const trusted = remembered((address) => inRanges(address, ranges), 10_000);
  return (socketAddress, forwardedFor) => {
    let client = (socketAddress && canonicalAddress(socketAddress)) || UNKNOWN_CLIENT;
    if (ranges.length === 0 || forwardedFor === undefined || !trusted(client)) return client;
    // Node joins repeated X-Forwarded-For headers with commas, in order; an array is joined alike.
    const hops = (typeof forwardedFor === 'string' ? forwardedFor : forwardedFor.join(',')).split(',');
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = hopAddress(hops[i]!.trim());
      if (hop === null) break;
      client = hop;
      if (!trusted(client)) break;
    }
    return client;
  };
}

/** A hop as proxies write it: an address, `[v6]` or `[v6]:port`, or `v4:port`; null when it is none of these. */
function hopAddress(text: string): string | null {
  const bracketed = /^\[([^\]]*)\](?::\d{1,5})?$/.exec(text);
  if (bracketed) return canonicalAddress(bracketed[1]!);
  const withPort = /^(\d{1,3}(?:\.\d{1,3}){3}):\d{1,5}$/.exec(text);
  return canonicalAddress(withPort ? withPort[1]! : text);
}
