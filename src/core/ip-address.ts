import ipaddr from 'ipaddr.js';
import { remembered } from './remembered.js';

/*
 * IP addresses as the API meets them: a client's socket, the X-Forwarded-For hops a trusted proxy
 * passes on, and the proxies an operator lists. Strict, so that one address has one text: only
 * dotted-quad IPv4 (no `127.1`, `0x7f000001` or leading zeros) and IPv6; an IPv4-mapped IPv6
 * address is its IPv4 form, and an IPv6 zone (`%eth0`) is dropped.
 */

type Address = ipaddr.IPv4 | ipaddr.IPv6;

/** A base address and a prefix length: `10.0.0.0/8`, or one address as `/32` (`/128`). */
export type AddressRange = readonly [Address, number];

function parseAddress(text: string): Address | null {
  if (ipaddr.IPv4.isValidFourPartDecimal(text)) return ipaddr.IPv4.parse(text);
  if (!text.includes(':') || !ipaddr.IPv6.isValid(text)) return null;
  const v6 = ipaddr.IPv6.parse(text);
  if (v6.isIPv4MappedAddress()) return v6.toIPv4Address();
  return v6.zoneId === undefined ? v6 : new ipaddr.IPv6(v6.parts);
}

/** Longer than any address's text (45 characters, and an interface name as its zone). */
const LONGEST_ADDRESS = 64;

const rememberedCanonical = remembered((text) => parseAddress(text)?.toString() ?? null, 10_000);

/**
 * The canonical text of an address (RFC 5952 for IPv6), or null when `text` is not one. Asked on
 * every request, so answers are remembered (a bounded number, forgotten all at once); a text too
 * long to be an address is refused before, so what is remembered stays small.
 */
export function canonicalAddress(text: string): string | null {
  return text.length <= LONGEST_ADDRESS ? rememberedCanonical(text) : null;
}

/** `entry` as a range: an address (a range of one) or a CIDR; null when it is neither. */
export function parseRange(entry: string): AddressRange | null {
  const [base = '', bits, ...rest] = entry.trim().split('/');
  if (rest.length > 0) return null;
  const address = parseAddress(base);
  if (address === null) return null;
  // An IPv4-mapped base (`::ffff:10.0.0.0/104`) is the IPv4 range it covers, as its addresses are.
  const mapped = address.kind() === 'ipv4' && base.includes(':');
  const width = mapped ? 128 : address.kind() === 'ipv4' ? 32 : 128;
  if (bits === undefined) return [address, mapped ? 32 : width];
  if (!/^\d{1,3}$/.test(bits) || Number(bits) > width) return null;
  const prefix = Number(bits) - (mapped ? 96 : 0);
  return prefix < 0 ? null : [address, prefix];
}

/** True when the canonical address `address` lies in one of `ranges`. */
export function inRanges(address: string, ranges: readonly AddressRange[]): boolean {
  const parsed = parseAddress(address);
  return parsed !== null && ranges.some(([base, bits]) => base.kind() === parsed.kind() && parsed.match(base, bits));
}
