import { Resolver as NodeResolver } from 'node:dns/promises';
import { isIPv4, isIPv6 } from 'node:net';

/**
 * c-ares error codes as reported by node:dns. ENOTFOUND is NXDOMAIN (the name does not exist),
 * ENODATA is NOERROR with an empty answer (the name exists but has no record of that type).
 */
export type DnsErrorCode =
  | 'ENOTFOUND'
  | 'ENODATA'
  | 'ETIMEOUT'
  | 'ESERVFAIL'
  | 'EREFUSED'
  | 'ECONNREFUSED'
  | 'ECANCELLED'
  | (string & NonNullable<unknown>);

export type DnsRecordType = 'A' | 'AAAA' | 'MX' | 'TXT' | 'CNAME' | 'PTR';

/** Thrown by every Resolver method, so callers can tell "no such record" from "try again later". */
export class DnsLookupError extends Error {
  constructor(
    readonly code: DnsErrorCode,
    readonly hostname: string,
    readonly rrtype: DnsRecordType | 'reverse',
    cause?: unknown,
  ) {
    super(`DNS ${rrtype} lookup for ${hostname} failed: ${code}`, cause === undefined ? undefined : { cause });
    this.name = 'DnsLookupError';
  }
}

/** True when the answer was authoritative "nothing there" (NXDOMAIN or NODATA) rather than a failure. */
export function isNoRecord(err: unknown): boolean {
  return err instanceof DnsLookupError && (err.code === 'ENOTFOUND' || err.code === 'ENODATA');
}

export interface MxRecord {
  exchange: string;
  priority: number;
}

export interface DnsRecordsByType {
  A: string[];
  AAAA: string[];
  MX: MxRecord[];
  TXT: string[][];
  CNAME: string[];
  PTR: string[];
}

export interface Resolver {
  /** "ip:port" entries in use, or null for the system configuration. */
  readonly servers: readonly string[] | null;
  resolveMx(domain: string): Promise<MxRecord[]>;
  /** Each record as its list of character-strings (join them to get the value). */
  resolveTxt(domain: string): Promise<string[][]>;
  resolve4(host: string): Promise<string[]>;
  resolve6(host: string): Promise<string[]>;
  resolveCname(host: string): Promise<string[]>;
  resolvePtr(name: string): Promise<string[]>;
  reverse(ip: string): Promise<string[]>;
  /** Generic form with node:dns `resolve(name, rrtype)` semantics, for libraries that take a resolver function. */
  resolve<T extends DnsRecordType>(name: string, rrtype: T): Promise<DnsRecordsByType[T]>;
}

export interface ResolverOptions {
  /** Per-try timeout in ms (default 5000). */
  timeoutMs?: number;
  /** Attempts per server before giving up (default 2). */
  tries?: number;
}

const DEFAULT_DNS_PORT = 53;

function parsePort(text: string, entry: string): number {
  if (!/^\d{1,5}$/.test(text)) throw new Error(`DNS server "${entry}": port must be a number from 1 to 65535`);
  const port = Number(text);
  if (port < 1 || port > 65535) throw new Error(`DNS server "${entry}": port must be a number from 1 to 65535`);
  return port;
}

function parseDnsServer(entry: string): string {
  const bracketed = /^\[([^\]]*)\](?::(.*))?$/.exec(entry);
  if (bracketed) {
    const address = bracketed[1] ?? '';
    if (!isIPv6(address)) throw new Error(`DNS server "${entry}": "${address}" is not an IPv6 address`);
    const port = bracketed[2] === undefined ? DEFAULT_DNS_PORT : parsePort(bracketed[2], entry);
    return `[${address}]:${port}`;
  }
  if (isIPv6(entry)) {
    // "::1:53" would be ambiguous, so IPv6 is only accepted in brackets.
    throw new Error(`DNS server "${entry}": write IPv6 addresses in brackets, e.g. [${entry}]:53`);
  }
  const [address = '', portText, ...rest] = entry.split(':');
  if (rest.length > 0 || !isIPv4(address)) {
    throw new Error(`DNS server "${entry}": expected an IPv4 address or a bracketed IPv6 address, optionally with :port`);
  }
  const port = portText === undefined ? DEFAULT_DNS_PORT : parsePort(portText, entry);
  return `${address}:${port}`;
}

/**
 * Validates a comma-separated list of DNS servers ("1.1.1.1", "127.0.0.1:5300", "[::1]:53")
 * and returns them normalised as "ip:port". Host names are refused: resolving the resolver
 * would need a resolver.
 */
export function parseDnsServers(value: string): string[] {
  const entries = value.split(',').map((entry) => entry.trim());
  if (entries.every((entry) => entry === '')) throw new Error('no DNS servers given (expected e.g. "1.1.1.1,[2606:4700:4700::1111]:53")');
  return entries.map((entry) => {
    if (entry === '') throw new Error(`empty entry in DNS server list "${value}"`);
    return parseDnsServer(entry);
  });
}

function errorCodeOf(err: unknown): string {
  if (typeof err === 'object' && err !== null) {
    const code: unknown = (err as Record<string, unknown>).code;
    if (typeof code === 'string' && code !== '') return code;
  }
  return 'EUNKNOWN';
}

/**
 * A DNS resolver that talks to the given servers (or the system's), never consulting /etc/hosts.
 * Mail routing must see what the rest of the internet sees, and tests point it at a local server.
 */
export function createResolver(servers?: string[], opts: ResolverOptions = {}): Resolver {
  const resolver = new NodeResolver({ timeout: opts.timeoutMs ?? 5000, tries: opts.tries ?? 2 });
  const configured = servers !== undefined && servers.length > 0 ? parseDnsServers(servers.join(',')) : null;
  if (configured) resolver.setServers(configured);

  async function lookup<T>(hostname: string, rrtype: DnsRecordType | 'reverse', query: () => Promise<T>): Promise<T> {
    try {
      return await query();
    } catch (err) {
      throw new DnsLookupError(errorCodeOf(err), hostname, rrtype, err);
    }
  }

  const resolveTyped: { [K in DnsRecordType]: (name: string) => Promise<DnsRecordsByType[K]> } = {
    A: (name: string) => lookup(name, 'A', () => resolver.resolve4(name)),
    AAAA: (name: string) => lookup(name, 'AAAA', () => resolver.resolve6(name)),
    MX: (name: string) => lookup(name, 'MX', () => resolver.resolveMx(name)),
    TXT: (name: string) => lookup(name, 'TXT', () => resolver.resolveTxt(name)),
    CNAME: (name: string) => lookup(name, 'CNAME', () => resolver.resolveCname(name)),
    PTR: (name: string) => lookup(name, 'PTR', () => resolver.resolvePtr(name)),
  };

  return {
    servers: configured,
    resolveMx: resolveTyped.MX,
    resolveTxt: resolveTyped.TXT,
    resolve4: resolveTyped.A,
    resolve6: resolveTyped.AAAA,
    resolveCname: resolveTyped.CNAME,
    resolvePtr: resolveTyped.PTR,
    reverse: (ip: string) => lookup(ip, 'reverse', () => resolver.reverse(ip)),
    resolve<T extends DnsRecordType>(name: string, rrtype: T): Promise<DnsRecordsByType[T]> {
      // Callers outside TypeScript (resolver callbacks of mail libraries) may pass anything.
      if (!Object.hasOwn(resolveTyped, rrtype)) {
        return Promise.reject(new DnsLookupError('ENOTIMP', name, rrtype));
      }
      const query: (name: string) => Promise<DnsRecordsByType[T]> = resolveTyped[rrtype];
      return query(name);
    },
  };
}
