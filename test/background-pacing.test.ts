import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startTestApp, waitFor, type TestApp } from './support/app.js';
import { insertAutomation, insertContacts } from './support/automations.js';
import { BACKENDS } from './support/databases.js';

// Background work gives way to instant mail (README, "Priority tiers and the queue"): an instant email committed in
// any process makes this process pace its enrollment commits and automation step batches for a few seconds.
describe.each(BACKENDS)('background work paced by instant mail on %s', (backend) => {
  let t: TestApp;
  let ws: { id: string; adminKey: string; key: string };

  beforeAll(async () => {
    t = await startTestApp({ backend });
    ws = await t.workspace();
  });
  afterAll(() => t?.close());

  const status = async (id: string) => (await call(`${t.url}/api/v1/public/emails/get-email?id=${id}`, { key: ws.key })).body.status as string;

  it('is not paced by bulk mail, and is paced once an instant email is accepted', async () => {
    const pacer = t.app.services.pacer;
    const bulk = await call(`${t.url}/api/v1/send-email/bulk`, { key: ws.key, body: { to: 'a@example.test', subject: 'bulk', body: 'b' } });
    expect(bulk.status).toBe(200);
    await waitFor(async () => (await status(bulk.body.id as string)) !== 'queued', { what: 'the bulk email to go out' });
    expect(pacer.pacing).toBe(false);
    const instant = await call(`${t.url}/api/v1/send-email/instant`, { key: ws.key, body: { to: 'a@example.test', subject: 'instant', body: 'b' } });
    expect(instant.status).toBe(200);
    await waitFor(async () => pacer.pacing, { what: 'the instant email to start pacing' });
  });

  it('runs enrollments and steps in turn while paced, and they complete', async () => {
    const pacer = t.app.services.pacer;
    const [contact] = await insertContacts(t.app.services.database.db, ws.id, [{ email: 'paced@example.test' }]);
    const automationId = await insertAutomation(t.app.services.database.db, {
      workspaceId: ws.id,
      steps: [{ id: 'wait', type: 'delay', amount: 1, unit: 'seconds', next: null }],
    });
    const instant = await call(`${t.url}/api/v1/send-email/instant`, { key: ws.key, body: { to: 'a@example.test', subject: 'instant', body: 'b' } });
    expect(instant.status).toBe(200);
    await waitFor(async () => pacer.pacing, { what: 'pacing' });
    const before = pacer.unitsPaced;
    const enrolled = await call(`${t.url}/api/v1/public/automations/add-automation/${automationId}/enroll`, { key: ws.adminKey, body: { email: 'paced@example.test' } });
    expect(enrolled.status).toBe(200);
    expect(enrolled.body.data).toMatchObject({ contact_id: contact, enrolled: true });
    const done = await waitFor(
      async () => {
        const row = await t.app.services.database.db.selectFrom('automation_enrollments').select(['status']).where('automation_id', '=', automationId).executeTakeFirst();
        return row && row.status !== 'active' ? row : null;
      },
      { what: 'the enrollment to end' },
    );
    expect(done.status).toBe('completed');
    // the enroll commit and at least the first step batch ran in turn (the delay's second batch may fall after the window)
    expect(pacer.unitsPaced - before).toBeGreaterThanOrEqual(2);
  });
});
