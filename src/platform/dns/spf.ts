import { BlockList, isIPv4, isIPv6 } from 'node:net';
import { DnsLookupError, isNoRecord, type Resolver } from './resolver.js';

/** RFC 7208 §4.6.4: evaluating a record may cause at most 10 DNS-querying terms, includes counted recursively. */
export const SPF_LOOKUP_LIMIT = 10;

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

export interface SpfExpansion {
  /** DNS-querying terms across the record and everything it includes */
  lookups: number;
  /** the record and every record reached through include: and redirect= */
  records: SpfRecordFound[];
  /** what makes receivers answer permerror: missing or duplicate included records, loops, syntax */
  problems: string[];
  /** a lookup failed for a reason other than "no such record": the result may change on a later try */
  transient: DnsLookupError | null;
}

/** The SPF records published at a name (a valid name has exactly one). */
export async function spfRecordsAt(resolver: Resolver, name: string): Promise<string[]> {
  try {
    return (await resolver.resolveTxt(name)).map((chunks) => chunks.join('')).filter(isSpfRecord);
  } catch (err) {
    if (isNoRecord(err)) return [];
    throw err;
  }
}

/**
 * Follows include: and redirect= through DNS and counts the lookups evaluating the record would cost, as
 * receivers do, so a record that breaks the 10-lookup limit is caught before mail starts failing SPF.
 */
export async function expandSpf(resolver: Resolver, domain: string, record: string): Promise<SpfExpansion> {
  const out: SpfExpansion = { lookups: 0, records: [], problems: [], transient: null };
  const visiting = new Set<string>();

  async function walk(at: string, text: string, depth: number): Promise<void> {
    const { terms, errors } = parseSpf(text);
    out.records.push({ domain: at, record: text, terms });
    out.problems.push(...errors.map((e) => `${at}: ${e}`));
    visiting.add(at);
    for (const term of terms) {
      if (!LOOKUP_TERMS.has(term.name)) continue;
      out.lookups++;
      if (term.name !== 'include' && term.name !== 'redirect') continue;
      const target = term.target?.toLowerCase().replace(/\.$/, '');
      // macros (%{…}) depend on the sender; their targets cannot be followed ahead of time
      if (!target || target.includes('%')) continue;
      if (visiting.has(target)) {
        out.problems.push(`${at}: ${term.raw} loops back to ${target}`);
        continue;
      }
      if (depth >= SPF_LOOKUP_LIMIT) continue;
      let found: string[];
      try {
        found = await spfRecordsAt(resolver, target);
      } catch (err) {
        out.transient ??= err instanceof DnsLookupError ? err : new DnsLookupError('EUNKNOWN', target, 'TXT', err);
        continue;
      }
      if (found.length === 0) out.problems.push(`${term.raw} names ${target}, which has no SPF record`);
      else if (found.length > 1) out.problems.push(`${term.raw} names ${target}, which has ${found.length} SPF records`);
      else await walk(target, found[0]!, depth + 1);
    }
    visiting.delete(at);
  }

  await walk(domain.toLowerCase(), record, 0);
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
