import { randomInt } from 'node:crypto';
import { isIP, isIPv6 } from 'node:net';
import { DnsLookupError, isNoRecord, type MxRecord, type Resolver } from '../dns/resolver.js';

/** Where mail for a domain should go, per RFC 5321 §5.1 and RFC 7505. */
export type MailRoute =
  /** Hosts to try in order; `implicit` when the domain has no MX and its own address is used. */
  | { kind: 'hosts'; hosts: string[]; implicit: boolean }
  /** The domain declares it accepts no mail (null MX) or does not exist: permanent. */
  | { kind: 'undeliverable'; reason: string }
  /** DNS could not answer right now: temporary. */
  | { kind: 'dns-failure'; reason: string };

function isNullMx(record: MxRecord): boolean {
  return record.exchange === '' || record.exchange === '.';
}

/** Orders by preference, shuffling equal preferences so load spreads as RFC 5321 §5.1 asks. */
export function orderMxRecords(records: readonly MxRecord[]): string[] {
  const shuffled = records.map((record) => ({ record, tiebreak: randomInt(2 ** 31) }));
  shuffled.sort((a, b) => a.record.priority - b.record.priority || a.tiebreak - b.tiebreak);
  const hosts = new Set<string>();
  for (const { record } of shuffled) hosts.add(record.exchange.toLowerCase().replace(/\.$/, ''));
  return [...hosts];
}

/** "[192.0.2.1]" or "[IPv6:2001:db8::1]" (RFC 5321 address literals) → the IP, else null. */
export function addressLiteral(domain: string): string | null {
  const match = /^\[(?:IPv6:)?([^\]]+)\]$/i.exec(domain);
  const address = match?.[1];
  return address !== undefined && isIP(address) !== 0 ? address : null;
}

function describeDnsError(err: unknown): string {
  return err instanceof DnsLookupError ? err.message : `DNS lookup failed: ${String(err)}`;
}

export async function resolveMailRoute(resolver: Resolver, domain: string): Promise<MailRoute> {
  const literal = addressLiteral(domain);
  if (literal !== null) return { kind: 'hosts', hosts: [literal], implicit: true };

  let records: MxRecord[];
  try {
    records = await resolver.resolveMx(domain);
  } catch (err) {
    if (err instanceof DnsLookupError && err.code === 'ENOTFOUND') {
      return { kind: 'undeliverable', reason: `domain ${domain} does not exist (NXDOMAIN)` };
    }
    if (!isNoRecord(err)) return { kind: 'dns-failure', reason: describeDnsError(err) };
    records = [];
  }

  if (records.length > 0) {
    const usable = records.filter((record) => !isNullMx(record));
    if (usable.length === 0) return { kind: 'undeliverable', reason: `domain ${domain} accepts no mail (null MX, RFC 7505)` };
    return { kind: 'hosts', hosts: orderMxRecords(usable), implicit: false };
  }
  // No MX at all: the domain itself is the mail host (RFC 5321 §5.1), if it has an address.
  return { kind: 'hosts', hosts: [domain.toLowerCase()], implicit: true };
}

export type HostAddresses =
  | { kind: 'addresses'; addresses: string[] }
  | { kind: 'no-address'; reason: string }
  | { kind: 'dns-failure'; reason: string };

/**
 * A and AAAA records of a mail host, IPv4 first: many self-hosted machines have no working IPv6
 * route, and trying v4 first avoids a connect timeout per message on them.
 */
export async function resolveHostAddresses(resolver: Resolver, host: string): Promise<HostAddresses> {
  if (isIP(host) !== 0) return { kind: 'addresses', addresses: [host] };
  const [v4, v6] = await Promise.allSettled([resolver.resolve4(host), resolver.resolve6(host)]);
  const addresses = [
    ...(v4.status === 'fulfilled' ? v4.value : []),
    ...(v6.status === 'fulfilled' ? v6.value.filter((address) => isIPv6(address)) : []),
  ];
  if (addresses.length > 0) return { kind: 'addresses', addresses };
  const failures = [v4, v6].flatMap((result) => (result.status === 'rejected' ? [result.reason as unknown] : []));
  const temporary = failures.find((err) => !isNoRecord(err));
  if (temporary !== undefined) return { kind: 'dns-failure', reason: describeDnsError(temporary) };
  return { kind: 'no-address', reason: `mail host ${host} has no A or AAAA record` };
}
