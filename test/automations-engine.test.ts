import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/config.js';
import { createServices, createStepRunner } from '../src/app/services.js';
import { AUTOMATION_STEP_QUEUE, wakeWaitingSteps } from '../src/modules/automations/index.js';
import { claimJobs } from '../src/platform/queue/jobs-store.js';
import { inTransaction, openPostgres, type Db } from '../src/platform/db/database.js';
import { migrate } from '../src/platform/db/migrate.js';
import { createLogger } from '../src/platform/logger.js';
import { AutomationWorker } from '../src/workers/automation-worker.js';
import { startTestApp, waitFor, type TestApp } from './support/app.js';
import { automationEmails, enroll, enrollmentRows, insertAutomation, insertContacts, stepRuns } from './support/automations.js';
import { BACKENDS, createPostgresDatabase } from './support/databases.js';

const FROM = 'news@example.test';

/** Waits until no enrollment of the automation is active, and returns them all. */
async function settled(db: Db, automationId: string, timeoutMs = 20_000) {
  return waitFor(
    async () => {
      const rows = await enrollmentRows(db, automationId);
      return rows.length > 0 && rows.every((r) => r.status !== 'active') ? rows : null;
    },
    { timeoutMs, what: `the enrollments of ${automationId} to end` },
  );
}

