import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startTestApp, type TestApp } from './support/app.js';
import { BACKENDS } from './support/databases.js';

describe.each(BACKENDS)('monthly quotas on %s', (backend) => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ backend, env: { PLAN_FREE_MONTHLY_EMAILS: '20', PLAN_FREE_REQUESTS_PER_SECOND: 'unlimited', PLAN_LAUNCH_MONTHLY_EMAILS: '5' } });
  });
  afterAll(() => t?.close());

  it('is exact when 50 requests race at the edge of the quota', async () => {
    const ws = await t.workspace('FREE');
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => call(`${t.url}/api/v1/send-email/async`, { key: ws.key, body: { to: `r${i}@example.test`, subject: 'race', body: 'x' } })),
    );
    const accepted = results.filter((r) => r.status === 200);
    const refused = results.filter((r) => r.status === 429);
    expect(accepted).toHaveLength(20);
    expect(refused).toHaveLength(30);
    const nextMonth = new Date(Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth() + 1, 1));
    for (const r of refused) {
      expect(r.body.error).toBe('RATE_LIMITED');
      // LAUNCH has a smaller quota here (5), so the next plan with more emails is CUSTOM
      expect(r.body.message).toContain(`An operator moves the workspace to a larger plan with: keplars-server workspace set-plan --workspace ${ws.id} --plan CUSTOM`);
      const retryAfter = Number(r.headers.get('retry-after'));
      expect(retryAfter).toBeGreaterThan(0);
      expect(Math.abs(Date.now() + retryAfter * 1000 - nextMonth.getTime())).toBeLessThan(5000);
    }
    const usage = await t.app.services.plans.usage(ws.id, 'FREE');
    expect(usage).toMatchObject({ used: 20, remaining: 0, monthly_quota: 20, emails_accepted: 20 });
  });

  it('counts recipients, gives back what a failed or cancelled send used', async () => {
    const ws = await t.workspace('LAUNCH');
    const three = await call(`${t.url}/api/v1/send-email/async`, { key: ws.key, body: { to: ['a@example.test', 'b@example.test'], cc: 'c@example.test', subject: 's', body: 'x' } });
    expect(three.status).toBe(200);
    const tooMany = await call(`${t.url}/api/v1/send-email/async`, { key: ws.key, body: { to: ['a@example.test', 'b@example.test', 'c@example.test'], subject: 's', body: 'x' } });
    expect(tooMany.status).toBe(429);
    // LAUNCH (5 here) → the next plan with more emails: CUSTOM has no quota
    expect(tooMany.body.message).toContain(`keplars-server workspace set-plan --workspace ${ws.id} --plan CUSTOM`);
    const scheduled = await call(`${t.url}/api/v1/send-email/schedule`, { key: ws.key, body: { to: ['a@example.test', 'b@example.test'], subject: 's', body: 'x', scheduled_at: new Date(Date.now() + 3600_000).toISOString() } });
    expect(scheduled.status).toBe(200);
    expect((await t.app.services.plans.usage(ws.id, 'LAUNCH')).used).toBe(5);
    await call(`${t.url}/api/v1/send-email/schedule/${scheduled.body.id as string}`, { method: 'DELETE', key: ws.key });
    expect((await t.app.services.plans.usage(ws.id, 'LAUNCH')).used).toBe(3);
    // invalid requests never use quota
    await call(`${t.url}/api/v1/send-email/async`, { key: ws.key, body: { to: 'a@example.test', template_id: 'missing' } });
    expect((await t.app.services.plans.usage(ws.id, 'LAUNCH')).used).toBe(3);
  });

  it('a plan without a quota is not limited, and usage still reports what was sent', async () => {
    const ws = await t.workspace('ENTERPRISE');
    for (let i = 0; i < 3; i++) expect((await call(`${t.url}/api/v1/send-email/bulk`, { key: ws.key, body: { to: 'a@example.test', subject: 's', body: 'x' } })).status).toBe(200);
    expect(await t.app.services.plans.usage(ws.id, 'ENTERPRISE')).toMatchObject({ monthly_quota: null, remaining: null, used: 3 });
  });
});
