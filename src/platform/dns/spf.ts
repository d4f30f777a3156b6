import { BlockList, isIPv4, isIPv6 } from 'node:net';
import { DnsLookupError, isNoRecord, type Resolver } from './resolver.js';

/** RFC 7208 §4.6.4: evaluating a record may cause at most 10 DNS-querying terms, includes counted recursively. */
export const SPF_LOOKUP_LIMIT = 10;
/** RFC 7208 §4.6.4: at most 2 of those lookups may find nothing (NXDOMAIN or no records). */
export const SPF_VOID_LOOKUP_LIMIT = 2;
/** RFC 7208 §4.6.4: an mx term naming more than 10 mail hosts is a permanent error. */
const SPF_MX_HOST_LIMIT = 10;

export type SpfQualifier = '+' | '-' | '~' | '?';

export interface SpfTerm {
  qualifier: SpfQualifier;
  /** mechanism or modifier name, lowercase: all, include, a, mx, ptr, ip4, ip6, exists, redirect, exp, … */
  name: string;
  /** the part after ':' or '=' (domain or address), without the CIDR length */
  target: string | null;
  /** CIDR length for ip4/ip6/a/mx, when written */
  prefix: number | null;
  modifier: boolean;
  raw: string;
}

const LOOKUP_TERMS = new Set(['include', 'a', 'mx', 'ptr', 'exists', 'redirect']);

export const isSpfRecord = (txt: string): boolean => /^v=spf1(\s|$)/i.test(txt.trim());

/** Splits a record into its terms; unknown mechanisms are reported, unknown modifiers ignored (RFC 7208 §6). */
export function parseSpf(record: string): { terms: SpfTerm[]; errors: string[] } {
  const terms: SpfTerm[] = [];
  const errors: string[] = [];
  for (const raw of record.trim().split(/\s+/).slice(1)) {
    const modifier = /^([a-z][a-z0-9_.-]*)=(.*)$/i.exec(raw);
    if (modifier) {
      terms.push({ qualifier: '+', name: modifier[1]!.toLowerCase(), target: modifier[2]!, prefix: null, modifier: true, raw });
      continue;
    }
    const m = /^([+\-~?]?)([a-z0-9]+)(?::([^/]*))?(?:\/(\d{1,3}))?(?:\/\/\d{1,3})?$/i.exec(raw);
    const name = m?.[2]?.toLowerCase();
    if (!m || !name || !['all', 'include', 'a', 'mx', 'ptr', 'ip4', 'ip6', 'exists'].includes(name)) {
      errors.push(`unknown term "${raw}"`);
      continue;
    }
    terms.push({ qualifier: (m[1] || '+') as SpfQualifier, name, target: m[3] ?? null, prefix: m[4] !== undefined ? Number(m[4]) : null, modifier: false, raw });
  }
  return { terms, errors };
}

export interface SpfRecordFound {
  domain: string;
  record: string;
  terms: SpfTerm[];
}

/** The RFC 7208 §4.6.4 limit an evaluation ran into; evaluation stops there, as a receiver's does (permerror). */
export interface SpfLimitHit {
  kind: 'lookups' | 'void';
  /** the term that went over the limit, and the name of the record it is in */
  term: string;
  at: string;
}

export interface SpfExpansion {
  /** DNS-querying terms evaluated, across the record and everything it includes (at most the limit + 1) */
  lookups: number;
  /** lookups that found nothing: NXDOMAIN, or no record of the asked type */
  voidLookups: number;
  /** DNS queries sent while evaluating (an `a` term asks for A and AAAA) */
  queries: number;
  /** the record and every record reached through include: and redirect= */
  records: SpfRecordFound[];
  /** what makes receivers answer permerror: missing or duplicate included records, loops, syntax */
  problems: string[];
  /** set when a limit was reached: nothing after that term was looked up */
  limit: SpfLimitHit | null;
  /** a lookup failed for a reason other than "no such record": the result may change on a later try */
  transient: DnsLookupError | null;
}

/** The SPF records at a name, or null when the lookup found nothing at all (a void lookup). */
async function spfRecordsOrVoid(resolver: Resolver, name: string): Promise<string[] | null> {
  try {
    return (await resolver.resolveTxt(name)).map((chunks) => chunks.join('')).filter(isSpfRecord);
  } catch (err) {
    if (isNoRecord(err)) return null;
    throw err;
  }
}

/** Whether a lookup found anything: false for NXDOMAIN or an empty answer, throws on other failures. */
async function answers(lookup: Promise<readonly unknown[]>): Promise<boolean> {
  try {
    return (await lookup).length > 0;
  } catch (err) {
    if (isNoRecord(err)) return false;
    throw err;
  }
}

class LimitReached extends Error {}

const lookupTarget = (term: SpfTerm, at: string): string | null => {
  const target = (term.target ?? (term.name === 'a' || term.name === 'mx' ? at : '')).toLowerCase().replace(/\.$/, '');
  // macros (%{…}) depend on the sender: their targets cannot be looked up ahead of time
  return target === '' || target.includes('%') ? null : target;
};

/**
 * Evaluates a record the way a receiver does for a sender that matches nothing, which is the most it can
 * cost: terms in order up to `all`, then `redirect=`; includes followed depth-first; every DNS-querying term
 * counted. Like a receiver, it stops at the 11th such term or the 3rd lookup that finds nothing (RFC 7208
 * §4.6.4), so a hostile record costs at most about 20 queries, never one per path through its includes.
 * `a`, `mx` and `exists` are looked up once each (for their void lookups); `ptr` depends on the sender and
 * the addresses of `mx` hosts are not fetched.
 */
