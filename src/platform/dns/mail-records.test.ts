import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDnsServer, type TestDnsServer } from '../../../test/support/dns-server.js';
import { parseDmarc } from './dmarc.js';
import { domainOfAddress, isWithinDomain, normalizeDomainName } from './domain-name.js';
import { createResolver } from './resolver.js';
import { expandSpf, parseSpf, spfAuthorises } from './spf.js';

describe('domain names', () => {
  it('normalises by syntax alone', () => {
    expect(normalizeDomainName(' Mail.Example.TEST. ')).toEqual({ ok: true, ascii: 'mail.example.test', unicode: 'mail.example.test' });
    expect(normalizeDomainName('bücher.example')).toMatchObject({ ok: true, ascii: 'xn--bcher-kva.example', unicode: 'bücher.example' });
    for (const bad of ['', 'localhost', '10.0.0.1', '::1', 'a_b.test', 'x.123', `${'a'.repeat(64)}.test`, 'https://x.test', 'x.test:25']) {
      expect(normalizeDomainName(bad).ok, bad).toBe(false);
    }
  });

  it('finds the domain of an address and tells whether a name is at or below a domain', () => {
    expect(domainOfAddress('Shop@Bücher.Example')).toBe('xn--bcher-kva.example');
    expect(isWithinDomain('news.shop.test', 'shop.test')).toBe(true);
    expect(isWithinDomain('shop.test', 'shop.test')).toBe(true);
    expect(isWithinDomain('myshop.test', 'shop.test')).toBe(false);
  });
});

describe('DMARC records', () => {
  it('accepts valid records and explains syntax errors', () => {
    expect(parseDmarc('v=DMARC1; p=none; rua=mailto:r@example.test')).toMatchObject({ ok: true, record: { policy: 'none' } });
    expect(parseDmarc('v=DMARC1;p=reject;pct=25;adkim=s;aspf=r;fo=1:d;unknown=kept;')).toMatchObject({ ok: true });
    const errors: [string, string][] = [
      ['v=DMARC1; p=maybe', 'p= must be'],
      ['p=none; v=DMARC1', 'must start with v=DMARC1'],
      ['v=DMARC1; rua=mailto:r@example.test', 'p= (the policy) is missing'],
      ['v=DMARC1; p=none; pct=150', 'pct='],
      ['v=DMARC1; p=none; rua=r@example.test', 'invalid URI'],
      ['v=DMARC1; p=none; p=reject', 'appears twice'],
      ['v=DMARC1; p=none; junk', 'not a tag=value pair'],
    ];
    for (const [record, message] of errors) {
      const parsed = parseDmarc(record);
      expect(parsed.ok, record).toBe(false);
      if (!parsed.ok) expect(parsed.error).toContain(message);
    }
  });
});

describe('SPF records', () => {
  let dns: TestDnsServer;
  beforeAll(async () => {
    dns = await startDnsServer({
      'inc.test': { TXT: ['v=spf1 ip4:198.51.100.0/24 include:deep.test ~all'] },
      'deep.test': { TXT: ['v=spf1 a mx ~all'], A: ['198.51.100.1'], MX: [{ exchange: 'mx.deep.test', priority: 10 }] },
      'x.test': { A: ['198.51.100.2'] },
      'loop-a.test': { TXT: ['v=spf1 include:loop-b.test ~all'] },
      'loop-b.test': { TXT: ['v=spf1 include:loop-a.test ~all'] },
      'redirected.test': { TXT: ['v=spf1 ip6:2001:db8::/32 -all'] },
    });
  });
  afterAll(() => dns?.close());
  const resolver = () => createResolver([dns.server]);

  it('parses terms and reports unknown mechanisms', () => {
    const { terms, errors } = parseSpf('v=spf1 +a:mail.test/24 -ip4:192.0.2.1 ~all exp=explain.test bogus:x');
    expect(terms.map((t) => `${t.qualifier}${t.name}`)).toEqual(['+a', '-ip4', '~all', '+exp']);
    expect(terms[0]).toMatchObject({ target: 'mail.test', prefix: 24 });
    expect(errors).toEqual(['unknown term "bogus:x"']);
  });

  it('counts lookups through includes and redirects, and finds loops and missing includes', async () => {
    const e = await expandSpf(resolver(), 'x.test', 'v=spf1 include:inc.test a:x.test redirect=redirected.test');
    expect(e.lookups).toBe(6); // include, a:, redirect + inside inc: include + inside deep: a, mx
    expect(e.problems).toEqual([]);
    const loop = await expandSpf(resolver(), 'loop-a.test', 'v=spf1 include:loop-b.test ~all');
    expect(loop.problems.join()).toContain('loops back to loop-a.test');
    const gone = await expandSpf(resolver(), 'x.test', 'v=spf1 include:nothing-here.test ~all');
    expect(gone.problems.join()).toContain('has no SPF record');
  });

  it('tells whether our mechanisms are authorised, by range or by the same term anywhere in the tree', async () => {
    const e = await expandSpf(resolver(), 'x.test', 'v=spf1 ip4:10.0.0.0/8 -ip4:192.0.2.7 include:inc.test redirect=redirected.test');
    expect(spfAuthorises(e, 'ip4:10.1.2.3')).toBe(true);
    expect(spfAuthorises(e, 'ip4:198.51.100.9')).toBe(true); // through the include
    expect(spfAuthorises(e, 'ip6:2001:db8::1')).toBe(true); // through the redirect
    expect(spfAuthorises(e, 'ip4:192.0.2.7')).toBe(false); // a fail qualifier authorises nothing
    expect(spfAuthorises(e, 'ip4:10.0.0.0/4')).toBe(false); // wider than what is published
    expect(spfAuthorises(e, 'include:inc.test')).toBe(true);
    expect(spfAuthorises(e, 'a:relay.test')).toBe(false);
  });
});
