import { looksLikeDmarc, parseDmarc } from '../../platform/dns/dmarc.js';
import { isDeadlineExceeded, resolverUntil } from '../../platform/dns/deadline.js';
import { DnsLookupError, isNoRecord, type Resolver } from '../../platform/dns/resolver.js';
import { expandSpf, isSpfRecord, parseSpf, spfAuthorises, SPF_LOOKUP_LIMIT, SPF_VOID_LOOKUP_LIMIT, type SpfLimitHit } from '../../platform/dns/spf.js';
import { parseDkimRecord } from '../../platform/mail/dkim/dkim-keys.js';
import type { DnsRecordSpec, RecordPurpose } from './dns-records.js';

export type CheckStatus = 'verified' | 'failed' | 'temporary_failure';

/** One record's check: what DNS answered next to what we expect, and in words why it fails. */
export interface RecordCheck {
  purpose: RecordPurpose;
  type: 'TXT' | 'MX';
  name: string;
  selector?: string;
  status: CheckStatus;
  expected: string;
  found: string[];
  reason: string | null;
  checked_at: string;
}

type Outcome = Pick<RecordCheck, 'status' | 'found' | 'reason'>;

const MAX_CNAME_HOPS = 8;

const verified = (found: string[]): Outcome => ({ status: 'verified', found, reason: null });
const failed = (found: string[], reason: string): Outcome => ({ status: 'failed', found, reason });
const transient = (err: unknown, name: string): Outcome => ({
  status: 'temporary_failure',
  found: [],
  reason: `DNS lookup for ${name} failed (${err instanceof DnsLookupError ? err.code : 'error'}); it will be checked again`,
});
const timedOut = (timeLimitMs: number): Outcome => ({
  status: 'temporary_failure',
  found: [],
  reason: `Not checked: the verification timed out, DNS did not answer within its time limit of ${Math.round(timeLimitMs / 100) / 10} seconds; it will be checked again`,
});

/** The CNAMEs a name goes through; a loop or an overlong chain is reported as such. */
async function cnameChain(resolver: Resolver, name: string): Promise<{ hops: string[]; problem: string | null }> {
  const hops: string[] = [];
  const seen = new Set([name.toLowerCase()]);
  let current = name;
  for (;;) {
    let target: string | undefined;
    try {
      [target] = await resolver.resolveCname(current);
    } catch {
      // no CNAME here (or the lookup failed, which the record lookup will report)
      return { hops, problem: null };
    }
    if (!target) return { hops, problem: null };
    target = target.toLowerCase().replace(/\.$/, '');
    hops.push(target);
    if (seen.has(target)) return { hops, problem: `${name} is a CNAME chain that loops (${[name, ...hops].join(' → ')})` };
    if (hops.length > MAX_CNAME_HOPS) return { hops, problem: `${name} is a CNAME chain longer than ${MAX_CNAME_HOPS} hops` };
    seen.add(target);
    current = target;
  }
}

const cnameNote = (spec: DnsRecordSpec, hops: string[]): string =>
  hops.length === 0
    ? ''
    : ` ${spec.name} is a CNAME (${[spec.name, ...hops].join(' → ')}), so DNS answers with the records of ${hops[hops.length - 1]}; ` +
      `delete the CNAME and publish the ${spec.type} record at ${spec.name} itself.`;

async function txtAt(resolver: Resolver, name: string): Promise<string[] | 'missing'> {
  try {
    return (await resolver.resolveTxt(name)).map((chunks) => chunks.join(''));
  } catch (err) {
    if (isNoRecord(err)) return 'missing';
    throw err;
  }
}

const missing = (spec: DnsRecordSpec, hops: string[]): Outcome =>
  failed([], `No ${spec.type} record found at ${spec.name}. Add: ${spec.type} ${spec.name} "${spec.value}".${cnameNote(spec, hops)}`);

/** Puts mechanisms before the record's final all (or redirect), to suggest a merged record. */
function withMechanisms(record: string, add: string[]): string {
  const terms = record.trim().split(/\s+/);
  const at = terms.findIndex((t, i) => i > 0 && (/^[+\-~?]?all$/i.test(t) || /^redirect=/i.test(t)));
  if (at < 0) return [...terms, ...add].join(' ');
  return [...terms.slice(0, at), ...add, ...terms.slice(at)].join(' ');
}

