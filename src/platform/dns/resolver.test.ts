import dgram from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDnsServer, type TestDnsServer } from '../../../test/support/dns-server.js';
import { DnsLookupError, createResolver, isNoRecord, parseDnsServers, type Resolver } from './resolver.js';

async function rejection(promise: Promise<unknown>): Promise<DnsLookupError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(DnsLookupError);
    return err as DnsLookupError;
  }
  throw new Error('expected the lookup to fail');
}

describe('parseDnsServers', () => {
  it('normalises IPv4 and bracketed IPv6 entries to ip:port, defaulting to port 53', () => {
    expect(parseDnsServers('1.1.1.1, 127.0.0.1:5300,[::1]:53,[2001:db8::1]')).toEqual([
      '1.1.1.1:53',
      '127.0.0.1:5300',
      '[::1]:53',
      '[2001:db8::1]:53',
    ]);
  });

  it('rejects bad entries with a message naming the entry', () => {
    expect(() => parseDnsServers('dns.google')).toThrow(/"dns.google".*IPv4 address or a bracketed IPv6/);
    expect(() => parseDnsServers('1.1.1.1:0')).toThrow(/"1.1.1.1:0": port must be/);
    expect(() => parseDnsServers('1.1.1.1:99999')).toThrow(/port must be/);
    expect(() => parseDnsServers('1.1.1.1:53x')).toThrow(/port must be/);
    expect(() => parseDnsServers('256.1.1.1')).toThrow(/"256.1.1.1"/);
    expect(() => parseDnsServers('::1')).toThrow(/brackets, e.g. \[::1\]:53/);
    expect(() => parseDnsServers('[not-ipv6]:53')).toThrow(/not an IPv6 address/);
    expect(() => parseDnsServers('1.1.1.1,,8.8.8.8')).toThrow(/empty entry/);
    expect(() => parseDnsServers('  ')).toThrow(/no DNS servers/);
  });
});

describe('createResolver against a local DNS server', () => {
  let dns: TestDnsServer;
  let resolver: Resolver;
  const longKey = `v=DKIM1; k=rsa; p=${'A'.repeat(400)}`;

  beforeAll(async () => {
    dns = await startDnsServer({
      'example.test': {
        MX: [
          { exchange: 'mx2.example.test', priority: 20 },
          { exchange: 'mx1.example.test', priority: 10 },
        ],
        TXT: ['v=spf1 ip4:127.0.0.1 -all'],
      },
      'mx1.example.test': { A: ['127.0.0.1', '127.0.0.3'], AAAA: ['::1'] },
      'www.example.test': { CNAME: ['mx1.example.test'] },
      'sel._domainkey.example.test': { TXT: [longKey] },
      'nullmx.test': { MX: [{ exchange: '.', priority: 0 }] },
    });
    resolver = createResolver([dns.server], { timeoutMs: 1000, tries: 1 });
  });
  afterAll(async () => {
    await dns?.close();
  });

  it('reports the servers it uses', () => {
    expect(resolver.servers).toEqual([dns.server]);
    expect(createResolver().servers).toBeNull();
  });

  it('resolves MX, A, AAAA and CNAME records', async () => {
    expect((await resolver.resolveMx('example.test')).sort((a, b) => a.priority - b.priority)).toEqual([
      { exchange: 'mx1.example.test', priority: 10 },
      { exchange: 'mx2.example.test', priority: 20 },
    ]);
    expect((await resolver.resolve4('mx1.example.test')).sort()).toEqual(['127.0.0.1', '127.0.0.3']);
    expect(await resolver.resolve6('mx1.example.test')).toEqual(['::1']);
    expect(await resolver.resolveCname('www.example.test')).toEqual(['mx1.example.test']);
    expect((await resolver.resolve4('www.example.test')).sort()).toEqual(['127.0.0.1', '127.0.0.3']);
    expect(await resolver.resolve('nullmx.test', 'MX')).toEqual([{ exchange: '', priority: 0 }]);
  });

  it('returns long TXT records as several character-strings that join to the value', async () => {
    const [record] = await resolver.resolveTxt('sel._domainkey.example.test');
    expect(record?.length).toBeGreaterThan(1);
    expect(record?.join('')).toBe(longKey);
    expect(await resolver.resolveTxt('example.test')).toEqual([['v=spf1 ip4:127.0.0.1 -all']]);
  });

  it('tells NXDOMAIN and NODATA apart from failures', async () => {
    const nxdomain = await rejection(resolver.resolveMx('missing.example.test'));
    expect(nxdomain).toMatchObject({ code: 'ENOTFOUND', hostname: 'missing.example.test', rrtype: 'MX' });
    expect(isNoRecord(nxdomain)).toBe(true);

    const nodata = await rejection(resolver.resolveTxt('mx1.example.test'));
    expect(nodata.code).toBe('ENODATA');
    expect(isNoRecord(nodata)).toBe(true);

    // _domainkey.example.test only exists because a name below it does (empty non-terminal)
    expect((await rejection(resolver.resolveTxt('_domainkey.example.test'))).code).toBe('ENODATA');

    dns.setFailure('broken.example.test', 'SERVFAIL');
    const servfail = await rejection(resolver.resolve4('broken.example.test'));
    expect(servfail.code).toBe('ESERVFAIL');
    expect(isNoRecord(servfail)).toBe(false);
  });

  it('answers the generic resolve() like node:dns, and refuses types it does not support', async () => {
    expect(await resolver.resolve('example.test', 'TXT')).toEqual([['v=spf1 ip4:127.0.0.1 -all']]);
    const unsupported = await rejection(resolver.resolve('example.test', 'SOA' as never));
    expect(unsupported.code).toBe('ENOTIMP');
  });
});

describe('createResolver timeouts', () => {
  it('reports ETIMEOUT when the server never answers', async () => {
    // A UDP socket that reads queries and never replies.
    const blackhole = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => blackhole.bind(0, '127.0.0.1', resolve));
    const { port } = blackhole.address();
    try {
      const resolver = createResolver([`127.0.0.1:${port}`], { timeoutMs: 200, tries: 1 });
      const started = Date.now();
      const err = await rejection(resolver.resolveMx('example.test'));
      expect(err.code).toBe('ETIMEOUT');
      expect(isNoRecord(err)).toBe(false);
      expect(Date.now() - started).toBeLessThan(3000);
    } finally {
      await new Promise<void>((resolve) => blackhole.close(() => resolve()));
    }
  });
});
