import fs from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startTestApp, waitFor, type TestApp } from './support/app.js';
import { BACKENDS } from './support/databases.js';
import { runCli, startServerProcess } from './support/processes.js';
import { initialisedDataDir } from './support/data-dirs.js';

const inSeconds = (s: number) => new Date(Date.now() + s * 1000).toISOString();

/** The next 15 January or 15 July at least two days away (always within the 365-day window), with known offsets. */
function nextFixedDay(): { day: string; newYork: number; berlin: number } {
  const now = new Date();
  for (let i = 0; i < 3; i++) {
    for (const month of [1, 7]) {
      const year = now.getUTCFullYear() + i;
      const day = `${year}-${String(month).padStart(2, '0')}-15`;
      if (new Date(`${day}T00:00:00Z`).getTime() - now.getTime() > 2 * 86_400_000) return { day, newYork: month === 1 ? -5 : -4, berlin: month === 1 ? 1 : 2 };
    }
  }
  throw new Error('unreachable');
}
const utcAt = (day: string, hour: number) => `${day}T${String(hour).padStart(2, '0')}:00:00.000Z`;

describe.each(BACKENDS)('scheduled sending on %s', (backend) => {
  let t: TestApp;
  let ws: { id: string; adminKey: string; key: string };

  beforeAll(async () => {
    t = await startTestApp({ backend, env: { SCHEDULE_MIN_SECONDS: '1' } });
    ws = await t.workspace('LAUNCH');
  });
  afterAll(() => t?.close());

  const schedule = (body: unknown, key = ws.key) => call(`${t.url}/api/v1/send-email/schedule`, { key, body });
  const email = (id: string) => call(`${t.url}/api/v1/public/emails/get-email?id=${id}`, { key: ws.key });

  it('FREE → 403 PLAN_REQUIRED', async () => {
    const free = await t.workspace('FREE');
    const res = await schedule({ to: 'a@example.test', subject: 's', body: 'b', scheduled_at: inSeconds(3600) }, free.key);
    expect(res.status).toBe(403);
    expect(res.body.error).toBe('PLAN_REQUIRED');
    // the message names the command that changes the plan, with this workspace's id
    expect(res.body.message).toContain(`keplars-server workspace set-plan --workspace ${free.id} --plan LAUNCH`);
  });

  it('accepts the nested, flat scheduled_at and flat scheduled_for shapes, answering with a scheduled_email', async () => {
    const { day, newYork, berlin } = nextFixedDay();
    const nested = await schedule({ scheduled_at: `${day}T09:00:00`, timezone: 'America/New_York', email: { to: ['a@example.test'], from: 'x@example.test', subject: 'nested', body: 'b', is_html: false } });
    const flatAt = await schedule({ to: ['a@example.test'], subject: 'flat at', html: '<p>b</p>', is_html: true, scheduled_at: `${day}_09:00:00`, timezone: 'Europe/Berlin', fromName: 'Shop' });
    const flatFor = await schedule({ to: 'a@example.test', subject: 'flat for', body: 'b', scheduled_for: `${day}T09:00:00Z`, timezone: 'Asia/Tokyo', priority: 'bulk' });
    for (const r of [nested, flatAt, flatFor]) {
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      expect(r.body).toMatchObject({ success: true, object: 'scheduled_email', status: 'scheduled' });
      expect(r.body.id).toMatch(/^scheduled_msg_\d+_/);
      expect((r.body.data as { job_id: string }).job_id).toBe(r.body.id);
    }
    expect(nested.body.scheduled_at).toBe(utcAt(day, 9 - newYork));
    expect(flatAt.body.scheduled_at).toBe(utcAt(day, 9 - berlin));
    expect(flatFor.body.scheduled_at).toBe(utcAt(day, 9)); // the zoned time's offset wins over timezone
    expect(flatFor.body.queue).toBe('bulk');
    expect(nested.body.queue).toBe('async');
    expect((await email(nested.body.id as string)).body).toMatchObject({ status: 'scheduled', scheduled_at: utcAt(day, 9 - newYork), timezone: 'America/New_York' });
  });

  it('refuses times outside the window and unreadable times with INVALID_SCHEDULE_TIME', async () => {
    for (const when of [inSeconds(-60), new Date(Date.now() + 400 * 86_400_000).toISOString(), 'next tuesday']) {
      const res = await schedule({ to: 'a@example.test', subject: 's', body: 'b', scheduled_at: when });
      expect(res.status, when).toBe(400);
      expect(res.body.error).toBe('INVALID_SCHEDULE_TIME');
    }
    const noTime = await schedule({ to: 'a@example.test', subject: 's', body: 'b' });
    expect(noTime.body.message).toContain("'scheduled_at'");
    const badZone = await schedule({ to: 'a@example.test', subject: 's', body: 'b', scheduled_at: '2030-01-01T00:00:00', timezone: 'Nowhere/City' });
    expect(badZone.status).toBe(400);
  });

  it('lists scheduled emails and cancels one once; cancelling again says so', async () => {
    const w = await t.workspace('LAUNCH');
    const a = await schedule({ to: 'a@example.test', subject: 'later', body: 'b', scheduled_at: inSeconds(20 * 86_400) }, w.key);
    const b = await schedule({ to: 'a@example.test', subject: 'sooner', body: 'b', scheduled_at: inSeconds(10 * 86_400) }, w.key);
    const list = await call(`${t.url}/api/v1/send-email/scheduled?limit=1`, { key: w.key });
    const page = list.body.data as { scheduled_emails: { id: string }[]; next_cursor: string };
    expect(page.scheduled_emails.map((e) => e.id)).toEqual([b.body.id]);
    const next = await call(`${t.url}/api/v1/send-email/scheduled?cursor=${page.next_cursor}`, { key: w.key });
    expect((next.body.data as { scheduled_emails: { id: string }[] }).scheduled_emails.map((e) => e.id)).toEqual([a.body.id]);

    const cancel = await call(`${t.url}/api/v1/send-email/schedule/${b.body.id as string}`, { method: 'DELETE', key: w.key });
    expect(cancel.status).toBe(200);
    expect(cancel.body.data).toEqual({ id: b.body.id, status: 'cancelled' });
    const again = await call(`${t.url}/api/v1/send-email/schedule/${b.body.id as string}`, { method: 'DELETE', key: w.key });
    expect(again.status).toBe(409);
    expect(again.body.message).toContain('already cancelled');
    const unknown = await call(`${t.url}/api/v1/send-email/schedule/scheduled_msg_1_nope`, { method: 'DELETE', key: w.key });
    expect(unknown.status).toBe(404);
    const after = await call(`${t.url}/api/v1/send-email/scheduled`, { key: w.key });
    expect((after.body.data as { scheduled_emails: { id: string }[] }).scheduled_emails.map((e) => e.id)).toEqual([a.body.id]);
  });

  it('fires at its time with its priority; a cancel after hand-off is refused', async () => {
    const res = await schedule({ to: 'a@example.test', subject: 'soon', body: 'b', scheduled_at: inSeconds(2), priority: 'instant' });
    expect(res.status).toBe(200);
    const id = res.body.id as string;
    expect((await email(id)).body.status).toBe('scheduled');
    const done = await waitFor(async () => {
      const r = await email(id);
      return r.body.status === 'delivered' ? r : null;
    }, { timeoutMs: 15_000 });
    const data = done.body.data as { priority: string; sent_at: string; scheduled_at: string; events: { type: string }[] };
    expect(data.priority).toBe('instant');
    expect(new Date(data.sent_at).getTime()).toBeGreaterThanOrEqual(new Date(data.scheduled_at).getTime());
    expect(new Date(data.sent_at).getTime() - new Date(data.scheduled_at).getTime()).toBeLessThan(5000);
    expect(data.events.map((e) => e.type)).toEqual(['scheduled', 'delivered']);
    const late = await call(`${t.url}/api/v1/send-email/schedule/${id}`, { method: 'DELETE', key: ws.key });
    expect(late.status).toBe(409);
    expect(late.body.message).toContain('handed to delivery');
  });
  describe('a time on a plain send-email/* call is scheduled in that endpoint\'s tier, never dropped', () => {
    const send = (path: string, body: Record<string, unknown>, key = ws.key) => call(`${t.url}${path}`, { key, body: { to: 'a@example.test', subject: 'plain', body: 'b', ...body } });

    it('scheduled_at and scheduled_for both schedule, with the /schedule answer and the endpoint\'s tier', async () => {
      const { day } = nextFixedDay();
      const at = await send('/api/v1/send-email/high', { scheduled_at: `${day}T09:00:00`, timezone: 'Europe/Berlin', priority: 'bulk' });
      const forr = await send('/api/v1/public/send-email/instant', { scheduled_for: `${day}T09:00:00Z` });
      for (const [r, tier] of [[at, 'high'], [forr, 'instant']] as const) {
        expect(r.status, JSON.stringify(r.body)).toBe(200);
        expect(r.body).toMatchObject({ success: true, object: 'scheduled_email', status: 'scheduled', queue: tier, message: 'Email scheduled successfully' });
        expect(r.body.id).toMatch(/^scheduled_msg_\d+_/);
        expect((await email(r.body.id as string)).body).toMatchObject({ status: 'scheduled', priority: tier });
      }
      expect(forr.body.scheduled_at).toBe(utcAt(day, 9));
      const list = await call(`${t.url}/api/v1/send-email/scheduled?limit=200`, { key: ws.key });
      const ids = (list.body.data as { scheduled_emails: { id: string }[] }).scheduled_emails.map((e) => e.id);
      expect(ids).toEqual(expect.arrayContaining([at.body.id, forr.body.id]));
    });

    it('fires at its time', async () => {
      const res = await send('/send-email/instant', { scheduled_at: inSeconds(2) });
      expect(res.body.status).toBe('scheduled');
      const done = await waitFor(async () => {
        const r = await email(res.body.id as string);
        return r.body.status === 'delivered' ? r : null;
      }, { timeoutMs: 15_000 });
      expect((done.body.data as { events: { type: string }[] }).events.map((e) => e.type)).toEqual(['scheduled', 'delivered']);
    });

    it('on FREE it is 403 PLAN_REQUIRED; an unreadable or out-of-window time is INVALID_SCHEDULE_TIME', async () => {
      const free = await t.workspace('FREE');
      for (const field of ['scheduled_at', 'scheduled_for']) {
        const res = await send('/api/v1/send-email/async', { [field]: inSeconds(3600) }, free.key);
        expect([res.status, res.body.error], field).toEqual([403, 'PLAN_REQUIRED']);
      }
      for (const when of ['next tuesday', inSeconds(-60), new Date(Date.now() + 400 * 86_400_000).toISOString()]) {
        const res = await send('/api/v1/send-email/async', { scheduled_for: when });
        expect([res.status, res.body.error], when).toEqual([400, 'INVALID_SCHEDULE_TIME']);
      }
    });

    it('null or an empty string means no time: sent at once', async () => {
      for (const body of [{ scheduled_at: null }, { scheduled_for: '' }]) {
        const res = await send('/api/v1/send-email/async', body);
        expect(res.body).toMatchObject({ object: 'email', status: 'queued' });
      }
    });
  });
});

