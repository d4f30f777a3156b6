import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUDIENCE_TRIGGER_QUEUE, runAudienceTrigger } from '../src/modules/automations/audience-trigger.js';
import { atDedupeKey, DATE_AT_QUEUE, ensureDateScans, runDateScan, runFixedAt, scanDateField, scanDedupeKey, scheduleDateTrigger } from '../src/modules/automations/date-trigger.js';
import type { AutomationStatus, AutomationTriggerType } from '../src/platform/db/schema.js';
import { inTransaction, type Db } from '../src/platform/db/database.js';
import { uuidv7 } from '../src/platform/ids.js';
import { startTestApp, waitFor, type TestApp } from './support/app.js';
import { BACKENDS } from './support/databases.js';
import { publicApi, type Ws } from './support/public-api.js';

/** A graph that keeps an enrollment waiting (the engine, when it runs, parks it on the delay). */
const GRAPH = { steps: [{ id: 'wait', type: 'delay', amount: 30, unit: 'days', next: 'done' }, { id: 'done', type: 'exit' }] };

describe.each(BACKENDS)('automation triggers on %s', (backend) => {
  let t: TestApp;
  let ws: Ws;
  let db: Db;
  beforeAll(async () => {
    t = await startTestApp({ backend });
    ws = await t.workspace();
    db = t.app.services.database.db;
  });
  afterAll(() => t?.close());
  const { api, ok } = publicApi(() => t, () => ws);

  async function automation(o: { workspaceId?: string; type: AutomationTriggerType; config: Record<string, unknown>; status?: AutomationStatus }) {
    const id = uuidv7();
    await db
      .insertInto('automations')
      .values({ id, workspace_id: o.workspaceId ?? ws.id, name: `a ${id}`, trigger_type: o.type, trigger_config: JSON.stringify(o.config), status: o.status ?? 'active' })
      .execute();
    await db.insertInto('automation_versions').values({ automation_id: id, version: 1, graph: JSON.stringify(GRAPH) }).execute();
    return id;
  }
  const enrolled = async (automationId: string): Promise<string[]> =>
    (await db.selectFrom('automation_enrollments').select('contact_id').where('automation_id', '=', automationId).execute()).map((r) => r.contact_id).sort();
  const audienceJobs = async (): Promise<{ payload: Record<string, unknown> }[]> => db.selectFrom('jobs').select('payload').where('queue', '=', AUDIENCE_TRIGGER_QUEUE).execute();
  const subscribedEventOf = async (contactId: string, audienceId: string): Promise<number> => {
    const row = await db.selectFrom('contact_events').select('id').where('contact_id', '=', contactId).where('audience_id', '=', audienceId).where('type', '=', 'contact.subscribed').executeTakeFirstOrThrow();
    return Number(row.id);
  };
  const jobNames = async (eventId: number) => (await audienceJobs()).filter((j) => (j.payload.eventIds as number[]).includes(eventId));
  const contact = async (email: string, o: { workspaceId?: string; custom?: Record<string, unknown>; createdAt?: Date } = {}) => {
    const id = uuidv7();
    await db
      .insertInto('contacts')
      .values({ id, workspace_id: o.workspaceId ?? ws.id, email, email_key: email, custom_fields: JSON.stringify(o.custom ?? {}), ...(o.createdAt ? { created_at: o.createdAt } : {}) })
      .execute();
    return id;
  };

  describe('contact_added_to_audience', () => {
    let audience: string;
    let other: string;
    let active: string;
    let draft: string;
    let elsewhere: string;
    beforeAll(async () => {
      audience = (await t.app.services.audiences.create(ws.id, { name: 'Welcome' })).id;
      other = (await t.app.services.audiences.create(ws.id, { name: 'Other' })).id;
      active = await automation({ type: 'contact_added_to_audience', config: { audience_id: audience } });
      draft = await automation({ type: 'contact_added_to_audience', config: { audience_id: audience }, status: 'draft' });
      elsewhere = await automation({ type: 'contact_added_to_audience', config: { audience_id: other } });
    });

    it('add-contact with the audience writes the job in its own transaction and enrolls in the active automations of that audience only', async () => {
      const added = ok(await api('contacts/add-contact', { body: { email: 'welcome@example.com', audience_id: audience } }));
      const contactId = added.id as string;
      // the job is there the moment the call answered: it was committed with the membership, not after it
      const eventId = await subscribedEventOf(contactId, audience);
      expect(await jobNames(eventId)).toHaveLength(1);
      await waitFor(async () => (await enrolled(active)).includes(contactId), { what: 'enrollment' });
      expect(await enrolled(draft)).toEqual([]);
      expect(await enrolled(elsewhere)).toEqual([]);
      const row = await db.selectFrom('automation_enrollments').selectAll().where('automation_id', '=', active).executeTakeFirstOrThrow();
      expect(row.trigger_data).toEqual({ audience_id: audience });

      // adding again (already a member) changes nothing; running the same job again enrolls nobody twice, even
      // when the first enrollment has ended meanwhile
      ok(await api('contacts/add-contact', { body: { email: 'welcome@example.com', audience_id: audience } }));
      await db.updateTable('automation_enrollments').set({ status: 'completed' }).where('automation_id', '=', active).execute();
      const [job] = await jobNames(eventId);
      expect(await runAudienceTrigger(db, t.app.services.signal, job!.payload)).toBe(0);
      expect(await enrolled(active)).toEqual([contactId]);
    });

    it('writes no job for a statement with no matching active automation, nor for an unsubscribe', async () => {
      const before = (await audienceJobs()).length;
      ok(await api('contacts/add-contact', { body: { email: 'plain@example.com' } }));
      const inOther = ok(await api('contacts/add-contact', { body: { email: 'third@example.com', audience_id: (await t.app.services.audiences.create(ws.id, { name: 'No automation' })).id } }));
      expect(inOther.id).toBeTypeOf('string');
      const member = ok(await api('contacts/add-contact', { body: { email: 'leaver@example.com', audience_id: other } }));
      expect((await audienceJobs()).length).toBe(before + 1);
      await waitFor(async () => (await enrolled(elsewhere)).includes(member.id as string), { what: 'enrollment' });
      await db.updateTable('automation_enrollments').set({ status: 'exited' }).where('automation_id', '=', elsewhere).execute();
      expect(await t.app.services.contacts.setSubscription(ws.id, member.id as string, other, 'unsubscribed', 'test')).toBe(true);
      expect((await audienceJobs()).length).toBe(before + 1);
    });

    it('enrolls a double opt-in subscriber only once the confirmation link is clicked', async () => {
      const confirmed = (await t.app.services.audiences.create(ws.id, { name: 'Confirmed', doubleOptIn: true })).id;
      const automationId = await automation({ type: 'contact_added_to_audience', config: { audience_id: confirmed } });
      const before = (await audienceJobs()).length;
      const form = await t.app.services.contacts.subscribeThroughForm(ws.id, confirmed, 'optin@example.com', { profile: {}, doubleOptIn: true, resendAfterMs: 0 });
      expect(form.result).toBe('confirm');
      const contactId = (form as { contactId: string }).contactId;
      // pending: no event, so no job at all (written in the same transaction, so there is nothing to wait for)
      expect((await audienceJobs()).length).toBe(before);
      expect(await runAudienceTrigger(db, t.app.services.signal, { eventIds: [] })).toBe(0);
      expect(await enrolled(automationId)).toEqual([]);
      expect(await t.app.services.contacts.confirmPending(ws.id, confirmed, contactId)).toBe('confirmed');
      expect(await jobNames(await subscribedEventOf(contactId, confirmed))).toHaveLength(1);
      await waitFor(async () => (await enrolled(automationId)).includes(contactId), { what: 'enrollment after confirmation' });
    });

    it('enrolls a form subscriber without double opt-in at once', async () => {
      const open = (await t.app.services.audiences.create(ws.id, { name: 'Open form' })).id;
      const automationId = await automation({ type: 'contact_added_to_audience', config: { audience_id: open } });
      const form = await t.app.services.contacts.subscribeThroughForm(ws.id, open, 'form@example.com', { profile: {}, doubleOptIn: false, resendAfterMs: 0 });
      expect(form.result).toBe('subscribed');
      await waitFor(async () => (await enrolled(automationId)).length === 1, { what: 'enrollment' });
    });

    it('the job row exists exactly when the membership change commits', async () => {
      const c = await contact('txn@example.com');
      const before = (await audienceJobs()).length;
      const event = (trx: Parameters<Parameters<typeof inTransaction>[1]>[0]) =>
        trx.insertInto('contact_events').values({ workspace_id: ws.id, contact_id: c, audience_id: audience, type: 'contact.subscribed', data: '{}' }).execute();
      await expect(
        inTransaction(db, async (trx) => {
          await event(trx);
          const inside = await trx.selectFrom('jobs').select('id').where('queue', '=', AUDIENCE_TRIGGER_QUEUE).execute();
          expect(inside.length).toBe(before + 1);
          throw new Error('crash before commit');
        }),
      ).rejects.toThrow('crash before commit');
      expect((await audienceJobs()).length).toBe(before);
      await inTransaction(db, event);
      expect((await audienceJobs()).length).toBe(before + 1);
    });

    it('a CSV import of 10,000 rows into the audience enrolls every subscribed row, with one job per import batch', async () => {
      const w = await t.workspace();
      const imported = (await t.app.services.audiences.create(w.id, { name: 'Imported' })).id;
      const automationId = await automation({ workspaceId: w.id, type: 'contact_added_to_audience', config: { audience_id: imported } });
      const rows = 10_000;
      const csv = ['email,first_name', ...Array.from({ length: rows }, (_, i) => `bulk${i}@example.com,Bulk${i}`)].join('\n');
      const before = (await audienceJobs()).length;
      const res = await api(`contacts/import?audience_id=${imported}`, { method: 'POST', rawBody: csv, headers: { 'content-type': 'text/csv' } }, w);
      expect(res.status, res.text).toBe(202);
      const count = async () =>
        (await sql<{ n: number }>`SELECT count(*)::int AS n FROM automation_enrollments WHERE automation_id = ${automationId}`.execute(db)).rows[0]!.n;
      await waitFor(async () => (await count()) === rows, { timeoutMs: 180_000, intervalMs: 250, what: `${rows} enrollments` });
      const jobs = (await audienceJobs()).length - before;
      expect(jobs).toBeGreaterThan(0);
      expect(jobs).toBeLessThanOrEqual(10);
      const occurrences = await sql<{ n: number }>`SELECT count(*)::int AS n FROM automation_occurrences WHERE automation_id = ${automationId}`.execute(db);
      expect(occurrences.rows[0]!.n).toBe(rows);
    }, 240_000);
  });

  describe('date_time at a fixed time', () => {
    it('an `at` that has passed runs on activation and enrolls the subscribed members of the audience, once', async () => {
      const audience = (await t.app.services.audiences.create(ws.id, { name: 'Fixed' })).id;
      const members = [await contact('fixed1@example.com'), await contact('fixed2@example.com')];
      const left = await contact('fixed-left@example.com');
      const outsider = await contact('fixed-outsider@example.com');
      await db.insertInto('audience_members').values([...members.map((c) => ({ audience_id: audience, contact_id: c })), { audience_id: audience, contact_id: left, status: 'unsubscribed' }]).execute();
      const config = { at: new Date(Date.now() - 3600_000).toISOString(), audience_id: audience };
      const id = await automation({ type: 'date_time', config });
      const row = await db.selectFrom('automations').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
      await inTransaction(db, (trx) => scheduleDateTrigger(trx, t.app.services.signal, row));
      t.app.services.signal.wakeLocal('jobs');
      await waitFor(async () => (await enrolled(id)).length === 2, { what: 'fixed-time enrollments' });
      expect(await enrolled(id)).toEqual([...members].sort());
      expect(await enrolled(id)).not.toContain(outsider);
      // a second run (a crash before the job was marked done) enrolls nobody twice
      await db.updateTable('automation_enrollments').set({ status: 'completed' }).where('automation_id', '=', id).execute();
      expect((await runFixedAt(db, t.app.services.signal, { automationId: id })).enrolled).toBe(0);
      expect(await enrolled(id)).toHaveLength(2);
    });

    it('a near-future `at` waits for its time, then enrolls the whole workspace, skipping contacts already done', async () => {
      const w = await t.workspace();
      const contacts = [await contact('soon1@example.com', { workspaceId: w.id }), await contact('soon2@example.com', { workspaceId: w.id }), await contact('soon3@example.com', { workspaceId: w.id })];
      const at = new Date(Date.now() + 3000);
      const id = await automation({ workspaceId: w.id, type: 'date_time', config: { at: at.toISOString() } });
      // as if a crashed run had done the first contact already
      await db.insertInto('automation_occurrences').values({ automation_id: id, contact_id: contacts[0]!, occurrence: `at:${at.toISOString()}` }).execute();
      const row = await db.selectFrom('automations').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
      await inTransaction(db, (trx) => scheduleDateTrigger(trx, t.app.services.signal, row));
      const job = await db.selectFrom('jobs').selectAll().where('dedupe_key', '=', atDedupeKey(id)).executeTakeFirstOrThrow();
      expect(job.queue).toBe(DATE_AT_QUEUE);
      expect(job.next_attempt_at?.getTime()).toBe(at.getTime());
      expect(await runFixedAt(db, t.app.services.signal, { automationId: id }, new Date(at.getTime() - 1000))).toEqual({ enrolled: 0, retryAt: at });
      await waitFor(async () => (await enrolled(id)).length === 2, { what: 'enrollments at the fixed time' });
      expect(await enrolled(id)).toEqual([contacts[1]!, contacts[2]!].sort());
    });

    it('pausing removes the waiting job and activating again brings it back', async () => {
      const id = await automation({ type: 'date_time', config: { at: new Date(Date.now() + 86_400_000).toISOString() } });
      const row = await db.selectFrom('automations').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
      const pending = () => db.selectFrom('jobs').select('id').where('dedupe_key', '=', atDedupeKey(id)).where('status', '=', 'pending').execute();
      await inTransaction(db, (trx) => scheduleDateTrigger(trx, t.app.services.signal, row));
      expect(await pending()).toHaveLength(1);
      await inTransaction(db, (trx) => scheduleDateTrigger(trx, t.app.services.signal, { ...row, status: 'paused' }));
      expect(await pending()).toHaveLength(0);
      await inTransaction(db, (trx) => scheduleDateTrigger(trx, t.app.services.signal, row));
      await inTransaction(db, (trx) => scheduleDateTrigger(trx, t.app.services.signal, row));
      expect(await pending()).toHaveLength(1);
      // saving a new `at` moves the waiting job; switching to a date field swaps it for the scan
      const later = new Date(Date.now() + 2 * 86_400_000);
      await inTransaction(db, (trx) => scheduleDateTrigger(trx, t.app.services.signal, { ...row, trigger_config: { at: later.toISOString() } }));
      const moved = await db.selectFrom('jobs').select('next_attempt_at').where('dedupe_key', '=', atDedupeKey(id)).where('status', '=', 'pending').executeTakeFirstOrThrow();
      expect(moved.next_attempt_at?.getTime()).toBe(later.getTime());
      const future = new Date(Date.now() + 86_400_000);
      await inTransaction(db, (trx) => scheduleDateTrigger(trx, t.app.services.signal, { ...row, trigger_config: { date_field: 'birthday' } }, future));
      expect(await pending()).toHaveLength(0);
      expect(await db.selectFrom('jobs').select('id').where('dedupe_key', '=', scanDedupeKey(id)).where('status', '=', 'pending').execute()).toHaveLength(1);
    });
  });

  describe('date_time on a date field', () => {
    it('fires each contact at 09:00 in its own zone, the workspace zone for the others, once per occurrence', async () => {
      const w = await t.workspace();
      await expect(t.app.services.workspaces.setTimezone(w.id, 'Mars/Olympus')).rejects.toThrow('--zone must be an IANA time zone such as Europe/Berlin or UTC, not "Mars/Olympus"');
      expect((await t.app.services.workspaces.setTimezone(w.id, 'Europe/Berlin')).timezone).toBe('Europe/Berlin');
      const tokyo = await contact('tokyo@example.com', { workspaceId: w.id, custom: { signup: '2026-03-10', timezone: 'Asia/Tokyo' } });
      const newYork = await contact('ny@example.com', { workspaceId: w.id, custom: { signup: '2026-03-10T12:00:00', timezone: 'America/New_York' } });
      const berlin = await contact('berlin@example.com', { workspaceId: w.id, custom: { signup: '2026-03-10', timezone: 'Mars/Olympus' } });
      for (const [i, bad] of ['2026-02-30', 'next tuesday', 'x'.repeat(5000), 12345].entries()) await contact(`bad${i}@example.com`, { workspaceId: w.id, custom: { signup: bad } });
      const other = await contact('other-day@example.com', { workspaceId: w.id, custom: { signup: '2026-03-11' } });
      const id = await automation({ workspaceId: w.id, type: 'date_time', config: { date_field: 'signup', time: '09:00' } });
      const scan = (from: string, to: string) => scanDateField(db, t.app.services.signal, id, { from: new Date(from), to: new Date(to) });

      // 09:00 in Tokyo is 00:00Z; in Berlin (CET) 08:00Z; in New York (EDT since 8 March) 13:00Z
      expect((await scan('2026-03-09T23:00:00Z', '2026-03-10T00:30:00Z')).enrolled).toBe(1);
      expect(await enrolled(id)).toEqual([tokyo]);
      expect((await scan('2026-03-10T00:30:00Z', '2026-03-10T08:00:00Z')).enrolled).toBe(1);
      expect(await enrolled(id)).toEqual([tokyo, berlin].sort());
      expect((await scan('2026-03-10T08:00:00Z', '2026-03-10T12:59:00Z')).enrolled).toBe(0);
      expect((await scan('2026-03-10T12:59:00Z', '2026-03-10T13:00:00Z')).enrolled).toBe(1);
      expect(await enrolled(id)).toEqual([tokyo, berlin, newYork].sort());
      // a re-scan of the whole day, even after the enrollments ended, enrolls nobody twice
      await db.updateTable('automation_enrollments').set({ status: 'completed' }).where('automation_id', '=', id).execute();
      expect((await scan('2026-03-09T12:00:00Z', '2026-03-10T20:00:00Z')).enrolled).toBe(0);
      const occurrences = await db.selectFrom('automation_occurrences').select(['contact_id', 'occurrence']).where('automation_id', '=', id).execute();
      expect(occurrences.map((o) => o.occurrence)).toEqual(['2026-03-10', '2026-03-10', '2026-03-10']);
      expect((await scan('2026-03-10T20:00:00Z', '2026-03-11T10:00:00Z')).enrolled).toBe(1);
      expect((await enrolled(id)).filter((c) => c === other)).toHaveLength(1);
    });

    it('fires every year on the anniversary (29 February on the 28th), with an offset, and never before the date itself', async () => {
      const w = await t.workspace();
      const birthday = await contact('bday@example.com', { workspaceId: w.id, custom: { birthday: '1990-03-10' } });
      const leap = await contact('leap@example.com', { workspaceId: w.id, custom: { birthday: '1992-02-29' } });
      const future = await contact('future@example.com', { workspaceId: w.id, custom: { birthday: '2030-03-10' } });
      const annual = await automation({ workspaceId: w.id, type: 'date_time', config: { date_field: 'birthday', time: '10:00', annual: true } });
      const dayBefore = await automation({ workspaceId: w.id, type: 'date_time', config: { date_field: 'birthday', time: '10:00', annual: true, offset_days: -1 } });
      const once = await automation({ workspaceId: w.id, type: 'date_time', config: { date_field: 'birthday', time: '10:00' } });
      const scan = (a: string, from: string, to: string) => scanDateField(db, t.app.services.signal, a, { from: new Date(from), to: new Date(to) });

      expect((await scan(annual, '2026-02-28T09:00:00Z', '2026-02-28T11:00:00Z')).enrolled).toBe(1);
      expect(await enrolled(annual)).toEqual([leap]);
      expect((await scan(annual, '2026-03-10T09:00:00Z', '2026-03-10T11:00:00Z')).enrolled).toBe(1);
      expect(await enrolled(annual)).toEqual([birthday, leap].sort());
      expect(future).toBeTypeOf('string');
      expect((await scan(dayBefore, '2026-03-09T09:00:00Z', '2026-03-09T11:00:00Z')).enrolled).toBe(1);
      expect(await enrolled(dayBefore)).toEqual([birthday]);
      expect((await scan(once, '2026-03-10T09:00:00Z', '2026-03-10T11:00:00Z')).enrolled).toBe(0);
      // next year's anniversary is a new occurrence
      await db.updateTable('automation_enrollments').set({ status: 'completed' }).where('automation_id', '=', annual).execute();
      expect((await scan(annual, '2027-03-10T09:00:00Z', '2027-03-10T11:00:00Z')).enrolled).toBe(1);
      const occurrences = await db.selectFrom('automation_occurrences').select('occurrence').where('automation_id', '=', annual).where('contact_id', '=', birthday).orderBy('occurrence').execute();
      expect(occurrences.map((o) => o.occurrence)).toEqual(['2026-03-10', '2027-03-10']);
    });

    it('reads created_at, limits to the audience, and the scan job keeps its window in its payload', async () => {
      const w = await t.workspace();
      const audience = (await t.app.services.audiences.create(w.id, { name: 'Trial' })).id;
      const createdAt = new Date('2030-05-01T15:00:00Z');
      const member = await contact('trial@example.com', { workspaceId: w.id, createdAt });
      const outsider = await contact('not-trial@example.com', { workspaceId: w.id, createdAt });
      await db.insertInto('audience_members').values({ audience_id: audience, contact_id: member }).execute();
      const id = await automation({ workspaceId: w.id, type: 'date_time', config: { date_field: 'created_at', time: '09:00', offset_days: 3, audience_id: audience } });
      const row = await db.selectFrom('automations').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
      // the job's first window starts at activation: 2030-05-04 08:00Z (a time to come, so the running worker leaves the job to the test); the contact fires at 09:00Z (workspace zone UTC)
      const activatedAt = new Date('2030-05-04T08:00:00Z');
      await inTransaction(db, (trx) => scheduleDateTrigger(trx, t.app.services.signal, row, activatedAt));
      const job = await db.selectFrom('jobs').selectAll().where('dedupe_key', '=', scanDedupeKey(id)).executeTakeFirstOrThrow();
      expect(job.payload).toEqual({ automationId: id, scannedUntil: activatedAt.toISOString() });
      const now = new Date('2030-05-04T09:15:00Z');
      const result = await runDateScan(db, t.app.services.signal, job.payload, job.id, now);
      expect(result).toEqual({ enrolled: 1, retryAt: new Date(now.getTime() + 15 * 60_000) });
      expect(await enrolled(id)).toEqual([member]);
      expect(await enrolled(id)).not.toContain(outsider);
      const after = await db.selectFrom('jobs').select('payload').where('id', '=', job.id).executeTakeFirstOrThrow();
      expect(after.payload).toEqual({ automationId: id, scannedUntil: now.toISOString() });
      // the next window starts where this one ended: nothing more
      expect((await runDateScan(db, t.app.services.signal, after.payload, job.id, new Date('2030-05-04T09:30:00Z'))).enrolled).toBe(0);
    });

    it('the hourly repair gives an active date-field automation that lost its scan job a new one, and leaves the others', async () => {
      const w = await t.workspace();
      const lost = await automation({ workspaceId: w.id, type: 'date_time', config: { date_field: 'renewal' } });
      const paused = await automation({ workspaceId: w.id, type: 'date_time', config: { date_field: 'renewal' }, status: 'paused' });
      const fixed = await automation({ workspaceId: w.id, type: 'date_time', config: { at: '2030-01-01T00:00:00Z' } });
      const future = new Date('2030-06-01T00:00:00Z');
      const scans = (id: string) => db.selectFrom('jobs').select('payload').where('dedupe_key', '=', scanDedupeKey(id)).where('status', '=', 'pending').execute();
      expect(await ensureDateScans(db, t.app.services.signal, future)).toBeGreaterThanOrEqual(1);
      expect((await scans(lost)).map((j) => j.payload)).toEqual([{ automationId: lost, scannedUntil: future.toISOString() }]);
      expect(await scans(paused)).toEqual([]);
      expect(await db.selectFrom('jobs').select('id').where('dedupe_key', 'in', [scanDedupeKey(fixed), atDedupeKey(fixed)]).execute()).toEqual([]);
      expect(await ensureDateScans(db, t.app.services.signal, future)).toBe(0);
      expect(await scans(lost)).toHaveLength(1);
    });
  });
});
