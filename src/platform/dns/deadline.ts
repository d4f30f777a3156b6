import { DnsLookupError, type DnsRecordType, type Resolver } from './resolver.js';

/** The code of a lookup cut short because the work it belongs to ran out of time. */
export const DEADLINE_EXCEEDED = 'EDEADLINE';

export const isDeadlineExceeded = (err: unknown): boolean => err instanceof DnsLookupError && err.code === DEADLINE_EXCEEDED;

/**
 * The same resolver, bounded by `signal`: once it aborts, lookups still waiting reject at once and new ones
 * are never sent. A query already on the wire ends by its own timeout; nothing waits for it.
 */
export function resolverUntil(resolver: Resolver, signal: AbortSignal): Resolver {
  function bounded<T>(name: string, rrtype: DnsRecordType | 'reverse', lookup: () => Promise<T>): Promise<T> {
    if (signal.aborted) return Promise.reject(new DnsLookupError(DEADLINE_EXCEEDED, name, rrtype));
    return new Promise<T>((resolve, reject) => {
      const stop = (): void => reject(new DnsLookupError(DEADLINE_EXCEEDED, name, rrtype));
      signal.addEventListener('abort', stop, { once: true });
      lookup()
        .then(resolve, reject)
        .finally(() => signal.removeEventListener('abort', stop));
    });
  }
  return {
    servers: resolver.servers,
    resolveMx: (name) => bounded(name, 'MX', () => resolver.resolveMx(name)),
    resolveTxt: (name) => bounded(name, 'TXT', () => resolver.resolveTxt(name)),
    resolve4: (name) => bounded(name, 'A', () => resolver.resolve4(name)),
    resolve6: (name) => bounded(name, 'AAAA', () => resolver.resolve6(name)),
    resolveCname: (name) => bounded(name, 'CNAME', () => resolver.resolveCname(name)),
    resolvePtr: (name) => bounded(name, 'PTR', () => resolver.resolvePtr(name)),
    reverse: (ip) => bounded(ip, 'reverse', () => resolver.reverse(ip)),
    resolve: (name, rrtype) => bounded(name, rrtype, () => resolver.resolve(name, rrtype)),
  };
}
