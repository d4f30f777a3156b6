import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startTestApp, type TestApp } from './support/app.js';
import { BACKENDS } from './support/databases.js';
import { startDnsServer, type TestDnsServer } from './support/dns-server.js';
import { publish, recordOf, TEST_SECRET_KEY, type ApiDomain } from './support/domains.js';

type Verified = ApiDomain & { status: string; message: string; checks: Record<string, { status: string; reason: string | null }> };

const LEVELS = 10;
const WIDTH = 4;
const treeName = (level: number, i: number) => `l${level}-${i}.spf-tree.test`;
const includesOf = (level: number) => Array.from({ length: WIDTH }, (_, i) => `include:${treeName(level, i)}`).join(' ');

/** Finding 4 of the review: one verify-domain over this SPF tree sent 120,000 queries and had not answered after 40 s. */
function publishSpfTree(dns: TestDnsServer, domain: string): void {
  for (let level = 1; level <= LEVELS; level++) {
    for (let i = 0; i < WIDTH; i++) dns.set(treeName(level, i), 'TXT', [level === LEVELS ? 'v=spf1 ip4:127.0.0.1 ~all' : `v=spf1 ${includesOf(level + 1)} ~all`]);
  }
  dns.set(domain, 'TXT', [`v=spf1 ${includesOf(1)} ~all`]);
}

describe.each(BACKENDS)('domain verification limits on %s', (backend) => {
  let t: TestApp;
  let dns: TestDnsServer;
  let ws: { id: string; adminKey: string; key: string };
  const TIME_LIMIT_MS = 1000;

  beforeAll(async () => {
    dns = await startDnsServer();
    t = await startTestApp({
      backend,
      env: { DELIVERY_MODE: 'mx', DNS_SERVERS: dns.server, SECRET_KEY: TEST_SECRET_KEY, BOUNCE_HOST: 'bounce.keplars.test', DOMAIN_VERIFY_TIMEOUT_MS: String(TIME_LIMIT_MS) },
    });
    ws = await t.workspace();
  });
  afterAll(async () => {
    await t?.close();
    await dns?.close();
  });

  const add = async (domain: string): Promise<ApiDomain> => {
    const res = await call(`${t.url}/api/v1/public/domains/add-domain`, { key: ws.adminKey, body: { domain } });
    expect(res.status, res.text).toBe(200);
    return res.body.data as ApiDomain;
  };
  const verify = async (id: string): Promise<Verified> => {
    const res = await call(`${t.url}/api/v1/public/domains/verify-domain/${id}`, { method: 'POST', key: ws.adminKey, rawBody: '', headers: { 'content-type': 'application/json' } });
    expect(res.status, res.text).toBe(200);
    return res.body.data as Verified;
  };
  const status = async (id: string): Promise<Verified> =>
    (await call(`${t.url}/api/v1/public/domains/domain-status/${id}`, { key: ws.adminKey })).body.data as Verified;

  it('stops following the review’s SPF tree at the 10-lookup limit, with tens of queries', async () => {
    const d = await add('spf-tree.test');
    publish(dns, d.dns_records, (r) => r.purpose !== 'spf');
    publishSpfTree(dns, 'spf-tree.test');
    const before = dns.queries.length;
    const v = await verify(d.id);
    const queries = dns.queries.length - before;
    expect(recordOf(v, 'spf').status).toBe('failed');
    expect(recordOf(v, 'spf').reason).toContain('needs more than 10 DNS lookups');
    expect(recordOf(v, 'spf').reason).toContain('the 10-lookup limit');
    expect(recordOf(v, 'spf').reason).toContain(`"include:${treeName(LEVELS, 1)}" in the record at ${treeName(LEVELS - 1, 0)}`);
    expect(v.verification_status).toBe('pending');
    // every record of the domain, CNAME checks included: 10 for the SPF tree, a few for each other record
    expect(queries, `${queries} queries`).toBeLessThan(40);
  });

  it('fails an SPF record with more than two lookups that find nothing, saying so', async () => {
    const d = await add('void-spf.test');
    publish(dns, d.dns_records);
    dns.set('void-spf.test', 'TXT', ['v=spf1 a:old-mailer.void-spf.test mx:gone.void-spf.test exists:%{i}.x.test include:retired.example.test a:never-reached.test ip4:127.0.0.1 ~all']);
    const v = await verify(d.id);
    expect(v.verification_status).toBe('pending');
    const reason = recordOf(v, 'spf').reason ?? '';
    expect(reason).toContain('more than 2 DNS lookups that find nothing');
    expect(reason).toContain('"include:retired.example.test"');
    expect(dns.queries.map((q) => q.name)).not.toContain('never-reached.test');
  });

  it('ends a verification at DOMAIN_VERIFY_TIMEOUT_MS: records DNS did not answer are temporary failures that say so', async () => {
    const d = await add('slow-dns.test');
    publish(dns, d.dns_records);
    const dkim = recordOf(d, 'dkim').name;
    dns.setFailure(dkim, 'TIMEOUT');
    try {
      const started = Date.now();
      const v = await verify(d.id);
      // without the limit this check waits 2 × 5 s for each of its two lookups
      expect(Date.now() - started).toBeLessThan(6000);
      expect(v.verification_status).toBe('temporary_failure');
      expect(v.checks.dkim).toMatchObject({ status: 'temporary_failure' });
      expect(v.checks.dkim!.reason).toContain('timed out');
      expect(v.checks.spf!.status).toBe('verified');
    } finally {
      dns.setFailure(dkim, null);
    }
  });

  it('never un-verifies a verified domain when DNS does not answer in time, in verify-domain or the background check', async () => {
    const d = await add('steady.test');
    publish(dns, d.dns_records);
    expect((await verify(d.id)).verification_status).toBe('verified');
    const dkim = recordOf(d, 'dkim').name;
    dns.setFailure(dkim, 'TIMEOUT');
    dns.setFailure('steady.test', 'TIMEOUT');
    try {
      const v = await verify(d.id);
      expect(v.verification_status).toBe('verified');
      expect(v.checks.dkim!.reason).toContain('timed out');
      expect(v.checks.spf!.reason).toContain('timed out');

      const started = Date.now();
      const next = await t.app.services.domains.runScheduledCheck(d.id);
      expect(Date.now() - started).toBeLessThan(6000);
      expect(next).not.toBeNull();
      const s = await status(d.id);
      expect(s.verification_status).toBe('verified');
      expect(s.checks.dkim).toMatchObject({ status: 'temporary_failure' });
      expect(s.checks.dkim!.reason).toContain('timed out');
    } finally {
      dns.setFailure(dkim, null);
      dns.setFailure('steady.test', null);
    }
  });
});
