import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startTestApp, type TestApp } from './support/app.js';
import { BACKENDS } from './support/databases.js';
import { startDnsServer, type TestDnsServer } from './support/dns-server.js';
import { publish, TEST_SECRET_KEY, type ApiDomain } from './support/domains.js';

const MAX_DOMAINS = 3;
const MAX_KEYS = 4;

describe.each(BACKENDS)('per-workspace caps on domains and sending keys on %s', (backend) => {
  let t: TestApp;
  let dns: TestDnsServer;

  beforeAll(async () => {
    dns = await startDnsServer();
    t = await startTestApp({
      backend,
      env: {
        DELIVERY_MODE: 'mx',
        DNS_SERVERS: dns.server,
        SECRET_KEY: TEST_SECRET_KEY,
        BOUNCE_HOST: 'bounce.keplars.test',
        MAX_DOMAINS_PER_WORKSPACE: String(MAX_DOMAINS),
        MAX_SENDING_KEYS_PER_WORKSPACE: String(MAX_KEYS),
      },
    });
  });
  afterAll(async () => {
    await t?.close();
    await dns?.close();
  });

  const addDomain = (adminKey: string, domain: string) => call(`${t.url}/api/v1/public/domains/add-domain`, { key: adminKey, body: { domain } });
  const createKey = (adminKey: string, domainId: string) => call(`${t.url}/api/v1/public/domains/api-keys/create`, { key: adminKey, body: { custom_domain_id: domainId } });
  const liveDomains = async (workspaceId: string) =>
    Number((await t.app.services.database.db.selectFrom('domains').select((eb) => eb.fn.countAll<string>().as('n')).where('workspace_id', '=', workspaceId).where('deleted_at', 'is', null).executeTakeFirstOrThrow()).n);
  const liveRegularKeys = async (workspaceId: string) =>
    (await t.app.services.keys.list(workspaceId)).filter((k) => k.kind === 'regular' && k.is_active).length;

  it('refuses a domain over MAX_DOMAINS_PER_WORKSPACE with 409 naming the limit; deleting one makes room', async () => {
    const ws = await t.workspace();
    const added: ApiDomain[] = [];
    for (let i = 0; i < MAX_DOMAINS; i++) {
      const res = await addDomain(ws.adminKey, `cap${i}.${backend}.test`);
      expect(res.status, res.text).toBe(200);
      added.push(res.body.data as ApiDomain);
    }
    const over = await addDomain(ws.adminKey, `over.${backend}.test`);
    expect(over.status).toBe(409);
    expect(over.body).toMatchObject({ success: false, error: 'CONFLICT', code: 'CONFLICT' });
    expect(over.body.message).toBe(`A workspace may have at most ${MAX_DOMAINS} custom domains; delete one first`);

    const other = await t.workspace();
    expect((await addDomain(other.adminKey, `other.${backend}.test`)).status).toBe(200);

    const del = await call(`${t.url}/api/v1/public/domains/delete-domain/${added[0]!.id}`, { method: 'DELETE', key: ws.adminKey });
    expect(del.status, del.text).toBe(200);
    expect((await addDomain(ws.adminKey, `over.${backend}.test`)).status).toBe(200);
    expect(await liveDomains(ws.id)).toBe(MAX_DOMAINS);
  });

  it('cannot overshoot the domain cap when adds race', async () => {
    const ws = await t.workspace();
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => addDomain(ws.adminKey, `race${i}.${backend}.test`)));
    expect(results.filter((r) => r.status === 200)).toHaveLength(MAX_DOMAINS);
    expect(results.filter((r) => r.status === 409)).toHaveLength(8 - MAX_DOMAINS);
    expect(await liveDomains(ws.id)).toBe(MAX_DOMAINS);
  });

  describe('sending keys', () => {
    /** A workspace (which starts with one sending key) and a verified domain of it. */
    async function withVerifiedDomain(name: string) {
      const ws = await t.workspace();
      const d = (await addDomain(ws.adminKey, name)).body.data as ApiDomain;
      publish(dns, d.dns_records);
      const v = await call(`${t.url}/api/v1/public/domains/verify-domain/${d.id}`, { method: 'POST', key: ws.adminKey, body: {} });
      expect((v.body.data as ApiDomain).verification_status, v.text).toBe('verified');
      return { ws, domain: d };
    }

    it('refuses a sending key over MAX_SENDING_KEYS_PER_WORKSPACE with 409 naming the limit; revoking one makes room', async () => {
      const { ws, domain } = await withVerifiedDomain(`keys.${backend}.test`);
      const ids: string[] = [];
      for (let i = 1; i < MAX_KEYS; i++) {
        const res = await createKey(ws.adminKey, domain.id);
        expect(res.status, res.text).toBe(200);
        ids.push((res.body.data as { api_key: { id: string } }).api_key.id);
      }
      const over = await createKey(ws.adminKey, domain.id);
      expect(over.status).toBe(409);
      expect(over.body).toMatchObject({ success: false, error: 'CONFLICT' });
      expect(over.body.message).toBe(`A workspace may have at most ${MAX_KEYS} sending API keys; revoke one first`);
      // admin keys are counted apart (at most 5), so one can still be made
      await expect(t.app.services.keys.createAdminKey({ workspaceId: ws.id, scopes: ['contacts:read'] })).resolves.toBeTruthy();

      expect(await t.app.services.keys.revoke(ws.id, ids[0]!)).toBe(true);
      expect((await createKey(ws.adminKey, domain.id)).status).toBe(200);
      expect(await liveRegularKeys(ws.id)).toBe(MAX_KEYS);
    });

    it('cannot overshoot the key cap when creations race', async () => {
      const { ws, domain } = await withVerifiedDomain(`key-race.${backend}.test`);
      const results = await Promise.all(Array.from({ length: 10 }, () => createKey(ws.adminKey, domain.id)));
      expect(results.filter((r) => r.status === 200)).toHaveLength(MAX_KEYS - 1);
      expect(results.filter((r) => r.status === 409)).toHaveLength(10 - (MAX_KEYS - 1));
      expect(await liveRegularKeys(ws.id)).toBe(MAX_KEYS);
    });
  });
});
