import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startDnsServer, type TestDnsServer } from '../../../test/support/dns-server.js';
import { startSmtpSink, type SmtpSink } from '../../../test/support/smtp-sink.js';
import { createResolver, type Resolver } from '../dns/resolver.js';
import { createMxTransport, type MxTransportOptions } from './mx-transport.js';
import type { Transport } from './types.js';

const raw = Buffer.from('From: shop@example.test\r\nTo: alice@example.test\r\nSubject: direct\r\n\r\nHello\r\n');

/*
 * 127.0.0.1 is the sink. 127.0.0.2 is also loopback on Linux, but nothing listens there on the
 * sink's port, so it stands in for a mail host that refuses connections. Both are loopback addresses,
 * so these transports allow non-public addresses; the last describe checks the default that refuses them.
 */
describe('MX transport', () => {
  let dns: TestDnsServer;
  let sink: SmtpSink;
  let resolver: Resolver;
  const transports: Transport[] = [];

  function transport(overrides: Partial<MxTransportOptions> = {}): Transport {
    const created = createMxTransport({ resolver, port: sink.port, heloName: 'mta.sender.test', timeoutMs: 2000, allowPrivateAddresses: true, ...overrides });
    transports.push(created);
    return created;
  }

  beforeAll(async () => {
    dns = await startDnsServer({
      'example.test': { MX: [{ exchange: 'mx.example.test', priority: 10 }] },
      'mx.example.test': { A: ['127.0.0.1'] },
      'other.test': { MX: [{ exchange: 'mx.example.test', priority: 5 }] },
      'backup.test': {
        MX: [
          { exchange: 'mx2.backup.test', priority: 20 },
          { exchange: 'mx1.backup.test', priority: 10 },
        ],
      },
      'mx1.backup.test': { A: ['127.0.0.2'] },
      'mx2.backup.test': { A: ['127.0.0.1'] },
      'unreachable.test': { MX: [{ exchange: 'mx.unreachable.test', priority: 10 }] },
      'mx.unreachable.test': { A: ['127.0.0.2'] },
      'no-mx.test': { A: ['127.0.0.1'] },
      'nullmx.test': { MX: [{ exchange: '.', priority: 0 }] },
      'nothing.test': { TXT: ['v=spf1 -all'] },
      'dangling.test': { MX: [{ exchange: 'missing.dangling.test', priority: 10 }] },
      'servfail.test': {},
      'xn--bcher-kva.test': { MX: [{ exchange: 'mx.example.test', priority: 10 }] },
    });
    dns.setFailure('servfail.test', 'SERVFAIL');
    resolver = createResolver([dns.server], { timeoutMs: 1000, tries: 1 });
    sink = await startSmtpSink();
  });
  afterEach(async () => {
    await Promise.all(transports.splice(0).map((t) => t.close()));
  });
  afterAll(async () => {
    await sink?.close();
    await dns?.close();
  });
  beforeEach(() => {
    sink.messages.length = 0;
    sink.setFailure(null);
    sink.setTransactionFailure(null);
  });

  it('delivers to the MX host found through the configured resolver, one transaction per domain', async () => {
    const outcomes = await transport().send({ from: 'bounce@sender.test', to: ['alice@example.test', 'bob@EXAMPLE.test'] }, raw);
    expect(outcomes).toEqual([
      { recipient: 'alice@example.test', status: 'accepted', code: 250, response: expect.stringMatching(/^250 /), host: 'mx.example.test' },
      { recipient: 'bob@EXAMPLE.test', status: 'accepted', code: 250, response: expect.stringMatching(/^250 /), host: 'mx.example.test' },
    ]);
    const [received] = await sink.waitFor(1);
    expect(received?.to).toEqual(['alice@example.test', 'bob@example.test']);
    expect(received?.from).toBe('bounce@sender.test');
    expect(received?.heloName).toBe('mta.sender.test');
    expect(received?.raw.equals(raw)).toBe(true);
    expect(sink.messages).toHaveLength(1);
  });

  it('splits recipients of different domains into separate deliveries and keeps the input order', async () => {
    const to = ['a@other.test', 'b@example.test', 'c@other.test', 'a@other.test'];
    const outcomes = await transport().send({ from: 'shop@sender.test', to }, raw);
    expect(outcomes.map((o) => [o.recipient, o.status])).toEqual(to.map((r) => [r, 'accepted']));
    const received = await sink.waitFor(2);
    expect(received.map((m) => m.to).sort()).toEqual([['a@other.test', 'c@other.test'], ['b@example.test']]);
  });

  it('looks up and addresses internationalised domains in their ASCII form', async () => {
    const [outcome] = await transport().send({ from: 'shop@sender.test', to: ['leser@bücher.test'] }, raw);
    expect(outcome).toMatchObject({ recipient: 'leser@bücher.test', status: 'accepted', host: 'mx.example.test' });
    expect(dns.queries).toContainEqual({ name: 'xn--bcher-kva.test', type: 'MX', transport: 'udp' });
    // smtp-server turns the punycode domain of RCPT TO back into Unicode
    expect((await sink.waitFor(1))[0]?.to).toEqual(['leser@bücher.test']);
  });

  it('falls back to the domain’s own address when it has no MX (RFC 5321 §5.1)', async () => {
    const [outcome] = await transport().send({ from: 'shop@sender.test', to: ['user@no-mx.test'] }, raw);
    expect(outcome).toMatchObject({ status: 'accepted', code: 250, host: 'no-mx.test' });
    expect((await sink.waitFor(1))[0]?.to).toEqual(['user@no-mx.test']);
  });

  it('delivers to an address literal without any DNS lookup', async () => {
    const queriesBefore = dns.queries.length;
    const [outcome] = await transport().send({ from: 'shop@sender.test', to: ['postmaster@[127.0.0.1]'] }, raw);
    expect(outcome).toMatchObject({ status: 'accepted', host: '127.0.0.1' });
    expect(dns.queries).toHaveLength(queriesBefore);
  });

  it('tries MX hosts in preference order and moves on when one refuses the connection', async () => {
    const [outcome] = await transport().send({ from: 'shop@sender.test', to: ['user@backup.test'] }, raw);
    expect(outcome).toMatchObject({ status: 'accepted', host: 'mx2.backup.test' });
    const mxQueries = dns.queries.filter((q) => q.name.endsWith('backup.test') && q.type === 'A').map((q) => q.name);
    expect(mxQueries.slice(0, 2)).toEqual(['mx1.backup.test', 'mx2.backup.test']);
  });

  it('fails permanently for a null MX, a missing domain and a domain without any address', async () => {
    const outcomes = await transport().send({ from: 'shop@sender.test', to: ['a@nullmx.test', 'b@nxdomain.test', 'c@nothing.test'] }, raw);
    expect(outcomes).toEqual([
      { recipient: 'a@nullmx.test', status: 'bounced', code: null, response: expect.stringContaining('null MX'), host: null },
      { recipient: 'b@nxdomain.test', status: 'bounced', code: null, response: expect.stringContaining('does not exist'), host: null },
      { recipient: 'c@nothing.test', status: 'bounced', code: null, response: expect.stringContaining('no MX record'), host: null },
    ]);
    expect(sink.messages).toHaveLength(0);
  });

  it('defers when DNS fails temporarily, when the MX host has no address and when no host answers', async () => {
    const outcomes = await transport().send(
      { from: 'shop@sender.test', to: ['a@servfail.test', 'b@dangling.test', 'c@unreachable.test'] },
      raw,
    );
    expect(outcomes).toEqual([
      { recipient: 'a@servfail.test', status: 'deferred', code: null, response: expect.stringContaining('ESERVFAIL'), host: null },
      { recipient: 'b@dangling.test', status: 'deferred', code: null, response: expect.stringContaining('no A or AAAA'), host: 'missing.dangling.test' },
      { recipient: 'c@unreachable.test', status: 'deferred', code: null, response: expect.stringContaining('ECONNREFUSED'), host: 'mx.unreachable.test' },
    ]);
  });

  it('rejects addresses without a domain without touching the network', async () => {
    const outcomes = await transport().send({ from: 'shop@sender.test', to: ['not-an-address', 'ok@example.test'] }, raw);
    expect(outcomes.map((o) => [o.recipient, o.status])).toEqual([
      ['not-an-address', 'bounced'],
      ['ok@example.test', 'accepted'],
    ]);
  });

  it('maps per-recipient and whole-transaction SMTP replies', async () => {
    sink.setFailure((rcpt) => (rcpt.startsWith('gone') ? { code: 550, message: 'No such user' } : rcpt.startsWith('full') ? { code: 452, message: 'Mailbox full' } : null));
    const outcomes = await transport().send({ from: 'shop@sender.test', to: ['gone@example.test', 'full@example.test', 'ok@example.test'] }, raw);
    expect(outcomes.map((o) => [o.recipient, o.status, o.code, o.host])).toEqual([
      ['gone@example.test', 'bounced', 550, 'mx.example.test'],
      ['full@example.test', 'deferred', 452, 'mx.example.test'],
      ['ok@example.test', 'accepted', 250, 'mx.example.test'],
    ]);
    expect((await sink.waitFor(1))[0]?.to).toEqual(['ok@example.test']);

    sink.setFailure(null);
    sink.setTransactionFailure(() => ({ code: 421, message: 'Too busy' }));
    const [busy] = await transport().send({ from: 'shop@sender.test', to: ['ok@example.test'] }, raw);
    expect(busy).toMatchObject({ status: 'deferred', code: 421, host: 'mx.example.test' });

    sink.setTransactionFailure(() => ({ code: 550, message: 'Sender blocked' }));
    const [blocked] = await transport().send({ from: 'shop@sender.test', to: ['ok@example.test'] }, raw);
    expect(blocked).toMatchObject({ status: 'bounced', code: 550, response: '550 Sender blocked' });
  });

  it('reuses the connection for the next message to the same domain', async () => {
    const mx = transport();
    const before = sink.connections;
    for (let i = 0; i < 3; i++) {
      const [outcome] = await mx.send({ from: 'shop@sender.test', to: [`user${i}@example.test`] }, raw);
      expect(outcome?.status).toBe('accepted');
    }
    expect(sink.connections - before).toBe(1);

    const noReuse = transport({ idleTimeoutMs: 0 });
    const beforeNoReuse = sink.connections;
    await noReuse.send({ from: 'shop@sender.test', to: ['a@example.test'] }, raw);
    await noReuse.send({ from: 'shop@sender.test', to: ['b@example.test'] }, raw);
    expect(sink.connections - beforeNoReuse).toBe(2);
  });
});