describe.each(BACKENDS)('the automation engine on %s', (backend) => {
  let t: TestApp;
  let db: Db;
  let ws: string;
  let template: string;
  let bare: string;

  beforeAll(async () => {
    t = await startTestApp({ backend, env: { DELIVERY_MODE: 'capture', PLAN_LAUNCH_MONTHLY_EMAILS: '3' } });
    db = t.app.services.database.db;
    ws = (await t.workspace()).id;
    template = (await t.app.services.templates.save(ws, { name: 'welcome', subject: 'Welcome {{firstName}}', html: '<p>Hi {{firstName}} {{lastName}} ({{email}}), plan {{event.plan}}, city {{city}}</p><a href="https://example.test/x">x</a>' })).id;
    bare = (await t.app.services.templates.save(ws, { name: 'bare', subject: 'Reminder', html: '<p>reminder for {{email}}</p>' })).id;
  });
  afterAll(() => t?.close());

  const enrollIn = (automationId: string, contactIds: string[], triggerData?: Record<string, unknown>) =>
    enroll(db, t.app.services.signal, { workspaceId: ws, automationId, contactIds, ...(triggerData ? { triggerData } : {}) });

  it('sends, waits from the due time, and sends again: each email once, with the contact, custom fields and event properties', async () => {
    const id = await insertAutomation(db, {
      workspaceId: ws,
      steps: [
        { id: 'welcome', type: 'send_email', template_id: template, from: FROM, from_name: 'News', tier: 'bulk', next: 'wait' },
        { id: 'wait', type: 'delay', amount: 2, unit: 'seconds', next: 'reminder' },
        { id: 'reminder', type: 'send_email', template_id: bare, subject: 'Still there, {{firstName}}? ({{event.plan}})', from: FROM, tier: 'high' },
      ],
    });
    const [ada, bob] = await insertContacts(db, ws, [
      { email: `ada-${backend}@example.test`, first_name: 'Ada', last_name: 'Lovelace', custom_fields: { city: 'London' } },
      { email: `bob-${backend}@example.test`, first_name: 'Bob' },
    ]);
    const [enrollment] = await enrollIn(id, [ada!, bob!], { event: { plan: 'pro' } });
    const rows = await settled(db, id);
    expect(rows.map((r) => r.status)).toEqual(['completed', 'completed']);
    expect(rows.every((r) => r.seq === 3 && r.current_step === null && r.ended_at !== null)).toBe(true);

    const emails = await automationEmails(db, id);
    expect(emails).toHaveLength(4);
    const toAda = emails.filter((e) => e.to === `ada-${backend}@example.test`).sort((a, b) => a.created_at.getTime() - b.created_at.getTime());
    expect(toAda.map((e) => e.subject)).toEqual(['Welcome Ada', 'Still there, Ada? (pro)']);
    expect(toAda[0]!.html).toContain('Hi Ada Lovelace (ada-');
    expect(toAda[0]!.html).toContain('plan pro, city London');
    expect(toAda[0]!.from_name).toBe('News');
    expect(toAda[0]!.api_key_id).toBeNull();
    expect(toAda.map((e) => e.tier)).toEqual(['bulk', 'high']);
    // unsubscribable like bulk mail, and tracked as the workspace's defaults say
    expect(Object.keys(toAda[1]!.headers)).toContain('List-Unsubscribe');
    expect(toAda[0]!.track_opens).toBe(true);
    expect(toAda[0]!.html).toContain('/t/c/');

    const runs = await stepRuns(db, enrollment!);
    expect(runs.map((r) => [r.step_id, r.outcome])).toEqual([['welcome', 'sent'], ['wait', 'waited'], ['reminder', 'sent']]);
    expect(runs[0]!.message_id).toBe(toAda[0]!.id);
    expect(runs[2]!.message_id).toBe(toAda[1]!.id);
    // the second send is due 2 s after the delay's due time, and not sent before it
    expect(runs[2]!.due_at.getTime() - runs[1]!.due_at.getTime()).toBe(2000);
    expect(toAda[1]!.created_at.getTime()).toBeGreaterThanOrEqual(runs[2]!.due_at.getTime());
    const counts = await t.app.services.automations.get(ws, id);
    expect(counts).toMatchObject({ completed_count: 2, enrolled_count: 2, active_count: 0 });
  });

  it('follows both branches of field, tag and email-click conditions, and runs actions with their contact events', async () => {
    const audience = await t.app.services.audiences.create(ws, { name: `a-${backend}` });
    const leaving = await t.app.services.audiences.create(ws, { name: `l-${backend}` });
    const id = await insertAutomation(db, {
      workspaceId: ws,
      steps: [
        { id: 'is-vip', type: 'condition', condition: { kind: 'tag', tag: 'vip', op: 'has' }, on_true: 'vip-city', on_false: 'tag-regular' },
        { id: 'vip-city', type: 'condition', condition: { kind: 'field', field: 'city', op: 'equals', value: 'Paris' }, on_true: 'tag-parisian', on_false: 'tag-elsewhere' },
        { id: 'tag-parisian', type: 'action', action: { kind: 'add_tag', tag: 'parisian' }, next: 'join' },
        { id: 'tag-elsewhere', type: 'action', action: { kind: 'update_field', field: 'job_title', value: 'traveller' }, next: 'join' },
        { id: 'tag-regular', type: 'action', action: { kind: 'remove_tag', tag: 'trial' }, next: 'set-score' },
        { id: 'set-score', type: 'action', action: { kind: 'update_field', field: 'score', value: 7 }, next: 'join' },
        { id: 'join', type: 'action', action: { kind: 'subscribe', audience_id: audience.id }, next: 'leave' },
        { id: 'leave', type: 'action', action: { kind: 'unsubscribe', audience_id: leaving.id } },
      ],
    });
    const [paris, rome, regular] = await insertContacts(db, ws, [
      { email: `paris-${backend}@example.test`, tags: ['vip'], custom_fields: { city: 'Paris' } },
      { email: `rome-${backend}@example.test`, tags: ['vip'], custom_fields: { city: 'Rome' } },
      { email: `regular-${backend}@example.test`, tags: ['trial', 'x'] },
    ]);
    await t.app.services.contacts.setSubscription(ws, regular!, leaving.id, 'subscribed', 'test');
    const enrollments = await enrollIn(id, [paris!, rome!, regular!]);
    const rows = await settled(db, id);
    expect(rows.every((r) => r.status === 'completed')).toBe(true);

    const contacts = await db.selectFrom('contacts').select(['id', 'tags', 'job_title', 'custom_fields']).where('id', 'in', [paris!, rome!, regular!]).execute();
    const byId = new Map(contacts.map((c) => [c.id, c]));
    expect(byId.get(paris!)!.tags).toEqual(['vip', 'parisian']);
    expect(byId.get(rome!)!.job_title).toBe('traveller');
    expect(byId.get(regular!)!.tags).toEqual(['x']);
    expect(byId.get(regular!)!.custom_fields).toEqual({ score: 7 });
    const members = await db.selectFrom('audience_members').select(['contact_id', 'audience_id', 'status']).where('audience_id', 'in', [audience.id, leaving.id]).execute();
    expect(members.filter((m) => m.audience_id === audience.id && m.status === 'subscribed')).toHaveLength(3);
    expect(members.find((m) => m.audience_id === leaving.id && m.contact_id === regular)?.status).toBe('unsubscribed');
    const events = await db.selectFrom('contact_events').select(['contact_id', 'type']).where('contact_id', '=', regular!).execute();
    expect(events.map((e) => e.type)).toEqual(expect.arrayContaining(['contact.updated', 'contact.subscribed', 'contact.unsubscribed']));

    expect((await stepRuns(db, enrollments[0]!)).map((r) => `${r.step_id}:${r.outcome}`)).toEqual(['is-vip:true', 'vip-city:true', 'tag-parisian:done', 'join:done', 'leave:done']);
    expect((await stepRuns(db, enrollments[1]!)).map((r) => `${r.step_id}:${r.outcome}`)).toEqual(['is-vip:true', 'vip-city:false', 'tag-elsewhere:done', 'join:done', 'leave:done']);
    expect((await stepRuns(db, enrollments[2]!)).map((r) => `${r.step_id}:${r.outcome}`)).toEqual(['is-vip:false', 'tag-regular:done', 'set-score:done', 'join:done', 'leave:done']);
  });

  it('branches on whether the email of an earlier step was clicked within the window', async () => {
    const id = await insertAutomation(db, {
      workspaceId: ws,
      steps: [
        { id: 'mail', type: 'send_email', template_id: bare, from: FROM, next: 'wait' },
        { id: 'wait', type: 'delay', amount: 3, unit: 'seconds', next: 'clicked' },
        { id: 'clicked', type: 'condition', condition: { kind: 'email_clicked', step: 'mail', within: { amount: 1, unit: 'minutes' } }, on_true: 'yes', on_false: 'opened' },
        { id: 'opened', type: 'condition', condition: { kind: 'email_opened', step: 'mail' }, on_true: 'only-opened', on_false: 'no' },
        { id: 'yes', type: 'action', action: { kind: 'add_tag', tag: 'clicked' } },
        { id: 'only-opened', type: 'action', action: { kind: 'add_tag', tag: 'opened' } },
        { id: 'no', type: 'exit' },
      ],
    });
    const [soon, late, never] = await insertContacts(db, ws, ['soon', 'late', 'never'].map((n) => ({ email: `${n}-${backend}@example.test` })));
    await enrollIn(id, [soon!, late!, never!]);
    const emails = await waitFor(async () => {
      const e = await automationEmails(db, id);
      return e.length === 3 ? e : null;
    });
    const of = (n: string) => emails.find((e) => e.to.startsWith(`${n}-`))!;
    // what the tracking routes record (modules/tracking): a click 10 s after acceptance, one 5 minutes after, opens
    await db.updateTable('messages').set({ clicked_at: new Date(of('soon').created_at.getTime() + 10_000) }).where('id', '=', of('soon').id).execute();
    await db.updateTable('messages').set({ clicked_at: new Date(of('late').created_at.getTime() + 300_000), opened_at: new Date() }).where('id', '=', of('late').id).execute();
    const rows = await settled(db, id);
    const byContact = new Map(rows.map((r) => [r.contact_id, r]));
    expect(byContact.get(soon!)!.status).toBe('completed');
    expect(byContact.get(late!)!.status).toBe('completed');
    expect(byContact.get(never!)).toMatchObject({ status: 'exited', exit_reason: 'exit_step' });
    const tags = await db.selectFrom('contacts').select(['id', 'tags']).where('id', 'in', [soon!, late!, never!]).execute();
    expect(Object.fromEntries(tags.map((c) => [c.id, c.tags]))).toEqual({ [soon!]: ['clicked'], [late!]: ['opened'], [never!]: [] });
  });

  it('stops contacts that leave at their next step: unenrolled, deleted, blocked; and never mails a suppressed address', async () => {
    const id = await insertAutomation(db, {
      workspaceId: ws,
      steps: [
        { id: 'wait', type: 'delay', amount: 2, unit: 'seconds', next: 'mail' },
        { id: 'mail', type: 'send_email', template_id: bare, from: FROM },
      ],
    });
    const [stays, unenrolled, deleted, blocked, suppressed] = await insertContacts(db, ws, ['stays', 'unenrolled', 'deleted', 'blocked', 'suppressed'].map((n) => ({ email: `${n}-${backend}@example.test` })));
    const enrollments = await enrollIn(id, [stays!, unenrolled!, deleted!, blocked!, suppressed!]);
    await db.updateTable('automation_enrollments').set({ status: 'exited', exit_reason: 'unenrolled', ended_at: new Date() }).where('id', '=', enrollments[1]!).execute();
    await t.app.services.contacts.delete(ws, { id: deleted! });
    await db.updateTable('contacts').set({ status: 'blocked', blocked_reason: 'manual', blocked_at: new Date() }).where('id', '=', blocked!).execute();
    await db.insertInto('suppressions').values({ workspace_id: ws, email_key: `suppressed-${backend}@example.test`, email: `suppressed-${backend}@example.test`, scope: 'all', reason: 'manual' }).execute();

    const rows = await settled(db, id);
    const byContact = new Map(rows.map((r) => [r.contact_id, r]));
    expect(byContact.get(stays!)!.status).toBe('completed');
    expect(byContact.get(unenrolled!)).toMatchObject({ status: 'exited', exit_reason: 'unenrolled' });
    expect(byContact.get(deleted!)).toMatchObject({ status: 'exited', exit_reason: 'contact_deleted' });
    expect(byContact.get(blocked!)).toMatchObject({ status: 'exited', exit_reason: 'contact_blocked' });
    expect(byContact.get(suppressed!)!.status).toBe('completed');
    expect((await stepRuns(db, enrollments[4]!)).map((r) => [r.step_id, r.outcome, r.message_id])).toEqual([['wait', 'waited', null], ['mail', 'suppressed', null]]);
    expect((await automationEmails(db, id)).map((e) => e.to)).toEqual([`stays-${backend}@example.test`]);
    // the leavers' send steps never ran (their delay may have, had it come before they left)
    for (const e of enrollments.slice(1, 4)) expect((await stepRuns(db, e!)).map((r) => r.step_id)).not.toContain('mail');
  });

  it('holds the enrollments of a paused automation at their step and goes on when it is active again; archived ends them', async () => {
    const steps = [
      { id: 'wait', type: 'delay', amount: 3, unit: 'seconds', next: 'mail' },
      { id: 'mail', type: 'send_email', template_id: bare, from: FROM },
    ];
    const paused = await insertAutomation(db, { workspaceId: ws, steps });
    const archived = await insertAutomation(db, { workspaceId: ws, steps });
    const [a, b] = await insertContacts(db, ws, [{ email: `paused-${backend}@example.test` }, { email: `archived-${backend}@example.test` }]);
    const [pe] = await enrollIn(paused, [a!]);
    const [ae] = await enrollIn(archived, [b!]);
    await waitFor(async () => (await stepRuns(db, pe!)).length === 1 && (await stepRuns(db, ae!)).length === 1, { what: 'the delays to run' });
    await db.updateTable('automations').set({ status: 'paused' }).where('id', '=', paused).execute();
    await db.updateTable('automations').set({ status: 'archived' }).where('id', '=', archived).execute();

    await settled(db, archived);
    expect((await enrollmentRows(db, archived))[0]).toMatchObject({ status: 'exited', exit_reason: 'automation_archived' });
    // the paused one's step came due and was put back to wait, not run
    const job = await waitFor(async () => {
      const j = await db.selectFrom('jobs').selectAll().where('dedupe_key', '=', `automation:${pe!}:1`).executeTakeFirst();
      return j && j.status === 'pending' && j.next_attempt_at! > new Date(Date.now() + 10_000) ? j : null;
    }, { what: 'the paused step to be put back' });
    expect(job.attempts).toBe(0);
    expect((await enrollmentRows(db, paused))[0]).toMatchObject({ status: 'active', current_step: 'mail', seq: 1 });
    expect(await automationEmails(db, paused)).toHaveLength(0);

    await inTransaction(db, async (trx) => {
      await trx.updateTable('automations').set({ status: 'active' }).where('id', '=', paused).execute();
      await wakeWaitingSteps(trx, paused);
    });
    t.app.services.signal.wakeLocal('jobs');
    await settled(db, paused);
    expect(await automationEmails(db, paused)).toHaveLength(1);
  });

  it('retries a failing step a few times, then ends the enrollment with step_failed and the reason', async () => {
    const id = await insertAutomation(db, {
      workspaceId: ws,
      steps: [
        { id: 'tag', type: 'action', action: { kind: 'add_tag', tag: 'before' }, next: 'mail' },
        { id: 'mail', type: 'send_email', template_id: '00000000-0000-7000-8000-000000000000', from: FROM },
      ],
    });
    const [c] = await insertContacts(db, ws, [{ email: `failing-${backend}@example.test` }]);
    const [e] = await enrollIn(id, [c!]);
    const rows = await settled(db, id);
    expect(rows[0]).toMatchObject({ status: 'exited', exit_reason: 'step_failed' });
    const runs = await stepRuns(db, e!);
    expect(runs.map((r) => [r.step_id, r.outcome])).toEqual([['tag', 'done'], ['mail', 'failed']]);
    expect(runs[1]!.detail).toMatchObject({ attempts: 5 });
    expect(String(runs[1]!.detail.error)).toContain('not found');
    // the step before ran once, though the failing one was tried five times
    expect((await db.selectFrom('contacts').select('tags').where('id', '=', c!).executeTakeFirstOrThrow()).tags).toEqual(['before']);
    expect(await automationEmails(db, id)).toHaveLength(0);
  });

  it("counts its emails against the plan's monthly quota, and fails the sends past it", async () => {
    const small = (await t.workspace('LAUNCH')).id;
    const tpl = (await t.app.services.templates.save(small, { name: 'q', subject: 'Hi', html: '<p>{{email}}</p>' })).id;
    const id = await insertAutomation(db, { workspaceId: small, steps: [{ id: 'mail', type: 'send_email', template_id: tpl, from: FROM }] });
    const contacts = await insertContacts(db, small, Array.from({ length: 5 }, (_, i) => ({ email: `quota${i}-${backend}@example.test` })));
    await enroll(db, t.app.services.signal, { workspaceId: small, automationId: id, contactIds: contacts });
    const rows = await settled(db, id);
    expect(rows.filter((r) => r.status === 'completed')).toHaveLength(3);
    expect(rows.filter((r) => r.exit_reason === 'step_failed')).toHaveLength(2);
    expect(await automationEmails(db, id)).toHaveLength(3);
    const failed = await db.selectFrom('automation_step_runs').select('detail').where('enrollment_id', 'in', rows.map((r) => r.id)).where('outcome', '=', 'failed').execute();
    expect(failed.map((f) => String(f.detail.error))).toEqual([expect.stringContaining('quota'), expect.stringContaining('quota')]);
    const usage = await db.selectFrom('usage_counters').select('emails').where('workspace_id', '=', small).executeTakeFirstOrThrow();
    expect(usage.emails).toBe(3);
  });
});

