import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDnsServer, type TestDnsServer } from '../../../test/support/dns-server.js';
import { DEADLINE_EXCEEDED, resolverUntil } from './deadline.js';
import { createResolver, DnsLookupError } from './resolver.js';
import { expandSpf, SPF_LOOKUP_LIMIT } from './spf.js';

const LEVELS = 10;
const WIDTH = 4;
const treeName = (level: number, i: number) => `l${level}-${i}.tree.test`;
const includesOf = (level: number) => Array.from({ length: WIDTH }, (_, i) => `include:${treeName(level, i)}`).join(' ');

/** The record the review published: 4 includes per level, 10 levels deep (4^10 paths through its includes). */
function publishTree(dns: TestDnsServer): string {
  for (let level = 1; level <= LEVELS; level++) {
    for (let i = 0; i < WIDTH; i++) dns.set(treeName(level, i), 'TXT', [level === LEVELS ? 'v=spf1 ip4:192.0.2.1 ~all' : `v=spf1 ${includesOf(level + 1)} ~all`]);
  }
  return `v=spf1 ${includesOf(1)} ~all`;
}

describe('SPF evaluation limits (RFC 7208 §4.6.4)', () => {
  let dns: TestDnsServer;
  beforeAll(async () => {
    dns = await startDnsServer({
      'v6only.test': { AAAA: ['2001:db8::25'] },
      'mailer.test': { A: ['198.51.100.25'] },
      'unused.test': { TXT: ['v=spf1 a:after-all.test ~all'] },
    });
  });
  afterAll(() => dns?.close());
  const resolver = () => createResolver([dns.server], { timeoutMs: 1000, tries: 1 });
  const queriedNames = (from: number) => dns.queries.slice(from).map((q) => q.name.toLowerCase());

  it('stops the review’s tree (4 includes per level, 10 levels) at the 11th lookup, after 10 queries', async () => {
    const record = publishTree(dns);
    const before = dns.queries.length;
    const e = await expandSpf(resolver(), 'tree.test', record);
    expect(e.limit).toEqual({ kind: 'lookups', term: `include:${treeName(LEVELS, 1)}`, at: treeName(LEVELS - 1, 0) });
    expect(e.lookups).toBe(SPF_LOOKUP_LIMIT + 1);
    expect(e.queries).toBe(SPF_LOOKUP_LIMIT);
    expect(dns.queries.length - before).toBe(SPF_LOOKUP_LIMIT);
    expect(e.transient).toBeNull();
  });

  it('stops at the third lookup that finds nothing, and never looks up what follows', async () => {
    const before = dns.queries.length;
    const e = await expandSpf(resolver(), 'void.test', 'v=spf1 a:gone1.test mx:gone2.test exists:gone3.test include:never-asked.test ~all');
    expect(e.limit).toEqual({ kind: 'void', term: 'exists:gone3.test', at: 'void.test' });
    expect(e.voidLookups).toBe(3);
    expect(queriedNames(before)).not.toContain('never-asked.test');
    // an include whose name does not exist is void as well as broken
    const include = await expandSpf(resolver(), 'void.test', 'v=spf1 include:gone4.test a:gone5.test a:gone6.test ~all');
    expect(include.limit).toMatchObject({ kind: 'void', term: 'a:gone6.test' });
    expect(include.problems.join()).toContain('gone4.test, which has no SPF record');
  });

  it('allows two void lookups, and a host with only an IPv6 address is not void', async () => {
    const e = await expandSpf(resolver(), 'ok.test', 'v=spf1 a:gone1.test exists:gone3.test a:v6only.test a:mailer.test ~all');
    expect(e.limit).toBeNull();
    expect(e.voidLookups).toBe(2);
    expect(e.lookups).toBe(4);
    expect(e.problems).toEqual([]);
  });

  it('evaluates nothing after `all`, and ignores redirect= in a record that has `all`', async () => {
    const before = dns.queries.length;
    const e = await expandSpf(resolver(), 'all.test', 'v=spf1 a:mailer.test -all include:unused.test redirect=unused.test');
    expect(e.lookups).toBe(1);
    expect(e.records.map((r) => r.domain)).toEqual(['all.test']);
    expect(queriedNames(before)).not.toContain('unused.test');
  });

  it('reports a DNS failure as transient and stops there', async () => {
    dns.setFailure('servfail.test', 'SERVFAIL');
    const before = dns.queries.length;
    const e = await expandSpf(resolver(), 'x.test', 'v=spf1 include:servfail.test include:after.test ~all');
    expect(e.transient?.code).toBe('ESERVFAIL');
    expect(queriedNames(before)).not.toContain('after.test');
  });
});

describe('resolverUntil', () => {
  let dns: TestDnsServer;
  beforeAll(async () => {
    dns = await startDnsServer({ 'fine.test': { A: ['198.51.100.7'] } });
    dns.setFailure('silent.test', 'TIMEOUT');
  });
  afterAll(() => dns?.close());

  it('ends waiting lookups when the deadline passes and sends no new ones', async () => {
    const deadline = new AbortController();
    // without the deadline this lookup would wait 2 × 5 s for a server that never answers
    const bounded = resolverUntil(createResolver([dns.server], { timeoutMs: 5000, tries: 2 }), deadline.signal);
    expect(await bounded.resolve4('fine.test')).toEqual(['198.51.100.7']);
    const waiting = bounded.resolveTxt('silent.test');
    setTimeout(() => deadline.abort(), 100);
    const err: unknown = await waiting.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DnsLookupError);
    expect((err as DnsLookupError).code).toBe(DEADLINE_EXCEEDED);
    const sent = dns.queries.length;
    await expect(bounded.resolve4('fine.test')).rejects.toMatchObject({ code: DEADLINE_EXCEEDED });
    expect(dns.queries.length).toBe(sent);
  });
});