/** Why a record that runs into an RFC 7208 §4.6.4 limit fails everywhere, and what to do about it. */
function spfLimitReason(name: string, hit: SpfLimitHit): string {
  const where = hit.at === name ? 'in it' : `in the record at ${hit.at}`;
  if (hit.kind === 'lookups') {
    return (
      `The SPF record at ${name} needs more than ${SPF_LOOKUP_LIMIT} DNS lookups (include, a, mx, ptr, exists and redirect, counted through every include): ` +
      `receivers stop at the ${SPF_LOOKUP_LIMIT}-lookup limit and SPF fails with a permanent error (RFC 7208 §4.6.4); the lookup over the limit is "${hit.term}" ${where}. ` +
      `Remove includes you no longer use, or replace them with ip4:/ip6: ranges.`
    );
  }
  return (
    `The SPF record at ${name} makes more than ${SPF_VOID_LOOKUP_LIMIT} DNS lookups that find nothing (names that do not exist or have no such record): ` +
    `receivers allow ${SPF_VOID_LOOKUP_LIMIT} and SPF fails with a permanent error (RFC 7208 §4.6.4); the one over the limit is "${hit.term}" ${where}. ` +
    `Remove the terms that name hosts or domains that no longer exist.`
  );
}

async function checkSpf(resolver: Resolver, spec: DnsRecordSpec, mechanisms: string[], hops: string[]): Promise<Outcome> {
  const txt = await txtAt(resolver, spec.name);
  if (txt === 'missing') return missing(spec, hops);
  const spf = txt.filter(isSpfRecord);
  if (spf.length === 0) return failed(txt, `No SPF record (a TXT record starting with "v=spf1") among the TXT records at ${spec.name}. Add: "${spec.value}".${cnameNote(spec, hops)}`);
  if (spf.length > 1) {
    return failed(spf, `Two SPF records at ${spec.name}: receivers treat that as a permanent error and SPF fails for all your mail (RFC 7208 §4.5). Merge them into one record.`);
  }
  const record = spf[0]!;
  const syntax = parseSpf(record).errors;
  if (syntax.length > 0) return failed(spf, `SPF syntax error at ${spec.name}: ${syntax.join('; ')}.`);
  const expansion = await expandSpf(resolver, spec.name, record);
  if (expansion.transient) {
    if (isDeadlineExceeded(expansion.transient)) throw expansion.transient;
    return { ...transient(expansion.transient, expansion.transient.hostname), found: spf };
  }
  if (expansion.limit) return failed(spf, spfLimitReason(spec.name, expansion.limit));
  if (expansion.problems.length > 0) return failed(spf, `The SPF record at ${spec.name} is broken: ${expansion.problems.join('; ')}.`);
  const absent = mechanisms.filter((m) => !spfAuthorises(expansion, m));
  if (absent.length > 0) {
    return failed(spf, `The SPF record at ${spec.name} does not authorise ${absent.join(' ')}, which our mail is sent from. Change it to: "${withMechanisms(record, absent)}".${cnameNote(spec, hops)}`);
  }
  return verified(spf);
}

async function checkDkim(resolver: Resolver, spec: DnsRecordSpec, publicKey: string, hops: string[]): Promise<Outcome> {
  const txt = await txtAt(resolver, spec.name);
  if (txt === 'missing') return missing(spec, hops);
  const keys = txt.filter((r) => /(^|;)\s*p\s*=/i.test(r) || /v\s*=\s*DKIM1/i.test(r));
  if (keys.length === 0) return failed(txt, `The TXT record at ${spec.name} is not a DKIM key (it has no p= tag). Replace it with: "${spec.value}".${cnameNote(spec, hops)}`);
  if (keys.length > 1) return failed(keys, `${keys.length} DKIM records at ${spec.name}: receivers may pick any of them. Keep only: "${spec.value}".`);
  const tags = parseDkimRecord(keys[0]!);
  if (tags.v !== undefined && tags.v !== 'DKIM1') return failed(keys, `The DKIM record at ${spec.name} must start with v=DKIM1 (found v=${tags.v}).`);
  if (tags.k !== undefined && tags.k.toLowerCase() !== 'rsa') return failed(keys, `The DKIM record at ${spec.name} is for k=${tags.k} keys; ours is k=rsa.`);
  if (!tags.p) return failed(keys, `The DKIM record at ${spec.name} has an empty p= (a revoked key). Replace it with: "${spec.value}".`);
  if (tags.p !== publicKey) {
    return failed(
      keys,
      `DKIM key mismatch: the key published at ${spec.name} (p=${tags.p.slice(0, 12)}…${tags.p.slice(-8)}) is not this domain's key ` +
        `(p=${publicKey.slice(0, 12)}…${publicKey.slice(-8)}). Copy the whole value again: it is often cut short when pasted.${cnameNote(spec, hops)}`,
    );
  }
  return verified(keys);
}

