import { spf } from 'mailauth/lib/spf/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createResolver } from '../src/platform/dns/resolver.js';
import { call, startTestApp, waitFor, type TestApp } from './support/app.js';
import { BACKENDS } from './support/databases.js';
import { startDnsServer, type TestDnsServer } from './support/dns-server.js';
import { publish, receiverVerdict, recordOf, TEST_SECRET_KEY, type ApiDomain } from './support/domains.js';
import { startSmtpSink, type SmtpSink } from './support/smtp-sink.js';

const statusOf = (t: TestApp, key: string, id: string, want: string) =>
  waitFor(async () => {
    const r = await call(`${t.url}/api/v1/public/emails/get-email?id=${id}`, { key });
    return r.body.status === want ? (r.body.data as { events: { type: string; detail: Record<string, unknown> | null }[]; transport: string }) : null;
  }, { what: `${id} ${want}` });

describe.each(BACKENDS)('signed delivery from custom domains on %s', (backend) => {
  let t: TestApp;
  let dns: TestDnsServer;
  let relay: SmtpSink;
  let africaRelay: SmtpSink;
  let ws: { id: string; adminKey: string; key: string };

  beforeAll(async () => {
    dns = await startDnsServer();
    relay = await startSmtpSink();
    africaRelay = await startSmtpSink();
    t = await startTestApp({
      backend,
      env: {
        SMTP_URL: `smtp://127.0.0.1:${relay.port}`,
        REGION_AF_SOUTH_1_SMTP_URL: `smtp://127.0.0.1:${africaRelay.port}`,
        DNS_SERVERS: dns.server,
        SECRET_KEY: TEST_SECRET_KEY,
        BOUNCE_HOST: 'bounce.keplars.test',
      },
    });
    ws = await t.workspace();
  });
  afterAll(async () => {
    await t?.close();
    await relay?.close();
    await africaRelay?.close();
    await dns?.close();
  });

  it('runs the whole seed flow over HTTP: add domain → publish → poll status → create key → send → signed delivery', async () => {
    const admin = (path: string, opts: Parameters<typeof call>[1] = {}) => call(`${t.url}/api/v1/public/domains/${path}`, { key: ws.adminKey, ...opts });
    const added = await admin('add-domain', { body: { domain: 'seed.test', region: 'us-east-1' } });
    expect(added.status).toBe(200);
    const domain = added.body.data as ApiDomain;
    publish(dns, domain.dns_records);
    await admin(`verify-domain/${domain.id}`, { method: 'POST', rawBody: '', headers: { 'content-type': 'application/json' } });
    const status = await waitFor(async () => {
      const s = await admin(`domain-status/${domain.id}`);
      return (s.body.data as ApiDomain).verification_status === 'verified' ? (s.body.data as ApiDomain) : null;
    }, { what: 'seed.test verified' });
    expect(status.mail_from_status).toBe('verified');
    const created = await admin('api-keys/create', { body: { name: 'seed', custom_domain_id: domain.id } });
    const key = (created.body.data as { secret_key: string }).secret_key;

    relay.messages.length = 0;
    const sent = await call(`${t.url}/api/v1/send-email/instant`, { key, body: { to: ['user@example.org'], cc: 'copy@example.org', reply_to: 'help@seed.test', from: 'Seed Shop <orders@seed.test>', subject: 'Your order', html: '<p>Thanks!</p>' } });
    expect(sent.status, sent.text).toBe(200);
    const [msg] = await relay.waitFor(1);
    await statusOf(t, key, sent.body.id as string, 'sent');

    // a signed VERP return path on the MAIL FROM domain, so a bounce names its email (two recipients: no position)
    expect(msg!.from).toMatch(/^b\+[a-z2-7]{47}@bounces\.seed\.test$/);
    expect(t.app.services.returnPaths.read(msg!.from)).toEqual({ emailId: sent.body.id, position: null });
    const raw = msg!.raw.toString();
    expect(raw.startsWith('DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=seed.test;')).toBe(true);
    expect(raw.replace(/\r\n /g, ' ')).toContain('h=From:To:Subject:Date:Message-ID:MIME-Version:Content-Type:Cc:Reply-To;');

    // an independent verifier, as a receiving server would run it against DNS, from 127.0.0.1
    const verdict = await receiverVerdict(dns, msg!.raw, msg!.from);
    expect(verdict.dkim.results[0]!.status.result, verdict.dkim.results[0]!.info).toBe('pass');
    expect(verdict.dkim.results[0]!.signingDomain).toBe('seed.test');
    expect(verdict.spf && verdict.spf.status.result).toBe('pass');
    expect(verdict.spf && verdict.spf.domain).toBe('bounces.seed.test');
    expect(verdict.dmarc && verdict.dmarc.status.result).toBe('pass');
  });

  it('authorises the sending address in the MAIL FROM domain’s SPF record', async () => {
    const resolver = createResolver([dns.server]);
    const result = await spf({
      sender: 'b+msg_1_x@bounces.seed.test',
      ip: '127.0.0.1',
      helo: 'mta.keplars.test',
      mta: 'mx.receiver.test',
      resolver: (name: string, type: string) => resolver.resolve(name, type as 'TXT') as Promise<string[][]>,
    });
    expect(result.status.result).toBe('pass');
    const elsewhere = await spf({ sender: 'b+msg_1_x@bounces.seed.test', ip: '192.0.2.1', helo: 'x', mta: 'mx.receiver.test', resolver: (name: string, type: string) => resolver.resolve(name, type as 'TXT') as Promise<string[][]> });
    expect(elsewhere.status.result).toBe('softfail');
  });

  it('signs mail from subdomains with the parent’s key, and mail from the region’s relay goes there', async () => {
    const added = await call(`${t.url}/api/v1/public/domains/add-domain`, { key: ws.adminKey, body: { domain: 'africa.test', region: 'af-south-1' } });
    const domain = added.body.data as ApiDomain;
    publish(dns, domain.dns_records);
    const v = await call(`${t.url}/api/v1/public/domains/verify-domain/${domain.id}`, { method: 'POST', key: ws.adminKey, body: {} });
    expect((v.body.data as ApiDomain).verification_status).toBe('verified');

    africaRelay.messages.length = 0;
    relay.messages.length = 0;
    const sent = await call(`${t.url}/api/v1/send-email/high`, { key: ws.key, body: { to: 'user@example.org', from: 'news@mail.africa.test', subject: 'regional', body: 'hello' } });
    expect(sent.status, sent.text).toBe(200);
    const [msg] = await africaRelay.waitFor(1);
    expect(relay.messages).toHaveLength(0);
    const verdict = await receiverVerdict(dns, msg!.raw, msg!.from);
    expect(verdict.dkim.results[0]!.status.result).toBe('pass');
    expect(verdict.dkim.results[0]!.signingDomain).toBe('africa.test');
    expect(verdict.dmarc && verdict.dmarc.status.result).toBe('pass');
  });

  it('keeps signing with the old key until a rotation’s record is seen, then with the new one', async () => {
    const domain = (await call(`${t.url}/api/v1/public/domains/add-domain`, { key: ws.adminKey, body: { domain: 'rotating.test' } })).body.data as ApiDomain;
    publish(dns, domain.dns_records);
    await call(`${t.url}/api/v1/public/domains/verify-domain/${domain.id}`, { method: 'POST', key: ws.adminKey, body: {} });
    const rotating = (await call(`${t.url}/api/v1/public/domains/${domain.id}/rotate-dkim`, { method: 'POST', key: ws.adminKey, body: {} })).body.data as ApiDomain;
    const sendAndGetSelector = async () => {
      relay.messages.length = 0;
      await call(`${t.url}/api/v1/send-email/instant`, { key: ws.key, body: { to: 'user@example.org', from: 'a@rotating.test', subject: 'rot', body: 'x' } });
      const [msg] = await relay.waitFor(1);
      const verdict = await receiverVerdict(dns, msg!.raw, msg!.from);
      expect(verdict.dkim.results[0]!.status.result).toBe('pass');
      return verdict.dkim.results[0]!.selector;
    };
    expect(await sendAndGetSelector()).toBe('keplars');
    publish(dns, [recordOf(rotating, 'dkim_rotation')]);
    await call(`${t.url}/api/v1/public/domains/verify-domain/${domain.id}`, { method: 'POST', key: ws.adminKey, body: {} });
    expect(await sendAndGetSelector()).toBe('keplars2');
  });
});