export async function expandSpf(resolver: Resolver, domain: string, record: string): Promise<SpfExpansion> {
  const out: SpfExpansion = { lookups: 0, voidLookups: 0, queries: 0, records: [], problems: [], limit: null, transient: null };
  const visiting = new Set<string>();

  const query = <T>(lookup: () => Promise<T>): Promise<T> => {
    out.queries++;
    return lookup();
  };
  const countVoid = (found: boolean, term: SpfTerm, at: string): void => {
    if (found) return;
    out.voidLookups++;
    if (out.voidLookups > SPF_VOID_LOOKUP_LIMIT) {
      out.limit = { kind: 'void', term: term.raw, at };
      throw new LimitReached();
    }
  };

  async function follow(term: SpfTerm, at: string): Promise<void> {
    out.lookups++;
    if (out.lookups > SPF_LOOKUP_LIMIT) {
      out.limit = { kind: 'lookups', term: term.raw, at };
      throw new LimitReached();
    }
    const target = lookupTarget(term, at);
    if (target === null || term.name === 'ptr') return;
    switch (term.name) {
      case 'a': {
        const [v4, v6] = await Promise.allSettled([query(() => answers(resolver.resolve4(target))), query(() => answers(resolver.resolve6(target)))]);
        // one address family is enough: an IPv4-only host is not a void lookup (both failing is)
        if ((v4.status === 'fulfilled' && v4.value) || (v6.status === 'fulfilled' && v6.value)) return;
        const failure = [v4, v6].find((r) => r.status === 'rejected');
        if (failure) throw failure.reason;
        return countVoid(false, term, at);
      }
      case 'exists':
        return countVoid(await query(() => answers(resolver.resolve4(target))), term, at);
      case 'mx': {
        let hosts: number;
        try {
          hosts = (await query(() => resolver.resolveMx(target))).length;
        } catch (err) {
          if (!isNoRecord(err)) throw err;
          hosts = 0;
        }
        if (hosts > SPF_MX_HOST_LIMIT) out.problems.push(`${at}: ${term.raw} names ${hosts} mail hosts, more than the ${SPF_MX_HOST_LIMIT} receivers look up`);
        return countVoid(hosts > 0, term, at);
      }
      default: {
        // include: and redirect=
        if (visiting.has(target)) {
          out.problems.push(`${at}: ${term.raw} loops back to ${target}`);
          return;
        }
        const found = await query(() => spfRecordsOrVoid(resolver, target));
        countVoid(found !== null, term, at);
        if (found === null || found.length === 0) out.problems.push(`${term.raw} names ${target}, which has no SPF record`);
        else if (found.length > 1) out.problems.push(`${term.raw} names ${target}, which has ${found.length} SPF records`);
        else await evaluate(target, found[0]!);
      }
    }
  }

  async function evaluate(at: string, text: string): Promise<void> {
    const { terms, errors } = parseSpf(text);
    out.records.push({ domain: at, record: text, terms });
    out.problems.push(...errors.map((e) => `${at}: ${e}`));
    visiting.add(at);
    const mechanisms = terms.filter((t) => !t.modifier);
    const end = mechanisms.findIndex((t) => t.name === 'all');
    // nothing after `all` is ever evaluated, and `redirect=` only applies to a record without `all` (RFC 7208 §6.1)
    for (const term of end < 0 ? mechanisms : mechanisms.slice(0, end)) if (LOOKUP_TERMS.has(term.name)) await follow(term, at);
    const redirect = terms.find((t) => t.modifier && t.name === 'redirect');
    if (redirect && end < 0) await follow(redirect, at);
    visiting.delete(at);
  }

  try {
    await evaluate(domain.toLowerCase().replace(/\.$/, ''), record);
  } catch (err) {
    if (err instanceof LimitReached) return out;
    out.transient = err instanceof DnsLookupError ? err : new DnsLookupError('EUNKNOWN', domain, 'TXT', err);
  }
  return out;
}

function covers(term: SpfTerm, address: string, prefix: number): boolean {
  const family = term.name === 'ip4' ? 'ipv4' : 'ipv6';
  if (!term.target || (family === 'ipv4' ? !isIPv4(term.target) : !isIPv6(term.target))) return false;
  const max = family === 'ipv4' ? 32 : 128;
  const termPrefix = term.prefix ?? max;
  if (termPrefix > prefix) return false;
  const list = new BlockList();
  list.addSubnet(term.target, termPrefix, family);
  return list.check(address, family);
}

/**
 * Whether the expanded record authorises what `mechanism` authorises: an address inside one of its pass
 * ranges, or the same a/mx/include/exists term anywhere in the records it reaches.
 */
export function spfAuthorises(expansion: SpfExpansion, mechanism: string): boolean {
  const [wanted] = parseSpf(`v=spf1 ${mechanism}`).terms;
  if (!wanted) return false;
  const passing = expansion.records.flatMap((r) => r.terms.filter((t) => !t.modifier && t.qualifier === '+').map((t) => ({ ...t, at: r.domain })));
  if (wanted.name === 'ip4' || wanted.name === 'ip6') {
    const prefix = wanted.prefix ?? (wanted.name === 'ip4' ? 32 : 128);
    return passing.some((t) => t.name === wanted.name && covers(t, wanted.target ?? '', prefix));
  }
  const target = (t: { target: string | null }, at: string) => (t.target ?? at).toLowerCase().replace(/\.$/, '');
  const wantedTarget = wanted.target?.toLowerCase().replace(/\.$/, '') ?? null;
  return passing.some((t) => t.name === wanted.name && (wantedTarget === null || target(t, t.at) === wantedTarget));
}