describe('two engines on one PostgreSQL database', () => {
  it('run each step once: every email is sent once', async () => {
    const pg = await createPostgresDatabase();
    const log = createLogger('silent');
    const config = loadConfig({ DATABASE_URL: pg.url, DELIVERY_MODE: 'capture', LOG_LEVEL: 'silent', RETRY_BASE_MS: '50' });
    const databases = [await openPostgres(pg.url), await openPostgres(pg.url)];
    const workers: AutomationWorker[] = [];
    try {
      await migrate(databases[0]!.db);
      const services = [await createServices(config, databases[0]!), await createServices(config, databases[1]!)];
      const db = databases[0]!.db;
      const ws = (await services[0]!.workspaces.create({ name: 'two', plan: 'ENTERPRISE' })).workspace.id;
      const template = (await services[0]!.templates.save(ws, { name: 't', subject: 'Hi {{firstName}}', html: '<p>{{email}}</p>' })).id;
      const id = await insertAutomation(db, {
        workspaceId: ws,
        steps: [
          { id: 'one', type: 'send_email', template_id: template, from: FROM, next: 'tag' },
          { id: 'tag', type: 'action', action: { kind: 'add_tag', tag: 'seen' }, next: 'two' },
          { id: 'two', type: 'send_email', template_id: template, from: FROM },
        ],
      });
      const contacts = await insertContacts(db, ws, Array.from({ length: 400 }, (_, i) => ({ email: `c${i}@example.test`, first_name: `C${i}` })));
      // the jobs are waiting before either engine starts, so both claim from the same heap; small batches interleave them
      await enroll(db, services[0]!.signal, { workspaceId: ws, automationId: id, contactIds: contacts });
      for (const [i, s] of services.entries()) {
        await s.signal.start();
        const w = new AutomationWorker({ db: databases[i]!.db, signal: s.signal, log, runner: createStepRunner(s, log), concurrency: 2, batchSize: 25, pollMs: 100 });
        w.start();
        workers.push(w);
      }
      await settled(db, id, 60_000);
      const rows = await enrollmentRows(db, id);
      expect(rows.filter((r) => r.status === 'completed')).toHaveLength(400);
      const emails = await automationEmails(db, id);
      expect(emails).toHaveLength(800);
      const perStep = new Set(emails.map((e) => `${e.to}:${(e.metadata as { step_id: string }).step_id}`));
      expect(perStep.size).toBe(800);
      const runs = await sql<{ n: number }>`SELECT count(*)::int AS n FROM automation_step_runs r JOIN automation_enrollments e ON e.id = r.enrollment_id WHERE e.automation_id = ${id}`.execute(db);
      expect(runs.rows[0]!.n).toBe(1200);
      const tags = await db.selectFrom('contacts').select('tags').where('workspace_id', '=', ws).execute();
      expect(tags.every((c) => c.tags.length === 1 && c.tags[0] === 'seen')).toBe(true);
      for (const s of services) {
        await s.signal.stop();
        await s.content.close();
      }
    } finally {
      await Promise.all(workers.map((w) => w.stop({ deadline: Date.now() + 10_000 })));
      await Promise.all(databases.map((d) => d.close()));
      await pg.drop();
    }
  }, 120_000);

  it('a step job claimed again after its lease lapsed, while its first run still holds it, runs its step once', async () => {
    const pg = await createPostgresDatabase();
    const log = createLogger('silent');
    const config = loadConfig({ DATABASE_URL: pg.url, DELIVERY_MODE: 'capture', LOG_LEVEL: 'silent', RETRY_BASE_MS: '50' });
    const databases = [await openPostgres(pg.url), await openPostgres(pg.url)];
    try {
      await migrate(databases[0]!.db);
      const services = [await createServices(config, databases[0]!), await createServices(config, databases[1]!)];
      const db = databases[0]!.db;
      const ws = (await services[0]!.workspaces.create({ name: 'lapse', plan: 'ENTERPRISE' })).workspace.id;
      const template = (await services[0]!.templates.save(ws, { name: 't', subject: 'Hi', html: '<p>{{email}}</p>' })).id;
      const id = await insertAutomation(db, { workspaceId: ws, steps: [{ id: 'one', type: 'send_email', template_id: template, from: FROM, next: 'two' }, { id: 'two', type: 'action', action: { kind: 'add_tag', tag: 't' } }] });
      const contacts = await insertContacts(db, ws, Array.from({ length: 50 }, (_, i) => ({ email: `l${i}@example.test` })));
      await enroll(db, services[0]!.signal, { workspaceId: ws, automationId: id, contactIds: contacts });
      const first = await claimJobs(db, { workerId: 'first', queues: [AUTOMATION_STEP_QUEUE], limit: 100, leaseMs: 60_000 });
      // the first worker's leases lapse (it stalled); the second claims the same jobs
      await db.updateTable('jobs').set({ next_attempt_at: new Date(Date.now() - 1000) }).where('queue', '=', AUTOMATION_STEP_QUEUE).execute();
      const second = await claimJobs(db, { workerId: 'second', queues: [AUTOMATION_STEP_QUEUE], limit: 100, leaseMs: 60_000 });
      expect(second.map((j) => j.id).sort()).toEqual(first.map((j) => j.id).sort());
      const runners = services.map((s) => createStepRunner(s, log));
      await Promise.all([runners[0]!.runBatch('first', first), runners[1]!.runBatch('second', second)]);
      const emails = await automationEmails(db, id);
      expect(emails).toHaveLength(50);
      expect(new Set(emails.map((e) => e.to)).size).toBe(50);
      const rows = await enrollmentRows(db, id);
      expect(rows.every((r) => r.status === 'completed' && r.seq === 2)).toBe(true);
      // no job is left running or waiting: the step ran once, and the job is done whichever run recorded it
      const left = await db.selectFrom('jobs').select(['status', 'locked_by']).where('queue', '=', AUTOMATION_STEP_QUEUE).execute();
      expect(left.every((j) => j.status === 'done')).toBe(true);
      for (const s of services) await s.content.close();
    } finally {
      await Promise.all(databases.map((d) => d.close()));
      await pg.drop();
    }
  }, 60_000);

  it('a sender the workspace may no longer use fails the send, and after five attempts ends the enrollment', async () => {
    const pg = await createPostgresDatabase();
    const config = loadConfig({ DATABASE_URL: pg.url, DELIVERY_MODE: 'mx', LOG_LEVEL: 'silent', RETRY_BASE_MS: '50' });
    const database = await openPostgres(pg.url);
    try {
      await migrate(database.db);
      const services = await createServices(config, database);
      const db = database.db;
      const ws = (await services.workspaces.create({ name: 'sender', plan: 'ENTERPRISE' })).workspace.id;
      const template = (await services.templates.save(ws, { name: 't', subject: 'Hi', html: '<p>x</p>' })).id;
      const id = await insertAutomation(db, { workspaceId: ws, steps: [{ id: 'mail', type: 'send_email', template_id: template, from: 'someone@elsewhere.test' }] });
      const [c] = await insertContacts(db, ws, [{ email: 'sender@example.test' }]);
      const [e] = await enroll(db, services.signal, { workspaceId: ws, automationId: id, contactIds: [c!] });
      // the server's own rules: not the capture transport, so the sender must be a domain of the workspace
      const runner = createStepRunner(services, createLogger('silent'));
      for (let attempt = 1; attempt <= 5; attempt++) {
        await db.updateTable('jobs').set({ next_attempt_at: new Date(Date.now() - 1000) }).where('queue', '=', AUTOMATION_STEP_QUEUE).where('status', '=', 'pending').execute();
        const jobs = await claimJobs(db, { workerId: 'w', queues: [AUTOMATION_STEP_QUEUE], limit: 10, leaseMs: 60_000 });
        expect(jobs.map((j) => j.attempts)).toEqual([attempt]);
        await runner.runBatch('w', jobs);
        const row = (await enrollmentRows(db, id))[0]!;
        expect(row.status).toBe(attempt < 5 ? 'active' : 'exited');
      }
      expect((await enrollmentRows(db, id))[0]).toMatchObject({ exit_reason: 'step_failed' });
      const runs = await stepRuns(db, e!);
      expect(runs.map((r) => r.outcome)).toEqual(['failed']);
      expect(String(runs[0]!.detail.error)).toContain('elsewhere.test');
      expect(await automationEmails(db, id)).toHaveLength(0);
      await services.content.close();
    } finally {
      await database.close();
      await pg.drop();
    }
  }, 60_000);

  it('a step whose transaction keeps failing is retried, then ends its enrollment, and holds no other job of its batch back', async () => {
    const pg = await createPostgresDatabase();
    const config = loadConfig({ DATABASE_URL: pg.url, DELIVERY_MODE: 'capture', LOG_LEVEL: 'silent', RETRY_BASE_MS: '50' });
    const database = await openPostgres(pg.url);
    try {
      await migrate(database.db);
      const services = await createServices(config, database);
      const db = database.db;
      // a write the engine cannot make (as a broken database would refuse it): any run of the step `boom` but its failure
      await sql`CREATE FUNCTION refuse_boom() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN IF NEW.step_id = 'boom' AND NEW.outcome <> 'failed' THEN RAISE EXCEPTION 'refused'; END IF; RETURN NEW; END $$`.execute(db);
      await sql`CREATE TRIGGER refuse_boom BEFORE INSERT ON automation_step_runs FOR EACH ROW EXECUTE FUNCTION refuse_boom()`.execute(db);
      const ws = (await services.workspaces.create({ name: 'boom', plan: 'ENTERPRISE' })).workspace.id;
      const boom = await insertAutomation(db, { workspaceId: ws, steps: [{ id: 'boom', type: 'action', action: { kind: 'add_tag', tag: 'b' } }] });
      const fine = await insertAutomation(db, { workspaceId: ws, steps: [{ id: 'fine', type: 'action', action: { kind: 'add_tag', tag: 'f' } }] });
      const [c] = await insertContacts(db, ws, [{ email: 'boom@example.test' }]);
      await enroll(db, services.signal, { workspaceId: ws, automationId: boom, contactIds: [c!] });
      await enroll(db, services.signal, { workspaceId: ws, automationId: fine, contactIds: [c!] });
      const runner = createStepRunner(services, createLogger('silent'));
      for (let attempt = 1; attempt <= 5; attempt++) {
        await db.updateTable('jobs').set({ next_attempt_at: new Date(Date.now() - 1000) }).where('queue', '=', AUTOMATION_STEP_QUEUE).where('status', '=', 'pending').execute();
        const jobs = await claimJobs(db, { workerId: 'w', queues: [AUTOMATION_STEP_QUEUE], limit: 10, leaseMs: 60_000 });
        await runner.runBatch('w', jobs);
        if (attempt === 1) expect((await enrollmentRows(db, fine))[0]!.status).toBe('completed');
      }
      const [row] = await enrollmentRows(db, boom);
      expect(row).toMatchObject({ status: 'exited', exit_reason: 'step_failed' });
      const runs = await stepRuns(db, row!.id);
      expect(runs.map((r) => [r.step_id, r.outcome])).toEqual([['boom', 'failed']]);
      expect(String(runs[0]!.detail.error)).toContain('refused');
      const left = await db.selectFrom('jobs').select('status').where('queue', '=', AUTOMATION_STEP_QUEUE).execute();
      expect(left.every((j) => j.status === 'done')).toBe(true);
      // the tag of the failing step was rolled back with it
      expect((await db.selectFrom('contacts').select('tags').where('id', '=', c!).executeTakeFirstOrThrow()).tags).toEqual(['f']);
      await services.content.close();
    } finally {
      await database.close();
      await pg.drop();
    }
  }, 60_000);
});
