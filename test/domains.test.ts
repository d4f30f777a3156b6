import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runPendingJobBy } from '../src/platform/queue/jobs-store.js';
import { call, startTestApp, waitFor, type TestApp } from './support/app.js';
import { BACKENDS } from './support/databases.js';
import { startDnsServer, type TestDnsServer } from './support/dns-server.js';
import { publish, recordOf, TEST_SECRET_KEY, type ApiDomain } from './support/domains.js';
import { startSmtpSink, type SmtpSink } from './support/smtp-sink.js';

describe.each(BACKENDS)('custom domains on %s', (backend) => {
  let t: TestApp;
  let dns: TestDnsServer;
  let sink: SmtpSink;
  let ws: { id: string; adminKey: string; key: string };

  beforeAll(async () => {
    dns = await startDnsServer();
    sink = await startSmtpSink();
    t = await startTestApp({
      backend,
      env: { SMTP_URL: `smtp://127.0.0.1:${sink.port}`, DNS_SERVERS: dns.server, SECRET_KEY: TEST_SECRET_KEY, BOUNCE_HOST: 'bounce.keplars.test' },
    });
    ws = await t.workspace();
  });
  afterAll(async () => {
    await t?.close();
    await sink?.close();
    await dns?.close();
  });

  const api = (path: string, opts: Parameters<typeof call>[1] = {}) => call(`${t.url}/api/v1/public/domains/${path}`, { key: ws.adminKey, ...opts });
  const add = async (domain: string, extra: Record<string, unknown> = {}, key = ws.adminKey): Promise<ApiDomain> => {
    const res = await call(`${t.url}/api/v1/public/domains/add-domain`, { key, body: { domain, ...extra } });
    expect(res.status, res.text).toBe(200);
    return res.body.data as ApiDomain;
  };
  const verify = async (id: string, key = ws.adminKey) => {
    const res = await call(`${t.url}/api/v1/public/domains/verify-domain/${id}`, { method: 'POST', key, rawBody: '', headers: { 'content-type': 'application/json' } });
    expect(res.status, res.text).toBe(200);
    return res.body.data as ApiDomain & { status: string; message: string; checks: Record<string, { status: string; reason: string | null; found: string[] }> };
  };
  const verified = async (domain: string, key = ws.adminKey): Promise<ApiDomain> => {
    const d = await add(domain, {}, key);
    publish(dns, d.dns_records);
    const v = await verify(d.id, key);
    expect(v.verification_status, v.message).toBe('verified');
    return v;
  };
  const reasonOf = (d: ApiDomain, purpose: string) => recordOf(d, purpose).reason ?? '';

  describe('adding a domain', () => {
    it('returns every record to publish, pending, in the default region', async () => {
      const d = await add('Mail.Example.test.');
      expect(d).toMatchObject({ domain: 'mail.example.test', verification_status: 'pending', mail_from_status: 'pending', region: 'us-east-1', mail_from_domain: 'bounces.mail.example.test' });
      expect(d.dns_records.map((r) => r.purpose)).toEqual(['spf', 'dkim', 'dmarc', 'mail_from_mx', 'mail_from_spf']);
      expect(recordOf(d, 'spf')).toMatchObject({ type: 'TXT', name: 'mail.example.test', value: 'v=spf1 ip4:127.0.0.1 ~all', status: 'pending' });
      expect(recordOf(d, 'dkim')).toMatchObject({ type: 'TXT', name: 'keplars._domainkey.mail.example.test', priority: 0 });
      expect(recordOf(d, 'dkim').value).toMatch(/^v=DKIM1; k=rsa; p=MIIB[A-Za-z0-9+/=]{300,}$/);
      expect(recordOf(d, 'dmarc')).toMatchObject({ name: '_dmarc.mail.example.test', value: 'v=DMARC1; p=none; rua=mailto:dmarc-reports@mail.example.test', required: false });
      expect(recordOf(d, 'mail_from_mx')).toMatchObject({ type: 'MX', name: 'bounces.mail.example.test', value: 'bounce.keplars.test', priority: 10 });
      expect(recordOf(d, 'mail_from_spf')).toMatchObject({ type: 'TXT', name: 'bounces.mail.example.test', value: 'v=spf1 ip4:127.0.0.1 ~all' });
      for (const r of d.dns_records) expect((r as unknown as { description: string }).description.length).toBeGreaterThan(40);
    });

    it('validates the name by syntax alone, normalises IDNs to A-labels, and refuses duplicates with 409', async () => {
      const idn = await add('bücher.test', { region: 'af-south-1' });
      expect(idn).toMatchObject({ domain: 'xn--bcher-kva.test', region: 'af-south-1' });
      expect((idn as unknown as { domain_unicode: string }).domain_unicode).toBe('bücher.test');
      for (const bad of ['127.0.0.1', 'localhost', 'https://example.test', 'a..test', '-x.test', 'user@example.test', '']) {
        const res = await api('add-domain', { body: { domain: bad } });
        expect(res.status, bad).toBe(400);
        expect(res.body.error).toBe('VALIDATION_ERROR');
      }
      const region = await api('add-domain', { body: { domain: 'region.test', region: 'eu-west-9' } });
      expect(region.status).toBe(400);
      expect(region.body.message).toContain('us-east-1, ap-southeast-1, af-south-1');
      const dup = await api('add-domain', { body: { domain: 'XN--BCHER-KVA.test' } });
      expect(dup.status).toBe(409);
      expect(dup.body).toMatchObject({ success: false, error: 'CONFLICT' });
    });

    it('lists, shows and refuses unknown ids or another workspace’s domains with 404', async () => {
      const d = await add('listed.test');
      const list = await api('get-domains');
      expect(Array.isArray(list.body.data)).toBe(true);
      expect((list.body.data as ApiDomain[]).map((x) => x.domain)).toContain('listed.test');
      const status = await api(`domain-status/${d.id}`);
      expect(status.body.data).toMatchObject({ id: d.id, verification_status: 'pending', events: [{ type: 'domain.created' }] });
      expect((await api(`domain-status?id=${d.id}`)).status).toBe(200);
      expect((await api('domain-status/dom_abc123')).status).toBe(404);
      const other = await t.workspace();
      const foreign = await call(`${t.url}/api/v1/public/domains/domain-status/${d.id}`, { key: other.adminKey });
      expect(foreign.status).toBe(404);
    });

    it('schedules its background check as a deduplicated job', async () => {
      const d = await add('scheduled.test');
      const job = await t.app.services.database.db.selectFrom('jobs').selectAll().where('dedupe_key', '=', `domain:${d.id}:verify`).executeTakeFirstOrThrow();
      expect(job).toMatchObject({ queue: 'domains.verify', status: 'pending' });
      expect(job.next_attempt_at!.getTime()).toBeGreaterThan(Date.now() + 30_000);
    });
  });

  describe('verification against real DNS', () => {
    it('goes from pending to verified once the records are published', async () => {
      const d = await add('acme.test');
      const before = await verify(d.id);
      expect(before.verification_status).toBe('pending');
      expect(before.message).toContain('No TXT record found at acme.test');
      expect(before.checks.dkim!.status).toBe('failed');
      publish(dns, d.dns_records);
      const after = await verify(d.id);
      expect(after).toMatchObject({ verification_status: 'verified', mail_from_status: 'verified', status: 'verified', message: 'Domain verification successful' });
      expect(after.dns_records.every((r) => r.status === 'verified')).toBe(true);
      expect(recordOf(after, 'spf').found).toEqual(['v=spf1 ip4:127.0.0.1 ~all']);
      const status = (await api(`domain-status/${d.id}`)).body.data as { verified_at: string; events: { type: string }[] };
      expect(status.verified_at).toBeTruthy();
      expect(status.events.map((e) => e.type)).toContain('domain.verified');
    });

    it('accepts an existing SPF record that already authorises us, and a DKIM key reached through a CNAME', async () => {
      const d = await add('existing.test');
      publish(dns, d.dns_records);
      dns.set('existing.test', 'TXT', ['google-site-verification=abc', 'v=spf1 include:_spf.mail.test ip4:127.0.0.0/8 -all']);
      dns.set('_spf.mail.test', 'TXT', ['v=spf1 ip4:192.0.2.0/24 ~all']);
      const dkim = recordOf(d, 'dkim');
      dns.clear(dkim.name);
      dns.set(dkim.name, 'CNAME', ['keys.provider.test']);
      dns.set('keys.provider.test', 'TXT', [dkim.value]);
      const v = await verify(d.id);
      expect(v.verification_status, v.message).toBe('verified');
    });

    it('explains each failure: wrong value, two SPF records, the 10-lookup limit, a CNAME chain, a key mismatch, DMARC syntax', async () => {
      const d = await add('broken.test');
      publish(dns, d.dns_records);
      const dkim = recordOf(d, 'dkim');

      dns.set('broken.test', 'TXT', ['v=spf1 ip4:10.0.0.1 ~all']);
      let v = await verify(d.id);
      expect(v.verification_status).toBe('pending');
      expect(reasonOf(v, 'spf')).toContain('does not authorise ip4:127.0.0.1');
      expect(reasonOf(v, 'spf')).toContain('"v=spf1 ip4:10.0.0.1 ip4:127.0.0.1 ~all"');
      expect(recordOf(v, 'spf').found).toEqual(['v=spf1 ip4:10.0.0.1 ~all']);

      dns.set('broken.test', 'TXT', ['v=spf1 ip4:127.0.0.1 ~all', 'v=spf1 include:other.test ~all']);
      v = await verify(d.id);
      expect(reasonOf(v, 'spf')).toContain('Two SPF records');

      dns.set('broken.test', 'TXT', ['v=spf1 include:l1.spf.test ip4:127.0.0.1 ~all']);
      dns.set('l1.spf.test', 'TXT', ['v=spf1 include:l2.spf.test a mx a:x.test mx:y.test exists:z.test ~all']);
      dns.set('l2.spf.test', 'TXT', ['v=spf1 a mx ptr a:b.test ~all']);
      // every name they look up exists, so only the 10-lookup limit is broken (not the 2 void lookups)
      for (const name of ['l1.spf.test', 'l2.spf.test', 'x.test', 'b.test']) dns.set(name, 'A', ['192.0.2.25']);
      for (const name of ['l1.spf.test', 'l2.spf.test', 'y.test']) dns.set(name, 'MX', [{ exchange: 'mx.spf.test', priority: 10 }]);
      dns.set('z.test', 'A', ['127.0.0.2']);
      v = await verify(d.id);
      expect(reasonOf(v, 'spf')).toContain('needs more than 10 DNS lookups');
      expect(reasonOf(v, 'spf')).toContain('the lookup over the limit is "exists:z.test" in the record at l1.spf.test');
      dns.set('broken.test', 'TXT', ['v=spf1 ip4:127.0.0.1 ~all']);

      dns.clear(dkim.name);
      dns.set(dkim.name, 'CNAME', ['hop1.provider.test']);
      dns.set('hop1.provider.test', 'CNAME', ['hop2.provider.test']);
      dns.set('hop2.provider.test', 'TXT', ['v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAwrong']);
      v = await verify(d.id);
      expect(reasonOf(v, 'dkim')).toContain('DKIM key mismatch');
      expect(reasonOf(v, 'dkim')).toContain(`is a CNAME (${dkim.name} → hop1.provider.test → hop2.provider.test)`);
      dns.set('hop2.provider.test', 'CNAME', [dkim.name]);
      dns.clear('hop2.provider.test', 'TXT');
      v = await verify(d.id);
      expect(reasonOf(v, 'dkim')).toContain('CNAME chain that loops');

      dns.clear(dkim.name);
      dns.set(dkim.name, 'TXT', [dkim.value.replace(/p=MIIB(.)/, (_m, c: string) => `p=MIIB${c === 'A' ? 'B' : 'A'}`)]);
      v = await verify(d.id);
      expect(reasonOf(v, 'dkim')).toContain('DKIM key mismatch');
      dns.set(dkim.name, 'TXT', [dkim.value]);

      dns.set('_dmarc.broken.test', 'TXT', ['v=DMARC1; p=maybe; rua=mailto:x@broken.test']);
      v = await verify(d.id);
      expect(v.verification_status).toBe('verified'); // DMARC is recommended, never blocking
      expect(reasonOf(v, 'dmarc')).toContain('DMARC syntax error');
      expect(reasonOf(v, 'dmarc')).toContain('p= must be none, quarantine or reject');

      dns.clear('bounces.broken.test', 'MX');
      v = await verify(d.id);
      expect(v.mail_from_status).toBe('failed'); // it was verified, and its record disappeared
      expect(reasonOf(v, 'mail_from_mx')).toContain('No MX record found at bounces.broken.test');
    });

    it('reports a DNS server failure as temporary, without failing the domain', async () => {
      const d = await add('flaky.test');
      publish(dns, d.dns_records);
      dns.setFailure('_dmarc.flaky.test', 'SERVFAIL');
      dns.setFailure(recordOf(d, 'dkim').name, 'SERVFAIL');
      const v = await verify(d.id);
      expect(v.verification_status).toBe('temporary_failure');
      expect(reasonOf(v, 'dkim')).toContain('ESERVFAIL');
      dns.setFailure('_dmarc.flaky.test', null);
      dns.setFailure(recordOf(d, 'dkim').name, null);
      expect((await verify(d.id)).verification_status).toBe('verified');
    });

    it('flags a verified domain whose records disappear (background check), and recovers when they return', async () => {
      const d = await verified('vanishing.test');
      const dkim = recordOf(d, 'dkim');
      dns.clear(dkim.name);
      // run the real job through the jobs worker, now rather than tomorrow
      await runPendingJobBy(t.app.services.database.db, `domain:${d.id}:verify`, new Date());
      t.app.services.signal.wakeLocal('jobs');
      const flagged = await waitFor(async () => {
        const s = (await api(`domain-status/${d.id}`)).body.data as ApiDomain & { events: { type: string; detail: { reason?: string } }[] };
        return s.verification_status === 'failed' ? s : null;
      }, { what: 'the background check to flag the domain' });
      expect(flagged.events[0]).toMatchObject({ type: 'domain.verification_failed', detail: { reason: 'records_disappeared' } });
      const next = await t.app.services.domains.runScheduledCheck(d.id);
      expect(next!.getTime() - Date.now()).toBeLessThanOrEqual(3600_000); // back on the backoff schedule
      dns.set(dkim.name, 'TXT', [dkim.value]);
      await t.app.services.domains.runScheduledCheck(d.id);
      const back = (await api(`domain-status/${d.id}`)).body.data as ApiDomain & { events: { type: string }[] };
      expect(back.verification_status).toBe('verified');
      expect(back.events[0]!.type).toBe('domain.verified');
      const next2 = await t.app.services.domains.runScheduledCheck(d.id);
      expect(next2!.getTime() - Date.now()).toBeGreaterThan(23 * 3600_000); // daily once verified
    });
  });

  describe('domain sending keys and sending rules', () => {
    let shop: ApiDomain;
    let other: ApiDomain;
    let tied: string;

    beforeAll(async () => {
      shop = await verified('shop.test');
      other = await verified('other-brand.test');
      const res = await api('api-keys/create', { body: { name: 'shop sender', custom_domain_id: shop.id, expires_at: '2099-01-01T00:00:00Z' } });
      expect(res.status, res.text).toBe(200);
      const data = res.body.data as { api_key: Record<string, unknown>; secret_key: string };
      expect(data.api_key).toMatchObject({ name: 'shop sender', is_active: true, expires_at: '2099-01-01T00:00:00.000Z' });
      expect(Object.keys(data.api_key)).toEqual(expect.arrayContaining(['id', 'key_id', 'name', 'is_active', 'expires_at', 'created_at']));
      expect(data.secret_key).toMatch(/^kms_[a-f0-9]+\.live_[a-f0-9]{64}$/);
      tied = data.secret_key;
    });

    const send = (key: string, from?: string) => call(`${t.url}/api/v1/send-email/instant`, { key, body: { to: 'rcpt@example.org', subject: 'rules', body: 'x', ...(from ? { from } : {}) } });

    it('creates keys only for a verified domain of the workspace (400 DOMAIN_NOT_VERIFIED otherwise)', async () => {
      const pending = await add('not-yet.test');
      const res = await api('api-keys/create', { body: { domain_id: pending.id, name: 'x' } });
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ error: 'DOMAIN_NOT_VERIFIED', domain: 'not-yet.test', verification_status: 'pending' });
      expect((await api('api-keys/create', { body: { domain_id: 'dom_abc123' } })).status).toBe(404);
      expect((await api('api-keys/create', { body: { name: 'no domain' } })).status).toBe(400);
      expect((await api('api-keys/create', { body: { domain_id: shop.id, expires_at: '2001-01-01T00:00:00Z' } })).status).toBe(400);
      const viaDomainId = await api('api-keys/create', { body: { domain_id: shop.id } });
      expect((viaDomainId.body.data as { api_key: { name: string } }).api_key.name).toBe('shop.test sending key');
    });

    it('a tied key sends only from its domain and its subdomains', async () => {
      expect((await send(tied, 'orders@shop.test')).status).toBe(200);
      expect((await send(tied, 'news@mail.shop.test')).status).toBe(200);
      const elsewhere = await send(tied, 'hi@other-brand.test');
      expect(elsewhere.status).toBe(403);
      expect(elsewhere.body.error).toBe('DOMAIN_NOT_VERIFIED');
      expect(elsewhere.body.message).toContain('only send from addresses at shop.test');
      expect((await send(tied)).status).toBe(403); // DEFAULT_FROM is not at shop.test
      const integration = await call(`${t.url}/api/v1/integrations/verify`, { key: tied });
      expect((integration.body.data as { domain: string }).domain).toBe(shop.id);
    });

    it('an untied key sends from any verified domain of its workspace, never from others', async () => {
      expect((await send(ws.key, 'a@shop.test')).status).toBe(200);
      expect((await send(ws.key, 'a@other-brand.test')).status).toBe(200);
      expect((await send(ws.key)).status).toBe(200); // the operator's DEFAULT_FROM
      const unknown = await send(ws.key, 'a@nowhere.test');
      expect(unknown.status).toBe(403);
      expect(unknown.body).toMatchObject({ error: 'DOMAIN_NOT_VERIFIED', domain: 'nowhere.test' });
      expect(unknown.body.message).toContain('nowhere.test');
      await add('pending-brand.test');
      const pending = await send(ws.key, 'a@pending-brand.test');
      expect(pending.status).toBe(403);
      expect(pending.body.message).toContain('not verified (status: pending)');
      const stranger = await t.workspace();
      const foreign = await send(stranger.key, 'a@shop.test');
      expect(foreign.status).toBe(403);
      expect(foreign.body.message).toContain('shop.test');
      expect(other.verification_status).toBe('verified');
    });

    it('deleting a domain is irreversible and its keys stop working at once', async () => {
      const doomed = await verified('doomed.test');
      const created = await api('api-keys/create', { body: { domain_id: doomed.id } });
      const key = (created.body.data as { secret_key: string }).secret_key;
      expect((await send(key, 'x@doomed.test')).status).toBe(200);
      const del = await call(`${t.url}/api/v1/public/domains/delete-domain`, { method: 'DELETE', key: ws.adminKey, body: { domain_id: doomed.id } });
      expect(del.status, del.text).toBe(200);
      expect(del.body).toMatchObject({ success: true, data: { id: doomed.id, deleted: true, revoked_keys: 1 } });
      expect((await call(`${t.url}/api/v1/integrations/verify`, { key })).status).toBe(401);
      expect((await send(ws.key, 'x@doomed.test')).status).toBe(403);
      expect((await api(`domain-status/${doomed.id}`)).status).toBe(404);
      expect((await api(`delete-domain/${doomed.id}`, { method: 'DELETE' })).status).toBe(404);
      const keys = await t.app.services.keys.list(ws.id);
      expect(keys.find((k) => k.domain_id === doomed.id)?.is_active).toBe(false);
      // the name can be added again, as a new domain with a new key
      const again = await add('doomed.test');
      expect(again.id).not.toBe(doomed.id);
      expect(recordOf(again, 'dkim').value).not.toBe(recordOf(doomed, 'dkim').value);
    });
  });

  describe('DKIM key rotation (extension)', () => {
    it('publishes a new selector next to the old one and switches only once it verifies', async () => {
      const d = await verified('rotate.test');
      expect((await api(`${(await add('unverified-rotate.test')).id}/rotate-dkim`, { method: 'POST', body: {} })).status).toBe(409);
      const started = await api(`${d.id}/rotate-dkim`, { method: 'POST', body: {} });
      expect(started.status, started.text).toBe(200);
      const rotating = started.body.data as ApiDomain;
      expect(rotating.dkim).toMatchObject({ selector: 'keplars', pending_selector: 'keplars2' });
      expect(recordOf(rotating, 'dkim_rotation')).toMatchObject({ name: 'keplars2._domainkey.rotate.test', status: 'pending', required: false });
      expect(recordOf(rotating, 'dkim').name).toBe('keplars._domainkey.rotate.test');
      const again = await api(`${d.id}/rotate-dkim`, { method: 'POST', body: {} });
      expect(again.body.message).toContain('already waiting');

      // not published yet: the domain stays verified and keeps signing with the old key
      const waiting = await verify(d.id);
      expect(waiting.verification_status).toBe('verified');
      expect(waiting.dkim.selector).toBe('keplars');

      publish(dns, [recordOf(rotating, 'dkim_rotation')]);
      const switched = await verify(d.id);
      expect(switched.dkim).toMatchObject({ selector: 'keplars2', pending_selector: null });
      expect(recordOf(switched, 'dkim').name).toBe('keplars2._domainkey.rotate.test');
      expect(recordOf(switched, 'dkim_retiring')).toMatchObject({ name: 'keplars._domainkey.rotate.test', status: 'retiring' });
      const events = ((await api(`domain-status/${d.id}`)).body.data as { events: { type: string; detail: Record<string, unknown> }[] }).events;
      expect(events[0]).toMatchObject({ type: 'domain.dkim_rotated', detail: { from_selector: 'keplars', to_selector: 'keplars2' } });
    });
  });
});