describe('MX transport against servers with particular behaviour', () => {
  let dns: TestDnsServer;
  let resolver: Resolver;

  beforeAll(async () => {
    dns = await startDnsServer({
      'example.test': { MX: [{ exchange: 'mx.example.test', priority: 10 }] },
      'mx.example.test': { A: ['127.0.0.1'] },
    });
    resolver = createResolver([dns.server], { timeoutMs: 1000, tries: 1 });
  });
  afterAll(async () => {
    await dns?.close();
  });

  async function withSink(options: Parameters<typeof startSmtpSink>[0], run: (sink: SmtpSink, mx: Transport) => Promise<void>): Promise<void> {
    const sink = await startSmtpSink(options);
    const mx = createMxTransport({ resolver, port: sink.port, heloName: 'mta.sender.test', timeoutMs: 2000, allowPrivateAddresses: true });
    try {
      await run(sink, mx);
    } finally {
      await mx.close();
      await sink.close();
    }
  }

  it('upgrades to TLS with STARTTLS when offered, accepting a self-signed certificate', async () => {
    await withSink({ starttls: true }, async (sink, mx) => {
      const [outcome] = await mx.send({ from: 'shop@sender.test', to: ['alice@example.test'] }, raw);
      expect(outcome?.status).toBe('accepted');
      expect((await sink.waitFor(1))[0]?.secure).toBe(true);
    });
  });

  it('falls back to plain text when the TLS handshake fails', async () => {
    await withSink({ starttls: 'broken' }, async (sink, mx) => {
      const [outcome] = await mx.send({ from: 'shop@sender.test', to: ['alice@example.test'] }, raw);
      expect(outcome?.status).toBe('accepted');
      expect((await sink.waitFor(1))[0]?.secure).toBe(false);
    });
  });

  it('opens a new connection when the server has closed the idle one', async () => {
    await withSink({ socketTimeoutMs: 250 }, async (sink, mx) => {
      const [first] = await mx.send({ from: 'shop@sender.test', to: ['a@example.test'] }, raw);
      await new Promise((resolve) => setTimeout(resolve, 600));
      const [second] = await mx.send({ from: 'shop@sender.test', to: ['b@example.test'] }, raw);
      expect([first?.status, second?.status]).toEqual(['accepted', 'accepted']);
      expect(sink.connections).toBe(2);
      expect(sink.messages.map((m) => m.to)).toEqual([['a@example.test'], ['b@example.test']]);
    });
  });
});

