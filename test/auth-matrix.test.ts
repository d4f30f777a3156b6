import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RouteAuth } from '../src/modules/keys/auth-hook.js';
import { ADMIN_SCOPES } from '../src/modules/keys/key-format.js';
import { uuidv7 } from '../src/platform/ids.js';
import { listRoutes } from '../src/platform/http/server.js';
import { call, startTestApp, waitFor, type ApiResponse, type TestApp } from './support/app.js';

/**
 * Walks every registered route and checks what its declared access rule promises: no key → 401, the wrong
 * key type → 403 FORBIDDEN, an admin key without the scope → 403 INSUFFICIENT_SCOPE, a sending key tied to a
 * custom domain → 403 FORBIDDEN where refused and only its own domain's emails where `own-domain`. New routes
 * are covered automatically; a new `own-domain` route fails this test until it has a probe below.
 */
describe('access rules of every route', () => {
  let t: TestApp;
  let ws: { id: string; adminKey: string; key: string };
  let scopeless: string;
  let everyOtherScope: Record<string, string>;
  /** sending keys tied to the custom domains alpha.test and beta.test */
  let alphaKey: string;
  let betaKey: string;
  /** what each domain's key sent: an immediate email, its captured copy and a scheduled email */
  const sent: Record<'alpha' | 'beta', { email: string; captured: string; scheduled: string }> = {
    alpha: { email: '', captured: '', scheduled: '' },
    beta: { email: '', captured: '', scheduled: '' },
  };

  async function addVerifiedDomain(workspaceId: string, name: string): Promise<string> {
    const id = uuidv7();
    await t.app.services.database.db
      .insertInto('domains')
      .values({ id, workspace_id: workspaceId, name, region: 'us-east-1', mail_from_domain: `bounces.${name}`, verification_status: 'verified' })
      .execute();
    return id;
  }

  async function sendAs(key: string, from: string): Promise<{ email: string; captured: string; scheduled: string }> {
    const email = await call(`${t.url}/api/v1/send-email/instant`, { key, body: { from, to: 'someone@example.com', subject: `from ${from}`, text: 'hi' } });
    expect(email.status, JSON.stringify(email.body)).toBe(200);
    const scheduledAt = new Date(Date.now() + 3600_000).toISOString();
    const scheduled = await call(`${t.url}/api/v1/send-email/schedule`, { key, body: { from, to: 'someone@example.com', subject: 'later', text: 'hi', scheduled_at: scheduledAt } });
    expect(scheduled.status, JSON.stringify(scheduled.body)).toBe(200);
    const emailId = email.body.id as string;
    const captured = await waitFor(async () => {
      const list = await call(`${t.url}/api/v1/captured?email_id=${emailId}`, { key: ws.key });
      return ((list.body.data as { messages: { id: string }[] }).messages[0]?.id) ?? null;
    }, { what: `the captured copy of ${emailId}` });
    return { email: emailId, captured, scheduled: scheduled.body.id as string };
  }

  beforeAll(async () => {
    // the no-key walk sends one unauthenticated request per route, more than the default per-IP rate allows
    t = await startTestApp({ backend: 'pglite', env: { UNAUTHENTICATED_REQUESTS_PER_SECOND: '100000' } });
    ws = await t.workspace();
    const keys = t.app.services.keys;
    scopeless = (await keys.createAdminKey({ workspaceId: ws.id, scopes: [] })).secretKey;
    everyOtherScope = {};
    // one key lacking each scope; a workspace has at most 5 admin keys (its own first one included), so they are
    // spread over workspaces of their own (the scope check comes before any lookup)
    let holder = ws.id;
    let held = 2; // the workspace's first admin key and the scopeless one
    for (const scope of ADMIN_SCOPES) {
      if (held === 5) {
        holder = (await t.workspace()).id;
        held = 1;
      }
      everyOtherScope[scope] = (await keys.createAdminKey({ workspaceId: holder, scopes: ADMIN_SCOPES.filter((s) => s !== scope) })).secretKey;
      held++;
    }
    alphaKey = (await keys.createRegularKey({ workspaceId: ws.id, domainId: await addVerifiedDomain(ws.id, 'alpha.test') })).secretKey;
    betaKey = (await keys.createRegularKey({ workspaceId: ws.id, domainId: await addVerifiedDomain(ws.id, 'beta.test') })).secretKey;
    sent.alpha = await sendAs(alphaKey, 'news@mail.alpha.test');
    sent.beta = await sendAs(betaKey, 'news@beta.test');
  });
  afterAll(() => t?.close());

  const routes = () =>
    listRoutes(t.app.http!)
      .map((r) => ({ ...r, auth: (r.config as { auth?: RouteAuth } | undefined)?.auth }))
      .map((r) => ({ ...r, path: r.url.replace(/:[^/]+/g, 'unknown-id') }));
  const request = (r: { method: string; path: string }, key?: string) =>
    call(`${t.url}${r.path}`, { method: r.method, ...(key ? { key } : {}), ...(r.method === 'GET' ? {} : { body: {} }) });

  it('finds the routes and every API route declares a rule', () => {
    const all = routes();
    expect(all.length).toBeGreaterThan(20);
    // public by design: health, readiness, the API reference (its page, assets and document), the hosted
    // pages and the tracking pixel and links behind signed tokens, and the metrics (their own rule: METRICS_TOKEN or loopback clients, see
    // observability.test.ts)
    const open = all.filter((r) => !r.auth).map((r) => `${r.method} ${r.url}`);
    expect(open.sort()).toEqual([
      'GET /api/v1/openapi.json',
      'GET /docs',
      'GET /docs/json',
      'GET /docs/static/*',
      'GET /docs/static/index.html',
      'GET /docs/static/swagger-initializer.js',
      'GET /docs/yaml',
      'GET /health',
      'GET /metrics',
      'GET /ready',
      'GET /s/:token',
      'GET /s/confirm/:token',
      'GET /t/c/:token',
      'GET /t/o/:token',
      'GET /u/:token',
      'GET /v/:token',
      'POST /s/:token',
      'POST /s/confirm/:token',
      'POST /u/:token',
      'POST /u/resubscribe/:token',
    ]);
    for (const r of all.filter((x) => x.auth && x.auth.key !== 'admin')) {
      expect(['all', 'own-domain', 'refused'], `${r.method} ${r.url} must say what a domain-tied key may do`).toContain((r.auth as { domainKey?: string }).domainKey);
    }
  });

  it('no key → 401 on every protected route', async () => {
    for (const r of routes().filter((x) => x.auth)) {
      const res = await request(r);
      expect(res.status, `${r.method} ${r.url}`).toBe(401);
      expect(res.body.error).toBe('UNAUTHORIZED');
    }
  });

  it('the wrong key type → 403 FORBIDDEN; a missing scope → 403 INSUFFICIENT_SCOPE', async () => {
    for (const r of routes().filter((x) => x.auth && x.auth.key !== 'any')) {
      const res = await request(r, r.auth!.key === 'regular' ? ws.adminKey : ws.key);
      expect(res.status, `${r.method} ${r.url}`).toBe(403);
      expect(res.body.error).toBe('FORBIDDEN');
    }
    for (const r of routes().filter((x) => x.auth?.scope)) {
      expect(ADMIN_SCOPES).toContain(r.auth!.scope);
      for (const key of [scopeless, everyOtherScope[r.auth!.scope!]].filter((k): k is string => k !== undefined)) {
        const res = await request(r, key);
        expect(res.status, `${r.method} ${r.url}`).toBe(403);
        expect(res.body.error).toBe('INSUFFICIENT_SCOPE');
      }
    }
  });

  it('a scope binds admin keys only: a workspace sending key reaches every route open to regular keys', async () => {
    for (const r of routes().filter((x) => x.auth && x.auth.key !== 'admin')) {
      const res = await request(r, ws.key);
      expect([401, 403], `${r.method} ${r.url}`).not.toContain(res.status);
    }
  });

  it('the right key gets past authorisation on every route (whatever the handler then says)', async () => {
    for (const r of routes().filter((x) => x.auth)) {
      const res = await request(r, r.auth!.key === 'admin' ? ws.adminKey : ws.key);
      expect([401, 403], `${r.method} ${r.url}`).not.toContain(res.status);
      expect(typeof res.body).toBe('object');
    }
  });

  it('a domain-tied key → 403 FORBIDDEN where refused, and passes elsewhere', async () => {
    const byRule = (rule: string) => routes().filter((x) => x.auth && x.auth.key !== 'admin' && (x.auth as { domainKey: string }).domainKey === rule);
    expect(byRule('refused').length).toBeGreaterThan(0);
    for (const r of byRule('refused')) {
      const res = await request(r, alphaKey);
      expect(res.status, `${r.method} ${r.url}`).toBe(403);
      expect(res.body.error).toBe('FORBIDDEN');
    }
    for (const r of [...byRule('all'), ...byRule('own-domain')]) {
      const res = await request(r, alphaKey);
      expect([401, 403], `${r.method} ${r.url}`).not.toContain(res.status);
    }
  });

  /** One probe per `own-domain` route: alpha's key sees (or acts on) alpha's emails and never beta's. */
  const ids = (res: ApiResponse, list: string) => ((res.body.data as Record<string, { id: string }[]>)[list] ?? []).map((x) => x.id);
  const probes: Record<string, () => Promise<void>> = {
    'GET /api/v1/public/emails/get-email': async () => {
      expect((await call(`${t.url}/api/v1/public/emails/get-email?id=${sent.alpha.email}`, { key: alphaKey })).status).toBe(200);
      expect((await call(`${t.url}/api/v1/public/emails/get-email?id=${sent.beta.email}`, { key: alphaKey })).status).toBe(404);
      expect((await call(`${t.url}/api/v1/public/emails/get-email?id=${sent.beta.email}`, { key: betaKey })).status).toBe(200);
    },
    'GET /api/v1/emails/:id': async () => {
      expect((await call(`${t.url}/api/v1/emails/${sent.alpha.email}`, { key: alphaKey })).status).toBe(200);
      expect((await call(`${t.url}/api/v1/emails/${sent.beta.email}`, { key: alphaKey })).status).toBe(404);
    },
    'GET /api/v1/emails': async () => {
      const seen = ids(await call(`${t.url}/api/v1/emails?limit=200`, { key: alphaKey }), 'emails');
      expect(seen).toContain(sent.alpha.email);
      expect(seen).toContain(sent.alpha.scheduled);
      expect(seen).not.toContain(sent.beta.email);
      expect(seen).not.toContain(sent.beta.scheduled);
      // the workspace's own sending key sees both
      expect(ids(await call(`${t.url}/api/v1/emails?limit=200`, { key: ws.key }), 'emails')).toEqual(expect.arrayContaining([sent.alpha.email, sent.beta.email]));
    },
    'GET /api/v1/captured': async () => {
      const seen = ids(await call(`${t.url}/api/v1/captured?limit=200`, { key: alphaKey }), 'messages');
      expect(seen).toContain(sent.alpha.captured);
      expect(seen).not.toContain(sent.beta.captured);
    },
    'GET /api/v1/captured/:id': async () => {
      expect((await call(`${t.url}/api/v1/captured/${sent.alpha.captured}`, { key: alphaKey })).status).toBe(200);
      expect((await call(`${t.url}/api/v1/captured/${sent.beta.captured}`, { key: alphaKey })).status).toBe(404);
      expect((await call(`${t.url}/api/v1/captured/${sent.beta.email}`, { key: alphaKey })).status).toBe(404);
    },
    'GET /api/v1/captured/:id/raw': async () => {
      expect((await call(`${t.url}/api/v1/captured/${sent.alpha.captured}/raw`, { key: alphaKey })).status).toBe(200);
      expect((await call(`${t.url}/api/v1/captured/${sent.beta.captured}/raw`, { key: alphaKey })).status).toBe(404);
    },
    'GET /api/v1/send-email/scheduled': async () => {
      const seen = ids(await call(`${t.url}/api/v1/send-email/scheduled?limit=200`, { key: alphaKey }), 'scheduled_emails');
      expect(seen).toEqual([sent.alpha.scheduled]);
    },
    'DELETE /api/v1/send-email/schedule/:id': async () => {
      const other = await call(`${t.url}/api/v1/send-email/schedule/${sent.beta.scheduled}`, { method: 'DELETE', key: alphaKey });
      expect(other.status).toBe(404);
      expect((await call(`${t.url}/api/v1/public/emails/get-email?id=${sent.beta.scheduled}`, { key: betaKey })).body.status).toBe('scheduled');
      expect((await call(`${t.url}/api/v1/send-email/schedule/${sent.alpha.scheduled}`, { method: 'DELETE', key: alphaKey })).status).toBe(200);
    },
  };

  it('a domain-tied key sees and touches only its own domain\'s emails on every own-domain route', async () => {
    const ownDomain = routes().filter((x) => x.auth && x.auth.key !== 'admin' && (x.auth as { domainKey: string }).domainKey === 'own-domain');
    expect(ownDomain.length).toBeGreaterThan(0);
    for (const r of ownDomain) {
      const probe = probes[`${r.method} ${r.url}`];
      expect(probe, `${r.method} ${r.url} is own-domain but has no probe in this test`).toBeDefined();
    }
    // the cancel probe changes state: run it last
    for (const [name, probe] of Object.entries(probes).sort(([a], [b]) => Number(a.startsWith('DELETE')) - Number(b.startsWith('DELETE')))) {
      await probe().catch((err: unknown) => {
        throw new Error(`${name}: ${(err as Error).message}`);
      });
    }
  });
});