async function checkDmarc(resolver: Resolver, spec: DnsRecordSpec, hops: string[]): Promise<Outcome> {
  const txt = await txtAt(resolver, spec.name);
  if (txt === 'missing') return missing(spec, hops);
  const dmarc = txt.filter(looksLikeDmarc);
  if (dmarc.length === 0) return failed(txt, `No DMARC record (a TXT record starting with "v=DMARC1") at ${spec.name}. Add: "${spec.value}".`);
  if (dmarc.length > 1) return failed(dmarc, `${dmarc.length} DMARC records at ${spec.name}: receivers ignore DMARC when there is more than one. Keep one.`);
  const parsed = parseDmarc(dmarc[0]!);
  if (!parsed.ok) return failed(dmarc, `DMARC syntax error at ${spec.name}: ${parsed.error}. For example: "${spec.value}".`);
  return verified(dmarc);
}

async function checkMx(resolver: Resolver, spec: DnsRecordSpec, exchange: string, hops: string[]): Promise<Outcome> {
  let records;
  try {
    records = await resolver.resolveMx(spec.name);
  } catch (err) {
    if (isNoRecord(err)) return missing(spec, hops);
    throw err;
  }
  const found = records.map((r) => `${r.priority} ${r.exchange || '.'}`);
  if (hops.length > 0) return failed(found, `An MX record cannot share a name with a CNAME.${cnameNote(spec, hops)}`);
  if (records.length === 0) return missing(spec, hops);
  const wanted = exchange.toLowerCase();
  if (records.some((r) => r.exchange.toLowerCase().replace(/\.$/, '') === wanted)) return verified(found);
  return failed(found, `The MX record at ${spec.name} points to ${found.join(', ')}; bounces must reach ${exchange}. Set: MX ${spec.name} ${spec.priority} ${exchange}.`);
}

/**
 * Checks one record against DNS. Never throws: a DNS failure is a temporary_failure with its reason, as is a
 * check cut short by the verification's time limit (`timeLimitMs`, for the reason).
 */
export async function checkRecord(resolver: Resolver, spec: DnsRecordSpec, now = new Date(), timeLimitMs = 0): Promise<RecordCheck> {
  let outcome: Outcome;
  try {
    const chain = await cnameChain(resolver, spec.name);
    if (chain.problem) outcome = failed([], `${chain.problem}; delete the CNAME and publish the ${spec.type} record at ${spec.name} itself.`);
    else {
      const e = spec.expect;
      outcome =
        e.kind === 'spf'
          ? await checkSpf(resolver, spec, e.mechanisms, chain.hops)
          : e.kind === 'dkim'
            ? await checkDkim(resolver, spec, e.publicKey, chain.hops)
            : e.kind === 'dmarc'
              ? await checkDmarc(resolver, spec, chain.hops)
              : e.kind === 'mx'
                ? await checkMx(resolver, spec, e.exchange, chain.hops)
                : verified([]);
    }
  } catch (err) {
    outcome = isDeadlineExceeded(err) ? timedOut(timeLimitMs) : transient(err, spec.name);
  }
  return recordCheck(spec, outcome, now);
}

function recordCheck(spec: DnsRecordSpec, outcome: Outcome, now: Date): RecordCheck {
  return {
    purpose: spec.purpose,
    type: spec.type,
    name: spec.name,
    ...(spec.selector ? { selector: spec.selector } : {}),
    expected: spec.type === 'MX' ? `${spec.priority} ${spec.value}` : spec.value,
    ...outcome,
    checked_at: now.toISOString(),
  };
}

/**
 * Checks records that need checking (a retiring key is only informational), all at once, within `timeLimitMs`:
 * when it runs out, lookups still waiting are abandoned, no new one is sent, and every record not checked by
 * then is a temporary_failure saying it timed out.
 */
export async function checkRecords(resolver: Resolver, specs: DnsRecordSpec[], opts: { timeLimitMs: number; now?: Date }): Promise<RecordCheck[]> {
  const now = opts.now ?? new Date();
  const deadline = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const expiry = new Promise<'expired'>((resolve) => {
    timer = setTimeout(() => {
      resolve('expired');
      deadline.abort();
    }, opts.timeLimitMs);
  });
  const bounded = resolverUntil(resolver, deadline.signal);
  try {
    return await Promise.all(
      specs
        .filter((s) => s.expect.kind !== 'none')
        .map(async (s) => {
          // the race is a backstop: the bounded resolver already ends every lookup at the deadline
          const result = await Promise.race([checkRecord(bounded, s, now, opts.timeLimitMs), expiry]);
          return result === 'expired' ? recordCheck(s, timedOut(opts.timeLimitMs), now) : result;
        }),
    );
  } finally {
    clearTimeout(timer);
    deadline.abort();
  }
}
