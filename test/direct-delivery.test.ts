import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startTestApp, waitFor, type TestApp } from './support/app.js';
import { startDnsServer, type TestDnsServer } from './support/dns-server.js';
import { startSmtpSink, type SmtpSink } from './support/smtp-sink.js';

describe('direct delivery to MX hosts (DELIVERY_MODE=mx)', () => {
  let t: TestApp;
  let sink: SmtpSink;
  let dns: TestDnsServer;
  let key: string;

  beforeAll(async () => {
    sink = await startSmtpSink({ starttls: true });
    dns = await startDnsServer({
      'example.test': { MX: [{ exchange: 'mx.example.test', priority: 10 }] },
      'mx.example.test': { A: ['127.0.0.1'] },
      'nomail.test': { MX: [{ exchange: '.', priority: 0 }] },
    });
    // the sink is on 127.0.0.1, which direct delivery refuses unless allowed
    t = await startTestApp({
      backend: 'pglite',
      env: { DELIVERY_MODE: 'mx', MX_ALLOW_PRIVATE_ADDRESSES: 'true', DNS_SERVERS: dns.server, MX_PORT: String(sink.port), HELO_NAME: 'mta.keplars.test', DEFAULT_FROM: 'app@sender.test' },
    });
    key = (await t.workspace()).key;
  });
  afterAll(async () => {
    await t?.close();
    await sink?.close();
    await dns?.close();
  });

  const statusOf = async (id: string, want: string) =>
    waitFor(async () => {
      const r = await call(`${t.url}/api/v1/public/emails/get-email?id=${id}`, { key });
      return r.body.status === want ? r : null;
    }, { what: `${id} ${want}` });

  it('looks up the MX through DNS_SERVERS, uses STARTTLS, and records the delivery', async () => {
    const res = await call(`${t.url}/api/v1/send-email/instant`, { key, body: { to: 'user@example.test', from: 'app@sender.test', subject: 'direct', body: 'hi' } });
    const [msg] = await sink.waitFor(1);
    expect(msg!.to).toEqual(['user@example.test']);
    expect(msg!.secure).toBe(true);
    expect(msg!.heloName).toBe('mta.keplars.test');
    expect(dns.queries.some((q) => q.name === 'example.test' && q.type === 'MX')).toBe(true);
    const email = await statusOf(res.body.id as string, 'delivered');
    const events = (email.body.data as { events: { type: string; smtp_host: string }[] }).events;
    expect(events.find((e) => e.type === 'delivered')?.smtp_host).toBe('mx.example.test');
  });

  it('bounces at once for a domain that publishes a null MX', async () => {
    const res = await call(`${t.url}/api/v1/send-email/instant`, { key, body: { to: 'user@nomail.test', subject: 'nowhere', body: 'hi' } });
    const email = await statusOf(res.body.id as string, 'bounced');
    expect((email.body.data as { attempts: number }).attempts).toBe(1);
  });
});

describe('direct delivery without MX_ALLOW_PRIVATE_ADDRESSES', () => {
  let t: TestApp;
  let sink: SmtpSink;
  let dns: TestDnsServer;
  let key: string;

  beforeAll(async () => {
    sink = await startSmtpSink();
    dns = await startDnsServer({
      'example.test': { MX: [{ exchange: 'mx.example.test', priority: 10 }] },
      'mx.example.test': { A: ['127.0.0.1'] },
      'office.test': { A: ['10.0.0.25'] },
    });
    t = await startTestApp({ backend: 'pglite', env: { DELIVERY_MODE: 'mx', DNS_SERVERS: dns.server, MX_PORT: String(sink.port), DEFAULT_FROM: 'app@sender.test' } });
    key = (await t.workspace()).key;
  });
  afterAll(async () => {
    await t?.close();
    await sink?.close();
    await dns?.close();
  });

  it('bounces mail whose MX host is loopback, or whose domain without MX is private, and never connects', async () => {
    const expected: Record<string, string> = {
      'user@example.test': 'mail host mx.example.test resolves to 127.0.0.1, a loopback address; direct delivery goes only to public addresses',
      'user@office.test': 'mail host office.test resolves to 10.0.0.25, a private (RFC 1918) address',
    };
    for (const [to, reason] of Object.entries(expected)) {
      const res = await call(`${t.url}/api/v1/send-email/instant`, { key, body: { to, subject: 'to myself', body: 'hi' } });
      expect(res.status, res.text).toBe(200);
      const email = await waitFor(async () => {
        const r = await call(`${t.url}/api/v1/public/emails/get-email?id=${res.body.id as string}`, { key });
        return r.body.status === 'bounced' ? r : null;
      }, { what: `${to} bounced` });
      const recipients = (email.body.data as { recipients: { status: string; smtp_response: string }[] }).recipients;
      expect(recipients[0]!.status).toBe('bounced');
      expect(recipients[0]!.smtp_response).toContain(reason);
    }
    expect(sink.connections).toBe(0);
  });
});
