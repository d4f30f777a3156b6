import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startTestApp, waitFor, type TestApp } from './support/app.js';
import { BACKENDS } from './support/databases.js';
import { startSmtpSink, type SmtpSink } from './support/smtp-sink.js';

describe.each(BACKENDS)('delivery leases on %s', (backend) => {
  let sink: SmtpSink;
  let t: TestApp;
  let key: string;

  beforeAll(async () => {
    sink = await startSmtpSink();
    // a 5 s lease, renewed every 5/3 s while an attempt runs
    t = await startTestApp({ backend, env: { SMTP_URL: `smtp://127.0.0.1:${sink.port}`, DELIVERY_LEASE_MS: '5000' } });
    key = (await t.workspace()).key;
  });
  afterAll(async () => {
    await t?.close();
    await sink?.close();
  });

  const attemptsOf = async (id: string) => (await t.app.services.database.db.selectFrom('messages').select(['attempts', 'locked_by']).where('id', '=', id).executeTakeFirstOrThrow());

  it('a relay that answers DATA after 8 s gets exactly one copy, and the email is sent', async () => {
    sink.messages.length = 0;
    sink.setDelay(8000);
    try {
      const res = await call(`${t.url}/api/v1/send-email/async`, { key, body: { to: 'slow@example.test', subject: 'slow relay', body: 'x' } });
      expect(res.status).toBe(200);
      const id = res.body.id as string;
      await waitFor(async () => (await call(`${t.url}/api/v1/public/emails/get-email?id=${id}`, { key })).body.status === 'sent', { timeoutMs: 30_000, what: 'the email sent' });
      // settled after one attempt: the lease outlived the 8 s wait, so nothing claimed it a second time
      expect(await attemptsOf(id)).toEqual({ attempts: 1, locked_by: null });
      expect(sink.messages.filter((m) => m.raw.toString('utf8').includes('Subject: slow relay'))).toHaveLength(1);
      const email = await call(`${t.url}/api/v1/public/emails/get-email?id=${id}`, { key });
      const events = (email.body.events as { type: string }[]).map((e) => e.type);
      expect(events.filter((e) => e === 'sent')).toHaveLength(1);
    } finally {
      sink.setDelay(0);
    }
  }, 40_000);

  it('the lease of a worker that died still lapses, and a live worker delivers the email', async () => {
    sink.messages.length = 0;
    // scheduled far ahead so the live worker leaves it alone, then claimed the way a worker that died at once
    // would have left it: nobody renews that lease (renewals are fenced by the renewing worker's id)
    const res = await call(`${t.url}/api/v1/send-email/schedule`, {
      key,
      body: { to: 'orphan@example.test', subject: 'orphaned', body: 'x', scheduled_at: new Date(Date.now() + 3_600_000).toISOString() },
    });
    expect(res.status).toBe(200);
    const id = res.body.id as string;
    await t.app.services.database.db
      .updateTable('messages')
      .set({ status: 'sending', locked_by: 'dead-worker', attempts: 1, next_attempt_at: new Date(Date.now() + 1500) })
      .where('id', '=', id)
      .execute();
    await waitFor(async () => (await call(`${t.url}/api/v1/public/emails/get-email?id=${id}`, { key })).body.status === 'sent', { timeoutMs: 15_000, what: 'the orphaned email sent' });
    expect(await attemptsOf(id)).toEqual({ attempts: 2, locked_by: null });
    expect(sink.messages.filter((m) => m.raw.toString('utf8').includes('Subject: orphaned'))).toHaveLength(1);
  });
});
