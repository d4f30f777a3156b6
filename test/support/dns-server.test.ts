import { Resolver } from 'node:dns/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TCPClient } from 'dns2';
import { splitCharacterStrings, startDnsServer, type TestDnsServer } from './dns-server.js';

describe('splitCharacterStrings', () => {
  it('cuts at 255 bytes without splitting a UTF-8 sequence', () => {
    expect(splitCharacterStrings('a'.repeat(600)).map((s) => s.length)).toEqual([255, 255, 90]);
    const chunks = splitCharacterStrings('é'.repeat(200)); // 2 bytes each
    expect(chunks.map((s) => Buffer.byteLength(s))).toEqual([254, 146]);
    expect(chunks.join('')).toBe('é'.repeat(200));
    expect(splitCharacterStrings('')).toEqual(['']);
  });
});

describe('test DNS server', () => {
  let dns: TestDnsServer;
  let resolver: Resolver;

  beforeAll(async () => {
    dns = await startDnsServer({
      'big.test': { TXT: ['a'.repeat(300), 'b'.repeat(300), 'c'.repeat(300)] },
      'a.test': { CNAME: ['b.test'] },
      'b.test': { CNAME: ['c.test'] },
      'c.test': { A: ['192.0.2.7'] },
    });
    resolver = new Resolver({ timeout: 1000, tries: 1 });
    resolver.setServers([dns.server]);
  });
  afterAll(async () => {
    await dns?.close();
  });

  it('listens on 127.0.0.1 with UDP and TCP on the same port, avoiding mDNS', () => {
    expect(dns.address).toBe('127.0.0.1');
    expect(dns.server).toBe(`127.0.0.1:${dns.port}`);
    expect(dns.port).not.toBe(5353);
  });

  it('answers over TCP directly', async () => {
    const query = TCPClient({ dns: '127.0.0.1', port: dns.port });
    const response = await query('c.test', 'A');
    expect(response.answers.map((a) => a.address)).toEqual(['192.0.2.7']);
  });

  it('truncates large UDP answers so resolvers retry over TCP on the same port', async () => {
    dns.queries.length = 0;
    const records = await resolver.resolveTxt('big.test');
    expect(records.map((r) => r.join('').length)).toEqual([300, 300, 300]);
    expect(dns.queries.map((q) => q.transport)).toEqual(['udp', 'tcp']);
  });

  it('follows CNAME chains within the zone', async () => {
    expect(await resolver.resolve4('a.test')).toEqual(['192.0.2.7']);
    expect(await resolver.resolveCname('a.test')).toEqual(['b.test']);
  });

  it('can change records while running', async () => {
    dns.set('late.test', 'MX', [{ exchange: 'mx.late.test', priority: 5 }]);
    expect(await resolver.resolveMx('late.test')).toEqual([{ exchange: 'mx.late.test', priority: 5 }]);
    dns.clear('late.test', 'MX');
    await expect(resolver.resolveMx('late.test')).rejects.toMatchObject({ code: 'ENODATA' });
    dns.clear('late.test');
    await expect(resolver.resolveMx('late.test')).rejects.toMatchObject({ code: 'ENOTFOUND' });
  });

  it('can simulate a server that never answers', async () => {
    dns.setFailure('slow.test', 'TIMEOUT');
    const quick = new Resolver({ timeout: 150, tries: 1 });
    quick.setServers([dns.server]);
    await expect(quick.resolve4('slow.test')).rejects.toMatchObject({ code: 'ETIMEOUT' });
    dns.setFailure('slow.test', null);
    await expect(quick.resolve4('slow.test')).rejects.toMatchObject({ code: 'ENOTFOUND' });
  });
});
