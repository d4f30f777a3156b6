import { isIP } from 'node:net';

/**
 * Which peers may tell us the client's address in X-Forwarded-For: none (false), every peer (true), the
 * first N hops counted from this server (a number), or peers whose address is in the list (addresses, CIDR
 * ranges, or proxy-addr's names loopback, linklocal and uniquelocal).
 */
export type TrustProxy = boolean | number | string[];

/** The ranges proxy-addr (fastify's) knows by name. */
const NAMED_RANGES = new Set(['loopback', 'linklocal', 'uniquelocal']);
const MAX_HOPS = 64;

function isAddressOrRange(item: string): boolean {
  if (NAMED_RANGES.has(item)) return true;
  const slash = item.indexOf('/');
  if (slash === -1) return isIP(item) !== 0;
  const family = isIP(item.slice(0, slash));
  const bits = item.slice(slash + 1);
  return family !== 0 && /^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128);
}

/** Parses TRUST_PROXY: `true`, `false`, a hop count, or a comma list; throws with what is wrong. */
export function parseTrustProxy(text: string): TrustProxy {
  const value = text.trim();
  if (/^(true|false)$/i.test(value)) return value.toLowerCase() === 'true';
  if (/^\d+$/.test(value)) {
    const hops = Number(value);
    if (hops > MAX_HOPS) throw new Error(`a hop count is at most ${MAX_HOPS}`);
    return hops === 0 ? false : hops;
  }
  const items = value.split(',').map((s) => s.trim());
  const bad = items.filter((i) => !isAddressOrRange(i));
  if (bad.length > 0) {
    throw new Error(`expected true, false, a hop count, or a comma list of addresses and CIDR ranges (or loopback, linklocal, uniquelocal); not usable: ${bad.map((b) => JSON.stringify(b)).join(', ')}`);
  }
  return items;
}

/**
 * The form fastify takes. Fastify itself ignores a hop count (it cannot check the peer), so a count becomes
 * "trust the first N hops": the operator who sets it says the server is reachable only through its proxies.
 */
export function fastifyTrustProxy(trust: TrustProxy): boolean | string[] | ((address: string, hop: number) => boolean) {
  if (typeof trust === 'number') return (_address, hop) => hop < trust;
  return trust;
}