describe('the capture transport (development default)', () => {
  let t: TestApp;
  let dns: TestDnsServer;
  let ws: { id: string; adminKey: string; key: string };

  beforeAll(async () => {
    dns = await startDnsServer();
    t = await startTestApp({ backend: 'pglite', env: { DNS_SERVERS: dns.server, SECRET_KEY: TEST_SECRET_KEY, BOUNCE_HOST: 'bounce.keplars.test' } });
    ws = await t.workspace();
  });
  afterAll(async () => {
    await t?.close();
    await dns?.close();
  });

  it('accepts any from, and says on the email’s timeline that real delivery would refuse it', async () => {
    const sent = await call(`${t.url}/api/v1/send-email/instant`, { key: ws.key, body: { to: 'user@example.org', from: 'someone@unverified.test', subject: 'dev', body: 'x' } });
    expect(sent.status, sent.text).toBe(200);
    const email = await statusOf(t, ws.key, sent.body.id as string, 'delivered');
    const note = email.events.find((e) => e.type === 'sender_unverified');
    expect(note?.detail).toMatchObject({ domain: 'unverified.test', signed: false });
    expect(String(note?.detail?.note)).toContain('capture transport');
  });

  it('still signs mail from a verified domain, so the captured message is what would go out', async () => {
    const domain = (await call(`${t.url}/api/v1/public/domains/add-domain`, { key: ws.adminKey, body: { domain: 'dev.test' } })).body.data as ApiDomain;
    publish(dns, domain.dns_records);
    await call(`${t.url}/api/v1/public/domains/verify-domain/${domain.id}`, { method: 'POST', key: ws.adminKey, body: {} });
    const sent = await call(`${t.url}/api/v1/send-email/instant`, { key: ws.key, body: { to: 'user@example.org', from: 'app@dev.test', subject: 'dev signed', body: 'x' } });
    const email = await statusOf(t, ws.key, sent.body.id as string, 'delivered');
    expect(email.events.some((e) => e.type === 'sender_unverified')).toBe(false);
    const list = await call(`${t.url}/api/v1/captured?email_id=${sent.body.id as string}`, { key: ws.key });
    const id = (list.body.data as { messages: { id: string }[] }).messages[0]!.id;
    const raw = await fetch(`${t.url}/api/v1/captured/${id}/raw`, { headers: { authorization: `Bearer ${ws.key}` } });
    const bytes = Buffer.from(await raw.arrayBuffer());
    expect(bytes.toString().startsWith('DKIM-Signature:')).toBe(true);
    const verdict = await receiverVerdict(dns, bytes, 'b+x@bounces.dev.test');
    expect(verdict.dkim.results[0]!.status.result).toBe('pass');
  });
});
