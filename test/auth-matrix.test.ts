import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RouteAuth } from '../src/modules/keys/auth-hook.js';
import { ADMIN_SCOPES } from '../src/modules/keys/key-format.js';
import { listRoutes } from '../src/platform/http/server.js';
import { call, startTestApp, type TestApp } from './support/app.js';

/**
 * Walks every registered route and checks what its declared access rule promises: no key → 401, the wrong
 * key type → 403 FORBIDDEN, an admin key without the scope → 403 INSUFFICIENT_SCOPE. New routes are covered
 * automatically.
 */
describe('access rules of every route', () => {
  let t: TestApp;
  let ws: { id: string; adminKey: string; key: string };
  let scopeless: string;

  beforeAll(async () => {
    t = await startTestApp({ backend: 'pglite' });
    ws = await t.workspace();
    scopeless = (await t.app.services.keys.createAdminKey({ workspaceId: ws.id, scopes: [] })).secretKey;
  });
  afterAll(() => t?.close());

  const routes = () =>
    listRoutes(t.app.http!)
      .map((r) => ({ ...r, auth: (r.config as { auth?: RouteAuth } | undefined)?.auth }))
      .map((r) => ({ ...r, path: r.url.replace(/:[^/]+/g, 'unknown-id') }));

  it('finds the routes and every API route declares a rule', () => {
    const all = routes();
    expect(all.length).toBeGreaterThan(20);
    // public by design: health, readiness and the hosted pages behind signed tokens
    const open = all.filter((r) => !r.auth).map((r) => `${r.method} ${r.url}`);
    expect(open.sort()).toEqual(['GET /health', 'GET /ready', 'GET /u/:token', 'GET /v/:token', 'POST /u/:token']);
  });

  it('no key → 401 on every protected route', async () => {
    for (const r of routes().filter((x) => x.auth)) {
      const res = await call(`${t.url}${r.path}`, { method: r.method, ...(r.method === 'GET' ? {} : { body: {} }) });
      expect(res.status, `${r.method} ${r.url}`).toBe(401);
      expect(res.body.error).toBe('UNAUTHORIZED');
    }
  });

  it('the wrong key type → 403 FORBIDDEN; a missing scope → 403 INSUFFICIENT_SCOPE', async () => {
    for (const r of routes().filter((x) => x.auth && x.auth.key !== 'any')) {
      const wrong = r.auth!.key === 'regular' ? ws.adminKey : ws.key;
      const res = await call(`${t.url}${r.path}`, { method: r.method, key: wrong, ...(r.method === 'GET' ? {} : { body: {} }) });
      expect(res.status, `${r.method} ${r.url}`).toBe(403);
      expect(res.body.error).toBe('FORBIDDEN');
    }
    for (const r of routes().filter((x) => x.auth?.scope)) {
      expect(ADMIN_SCOPES).toContain(r.auth!.scope);
      const res = await call(`${t.url}${r.path}`, { method: r.method, key: scopeless, ...(r.method === 'GET' ? {} : { body: {} }) });
      expect(res.status, `${r.method} ${r.url}`).toBe(403);
      expect(res.body.error).toBe('INSUFFICIENT_SCOPE');
    }
  });

  it('the right key gets past authorisation on every route (whatever the handler then says)', async () => {
    for (const r of routes().filter((x) => x.auth)) {
      const key = r.auth!.key === 'admin' ? ws.adminKey : ws.key;
      const res = await call(`${t.url}${r.path}`, { method: r.method, key, ...(r.method === 'GET' ? {} : { body: {} }) });
      expect([401, 403], `${r.method} ${r.url}`).not.toContain(res.status);
      expect(typeof res.body).toBe('object');
    }
  });
});
