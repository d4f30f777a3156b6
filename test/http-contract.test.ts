import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startTestApp, type TestApp } from './support/app.js';
import { BACKENDS } from './support/databases.js';

describe.each(BACKENDS)('HTTP contract on %s', (backend) => {
  let t: TestApp;
  let ws: { id: string; adminKey: string; key: string };

  beforeAll(async () => {
    t = await startTestApp({ backend, env: { PLAN_FREE_REQUESTS_PER_SECOND: '5' } });
    ws = await t.workspace();
  });
  afterAll(() => t?.close());

  it('GET /health answers 200 once ready', async () => {
    const res = await call(`${t.url}/health`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ success: true, status: 'ok', database: backend });
  });

  it('an unknown route is a 404 in the error envelope', async () => {
    const res = await call(`${t.url}/api/v1/nothing-here`, { key: ws.key });
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ success: false, error: 'NOT_FOUND', code: 'NOT_FOUND', message: expect.any(String) });
  });

  it('a wrong method is a 405 naming the allowed methods', async () => {
    const res = await call(`${t.url}/api/v1/send-email/instant`, { method: 'GET', key: ws.key });
    expect(res.status).toBe(405);
    expect(res.body.error).toBe('METHOD_NOT_ALLOWED');
    expect(res.headers.get('allow')).toBe('POST');
  });

  it('an unsupported content type is a 415', async () => {
    const res = await call(`${t.url}/api/v1/send-email/async`, { key: ws.key, rawBody: '<xml/>', headers: { 'content-type': 'application/xml' } });
    expect(res.status).toBe(415);
    expect(res.body.error).toBe('UNSUPPORTED_MEDIA_TYPE');
  });

  it('a body over the limit is a 413', async () => {
    const big = JSON.stringify({ to: 'a@x.io', subject: 's', body: 'x'.repeat(61 * 1024 * 1024) });
    const sent = await call(`${t.url}/api/v1/send-email/async`, { key: ws.key, rawBody: big, headers: { 'content-type': 'application/json' } });
    expect(sent.status).toBe(413);
    expect(sent.body.error).toBe('PAYLOAD_TOO_LARGE');
  });

  it('malformed JSON is a 400 VALIDATION_ERROR', async () => {
    const res = await call(`${t.url}/api/v1/send-email/async`, { key: ws.key, rawBody: '{"to": ', headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ success: false, error: 'VALIDATION_ERROR', code: 'VALIDATION_ERROR' });
  });

  it('too deeply nested JSON is a 400, not a crash', async () => {
    const deep = `{"to":"a@x.io","metadata":${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)}}`;
    const res = await call(`${t.url}/api/v1/send-email/async`, { key: ws.key, rawBody: deep, headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(400);
    expect(res.body.message).toContain('nested deeper');
  });

  it('a JSON array or scalar body is a 400 in the envelope', async () => {
    const res = await call(`${t.url}/api/v1/send-email/async`, { key: ws.key, rawBody: '[1,2]', headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(400);
    expect(res.body.message).toBe('Request body must be a JSON object');
  });

  it('an empty JSON body is treated as an empty object (validation, not a parse error)', async () => {
    const res = await call(`${t.url}/api/v1/send-email/async`, { key: ws.key, rawBody: '', headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(400);
    expect(res.body.message).toBe("Field 'to' is required");
  });

  describe('authentication and key types', () => {
    it('no key → 401 UNAUTHORIZED', async () => {
      const res = await call(`${t.url}/api/v1/send-email/async`, { body: { to: 'a@x.io', subject: 's', body: 'b' } });
      expect(res.status).toBe(401);
      expect(res.body.error).toBe('UNAUTHORIZED');
    });

    it('a malformed, unknown or wrong-case key → 401', async () => {
      for (const key of ['nope', `${ws.key}0`, ws.key.toUpperCase(), ws.key.replace(/.$/, ws.key.endsWith('a') ? 'b' : 'a')]) {
        const res = await call(`${t.url}/api/v1/integrations/verify`, { key });
        expect(res.status, key).toBe(401);
      }
    });

    it('keys have the SDK-mandated shape and at least 128 bits of secret', () => {
      for (const key of [ws.key, ws.adminKey]) {
        expect(key).toMatch(/^kms_[a-f0-9]+\.(live|adm)_[a-f0-9]+$/);
        expect(key.split('_').pop()!.length * 4).toBeGreaterThanOrEqual(128);
      }
      expect(ws.key).toContain('.live_');
      expect(ws.adminKey).toContain('.adm_');
    });

    it('GET /api/v1/integrations/verify accepts any valid key and describes it', async () => {
      const regular = await call(`${t.url}/api/v1/integrations/verify`, { key: ws.key });
      expect(regular.status).toBe(200);
      expect(regular.body.data).toMatchObject({ key_type: 'regular', workspace_id: ws.id });
      const admin = await call(`${t.url}/api/v1/integrations/verify`, { key: ws.adminKey });
      expect(admin.status).toBe(200);
      expect((admin.body.data as { scopes: string[] }).scopes).toContain('domains:manage');
    });

    it('an admin key on a send endpoint → 403 FORBIDDEN', async () => {
      const res = await call(`${t.url}/api/v1/send-email/instant`, { key: ws.adminKey, body: { to: 'a@x.io', subject: 's', body: 'b' } });
      expect(res.status).toBe(403);
      expect(res.body.error).toBe('FORBIDDEN');
    });

    it('a revoked key stops working; secrets are stored only as hashes', async () => {
      const created = await t.app.services.keys.createRegularKey({ workspaceId: ws.id, name: 'to revoke' });
      expect((await call(`${t.url}/api/v1/integrations/verify`, { key: created.secretKey })).status).toBe(200);
      const stored = await t.app.services.database.db.selectFrom('api_keys').selectAll().where('id', '=', created.key.id).executeTakeFirstOrThrow();
      expect(JSON.stringify(stored)).not.toContain(created.secretKey.split('.live_')[1]);
      await t.app.services.keys.revoke(ws.id, created.key.id);
      expect((await call(`${t.url}/api/v1/integrations/verify`, { key: created.secretKey })).status).toBe(401);
    });

    it('an expired key is refused', async () => {
      const created = await t.app.services.keys.createRegularKey({ workspaceId: ws.id, expiresAt: new Date(Date.now() - 1000) });
      expect((await call(`${t.url}/api/v1/integrations/verify`, { key: created.secretKey })).status).toBe(401);
    });

    it('records last_used_at', async () => {
      const created = await t.app.services.keys.createRegularKey({ workspaceId: ws.id });
      await call(`${t.url}/api/v1/integrations/verify`, { key: created.secretKey });
      const keys = await t.app.services.keys.list(ws.id);
      await expect.poll(async () => (await t.app.services.keys.list(ws.id)).find((k) => k.id === created.key.id)?.last_used_at).not.toBeNull();
      expect(keys.length).toBeGreaterThan(1);
    });

    it('the sixth admin key of a workspace is refused', async () => {
      const w = await t.workspace();
      for (let i = 0; i < 4; i++) await t.app.services.keys.createAdminKey({ workspaceId: w.id, scopes: ['contacts:read'] });
      await expect(t.app.services.keys.createAdminKey({ workspaceId: w.id })).rejects.toThrow(/at most 5 admin/);
    });
  });

  describe('rate limits', () => {
    it('every response carries X-RateLimit-* headers, authenticated or not', async () => {
      for (const res of [await call(`${t.url}/api/v1/integrations/verify`, { key: ws.key }), await call(`${t.url}/health`), await call(`${t.url}/nope`)]) {
        expect(Number(res.headers.get('x-ratelimit-limit'))).toBeGreaterThan(0);
        expect(res.headers.get('x-ratelimit-remaining')).toMatch(/^\d+$/);
        expect(Number(res.headers.get('x-ratelimit-reset'))).toBeGreaterThanOrEqual(Math.floor(Date.now() / 1000));
      }
    });

    it('a key over its plan rate gets 429 RATE_LIMITED with Retry-After', async () => {
      const free = await t.workspace('FREE');
      const results = await Promise.all(Array.from({ length: 12 }, () => call(`${t.url}/api/v1/integrations/verify`, { key: free.key })));
      const limited = results.filter((r) => r.status === 429);
      expect(limited.length).toBeGreaterThan(0);
      expect(limited[0]!.body.error).toBe('RATE_LIMITED');
      expect(limited[0]!.headers.get('retry-after')).toBe('1');
      expect(limited[0]!.headers.get('x-ratelimit-limit')).toBe('5');
      expect(results.filter((r) => r.status === 200).length).toBeLessThanOrEqual(5 * 2); // at most two windows
    });
  });
});
