import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startTestApp, waitFor, type TestApp } from './support/app.js';
import { BACKENDS } from './support/databases.js';

describe.each(BACKENDS)('list answers stay small whatever an email holds, on %s', (backend) => {
  let t: TestApp;
  let ws: { id: string; adminKey: string; key: string };
  const ids: string[] = [];
  const BIG = 2 * 1024 * 1024;

  beforeAll(async () => {
    t = await startTestApp({ backend, env: { SCHEDULE_MIN_SECONDS: '1' } });
    ws = await t.workspace();
    for (let i = 0; i < 4; i++) {
      const sent = await call(`${t.url}/api/v1/send-email/instant`, { key: ws.key, body: { to: { email: `a${i}@example.test`, name: 'Ann' }, subject: 'small', body: 'b', metadata: { order: i }, tags: ['t'], reply_to: 'r@example.test' } });
      ids.push(sent.body.id as string);
    }
    const scheduled = await call(`${t.url}/api/v1/send-email/schedule`, { key: ws.key, body: { to: 'a@example.test', subject: 'later', body: 'b', scheduled_at: new Date(Date.now() + 86_400_000).toISOString() } });
    ids.push(scheduled.body.id as string);
    await waitFor(async () => {
      const r = await call(`${t.url}/api/v1/captured?limit=10`, { key: ws.key });
      return (r.body.data as { messages: unknown[] }).messages.length === 4;
    });
    // rows as large as they could be stored before the send limits (a rendered subject still has no request limit)
    const db = t.app.services.database.db;
    const huge = 'x'.repeat(BIG);
    await db
      .updateTable('messages')
      .set({
        subject: huge,
        from_name: huge,
        last_error: huge,
        metadata: sql`jsonb_build_object('blob', ${huge}::text)`,
        tags: sql`jsonb_build_array(${huge}::text)`,
        reply_to: sql`jsonb_build_array(jsonb_build_object('email', ${huge}::text))`,
      })
      .where('id', 'in', ids)
      .execute();
    await db.updateTable('message_recipients').set({ name: huge, smtp_response: huge }).where('message_id', 'in', ids).execute();
    await db.updateTable('captured_messages').set({ subject: huge }).where('workspace_id', '=', ws.id).execute();
  });
  afterAll(() => t?.close());

  it('GET /api/v1/emails leaves metadata and reply_to to get-email and clips free text', async () => {
    const list = await call(`${t.url}/api/v1/emails?limit=200`, { key: ws.key });
    expect(list.status).toBe(200);
    expect(list.text.length).toBeLessThan(64 * 1024);
    const items = (list.body.data as { emails: Record<string, unknown>[] }).emails;
    expect(items).toHaveLength(5);
    for (const item of items) {
      expect(item).not.toHaveProperty('metadata');
      expect(item).not.toHaveProperty('reply_to');
      expect((item.subject as string).length).toBe(1000);
      expect(item.tags).toEqual([]);
      expect(((item.recipients as { name: string }[])[0]!.name).length).toBe(200);
    }
    const one = await call(`${t.url}/api/v1/public/emails/get-email?id=${ids[0]!}`, { key: ws.key });
    expect(one.body.metadata).toEqual({ blob: 'x'.repeat(BIG) });
    expect((one.body.subject as string).length).toBe(BIG);
    expect(one.body.reply_to).toEqual(['x'.repeat(BIG)]);
  });

  it('small tags are still listed', async () => {
    const sent = await call(`${t.url}/api/v1/send-email/async`, { key: ws.key, body: { to: 'b@example.test', subject: 's', body: 'b', tags: ['welcome', 'q3'] } });
    const list = await call(`${t.url}/api/v1/emails?limit=1`, { key: ws.key });
    expect((list.body.data as { emails: { id: string; tags: string[] }[] }).emails[0]).toMatchObject({ id: sent.body.id, tags: ['welcome', 'q3'] });
  });

  it('GET /api/v1/send-email/scheduled and GET /api/v1/captured clip the subject', async () => {
    const scheduled = await call(`${t.url}/api/v1/send-email/scheduled?limit=200`, { key: ws.key });
    expect(scheduled.text.length).toBeLessThan(16 * 1024);
    expect(((scheduled.body.data as { scheduled_emails: { subject: string }[] }).scheduled_emails[0]!.subject).length).toBe(1000);
    const captured = await call(`${t.url}/api/v1/captured?limit=200`, { key: ws.key });
    expect(captured.text.length).toBeLessThan(32 * 1024);
    const messages = (captured.body.data as { messages: { id: string; email_id: string; subject: string }[] }).messages.filter((m) => ids.includes(m.email_id));
    expect(messages.map((m) => m.subject.length)).toEqual([1000, 1000, 1000, 1000]);
    const full = await call(`${t.url}/api/v1/captured/${messages[0]!.id}`, { key: ws.key });
    expect(((full.body.data as { subject: string }).subject).length).toBe(BIG);
  });
});