describe('MX transport and non-public addresses (the default refuses them)', () => {
  let dns: TestDnsServer;
  let sink: SmtpSink;
  let mx: Transport;

  beforeAll(async () => {
    const manyHosts = Array.from({ length: 50 }, (_, i) => ({ exchange: `mx${i}.many.test`, priority: 10 + i }));
    dns = await startDnsServer({
      'example.test': { MX: [{ exchange: 'mx.example.test', priority: 10 }] },
      'mx.example.test': { A: ['127.0.0.1'] },
      'office.test': { A: ['192.168.1.20'] },
      'metadata.test': { MX: [{ exchange: 'mx.metadata.test', priority: 10 }] },
      'mx.metadata.test': { A: ['169.254.169.254'] },
      'v6.test': { MX: [{ exchange: 'mx.v6.test', priority: 10 }] },
      'mx.v6.test': { AAAA: ['::1', 'fd00::25'] },
      'mixed.test': {
        MX: [
          { exchange: 'mx1.mixed.test', priority: 10 },
          { exchange: 'mx2.mixed.test', priority: 20 },
        ],
      },
      'mx1.mixed.test': { A: ['10.0.0.25'] },
      'many.test': { MX: manyHosts },
    });
    sink = await startSmtpSink();
    mx = createMxTransport({ resolver: createResolver([dns.server], { timeoutMs: 1000, tries: 1 }), port: sink.port, heloName: 'mta.sender.test', timeoutMs: 2000 });
  });
  afterAll(async () => {
    await mx?.close();
    await sink?.close();
    await dns?.close();
  });

  it('fails permanently, without connecting, when every address of the destination is not public', async () => {
    const to = ['a@example.test', 'postmaster@[127.0.0.1]', 'b@office.test', 'c@metadata.test', 'd@v6.test', 'e@[IPv6:::1]'];
    const outcomes = await mx.send({ from: 'shop@sender.test', to }, raw);
    expect(outcomes.map((o) => [o.recipient, o.status])).toEqual(to.map((r) => [r, 'bounced']));
    const [a, literal, office, metadata, v6, literal6] = outcomes.map((o) => o.response);
    expect(a).toBe('refused: mail host mx.example.test resolves to 127.0.0.1, a loopback address; direct delivery goes only to public addresses');
    expect(literal).toBe('refused: 127.0.0.1, a loopback address; direct delivery goes only to public addresses');
    expect(office).toContain('office.test resolves to 192.168.1.20, a private (RFC 1918) address');
    expect(metadata).toContain('169.254.169.254, a link-local address');
    expect(v6).toContain('fd00::25, a unique-local (fc00::/7) address');
    expect(literal6).toContain('::1, a loopback address');
    expect(sink.connections).toBe(0);
    expect(sink.messages).toHaveLength(0);
  });

  it('defers when another host failed only temporarily', async () => {
    const [outcome] = await mx.send({ from: 'shop@sender.test', to: ['user@mixed.test'] }, raw);
    expect(outcome).toMatchObject({ status: 'deferred', host: 'mx2.mixed.test' });
    expect(sink.connections).toBe(0);
  });

  it('looks up the addresses of at most 10 MX hosts of a domain that lists 50', async () => {
    const before = dns.queries.length;
    const [outcome] = await mx.send({ from: 'shop@sender.test', to: ['user@many.test'] }, raw);
    expect(outcome?.status).toBe('deferred');
    const hostLookups = dns.queries.slice(before).filter((q) => /^mx\d+\.many\.test$/.test(q.name));
    expect(hostLookups.length).toBeLessThanOrEqual(20); // A and AAAA of 10 hosts
    expect(hostLookups.length).toBeGreaterThan(0);
  });
});