describe('a scheduled email whose time passed while the server was down', () => {
  it('is sent on recovery and marked late', async () => {
    const dataDir = await initialisedDataDir('keplars-sched-');
    const env = { DATA_DIR: dataDir, PORT: '0', SCHEDULE_MIN_SECONDS: '1', SCHEDULE_LATE_AFTER_SECONDS: '1' };
    try {
      const created = JSON.parse((await runCli(['workspace', 'create', '--name', 'Sched', '--plan', 'LAUNCH', '--json'], env)).stdout) as { secret_key: string };
      const key = created.secret_key;
      const first = await startServerProcess('start', env);
      const res = await call(`${first.url}/api/v1/send-email/schedule`, { key, body: { to: 'a@example.test', subject: 'while down', body: 'b', scheduled_at: inSeconds(2) } });
      expect(res.status).toBe(200);
      await first.stop('SIGTERM');
      await new Promise((r) => setTimeout(r, 4000));
      const second = await startServerProcess('start', env);
      try {
        const done = await waitFor(async () => {
          const r = await call(`${second.url}/api/v1/public/emails/get-email?id=${res.body.id as string}`, { key });
          return r.body.status === 'delivered' ? r : null;
        });
        const late = (done.body.data as { events: { type: string; detail: { late_by_seconds: number } }[] }).events.find((e) => e.type === 'late');
        expect(late?.detail.late_by_seconds).toBeGreaterThanOrEqual(2);
      } finally {
        await second.stop();
      }
    } finally {
      await fs.rm(dataDir, { recursive: true, force: true });
    }
  });
});
