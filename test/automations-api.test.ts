import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startTestApp, type ApiResponse, type TestApp } from './support/app.js';
import { BACKENDS } from './support/databases.js';
import { publicApi, type Json, type Ws } from './support/public-api.js';

interface Automation {
  id: string;
  name: string;
  description: string | null;
  status: string;
  trigger_type: string;
  trigger_config: Json;
  enrolled_count: number;
  completed_count: number;
  active_count: number;
  version: number;
  trigger: { type: string; config: Json };
  steps: Json[];
}
interface Enrollment {
  id: string;
  contact_id: string;
  email: string | null;
  status: string;
  exit_reason: string | null;
  current_step: string | null;
  version: number;
  history: { seq: number; step_id: string; outcome: string; message_id: string | null }[];
}

/** get-automation's keys: spec §6, plus ours (description, active_count, version). */
const ITEM_KEYS = ['id', 'name', 'description', 'status', 'trigger_type', 'trigger_config', 'enrolled_count', 'completed_count', 'active_count', 'version', 'created_at', 'updated_at'];
const SENDER = 'news@keplars.test';

describe.each(BACKENDS)('the automations API on %s', (backend) => {
  let t: TestApp;
  let ws: Ws;
  let other: Ws;
  let template: string;
  let audience: string;

  beforeAll(async () => {
    // no worker: the step jobs an enrollment makes stay as they were made (the engine runs them; tested with it).
    // SMTP delivery (never reached) so that senders follow the domain rules: only DEFAULT_FROM is allowed here.
    t = await startTestApp({ backend, roles: { api: true, worker: false }, env: { SMTP_URL: 'smtp://127.0.0.1:9', DEFAULT_FROM: SENDER } });
    ws = await t.workspace();
    other = await t.workspace();
    const s = t.app.services;
    template = (await s.templates.save(ws.id, { name: 'Welcome', subject: 'Hi {{firstName}}', html: '<p>Welcome, {{firstName}}</p>' })).id;
    audience = (await s.audiences.create(ws.id, { name: 'Newsletter' })).id;
    for (const email of ['ada@example.com', 'grace@example.com', 'alan@example.com', 'edsger@example.com']) await addContact(email);
  });
  afterAll(() => t?.close());

  const { api, ok } = publicApi(() => t, () => ws);
  const ext = (path: string, opts: Parameters<typeof call>[1] = {}, w: Ws = ws) => call(`${t.url}/api/v1/automations${path}`, { key: w.adminKey, ...opts });
  const addContact = async (email: string, w: Ws = ws) => ok(await api('contacts/add-contact', { body: { email, first_name: email.split('@')[0] } }, w)) as { id: string };
  const expectError = (res: ApiResponse, status: number, code: string, message?: string | RegExp) => {
    expect(res.status, res.text).toBe(status);
    expect(res.body).toMatchObject({ success: false, error: code, code });
    if (typeof message === 'string') expect(res.body.message).toBe(message);
    else if (message) expect(res.body.message).toMatch(message);
  };

  const welcomeSteps = () => [
    { id: 'welcome', type: 'send_email', template_id: template, from: SENDER, subject: 'Welcome {{firstName}}', next: 'wait' },
    { id: 'wait', type: 'delay', amount: 2, unit: 'days', next: 'check' },
    { id: 'check', type: 'condition', condition: { kind: 'email_opened', step: 'welcome' }, on_false: 'remind' },
    { id: 'remind', type: 'send_email', template_id: template, from: SENDER, subject: 'Did you see this?' },
  ];
  const create = async (body: Json = {}, w: Ws = ws): Promise<Automation> =>
    ok(await ext('', { body: { name: 'Welcome series', trigger: { type: 'manual' }, steps: welcomeSteps(), ...body } }, w)) as unknown as Automation;
  const activate = async (id: string) => ok(await ext(`/${id}/activate`, { method: 'POST' })) as unknown as Automation;
  const enrollmentsOf = (automationId: string) => t.app.services.database.db.selectFrom('automation_enrollments').selectAll().where('automation_id', '=', automationId).orderBy('enrolled_at').execute();
  const contactId = async (email: string) => (await t.app.services.database.db.selectFrom('contacts').select('id').where('workspace_id', '=', ws.id).where('email', '=', email).executeTakeFirstOrThrow()).id;

  describe('create, get, update', () => {
    it('creates a draft at version 1 with its steps, and shows it in both APIs', async () => {
      const a = await create({ description: 'The worked example', trigger: { type: 'contact_added_to_audience', config: { audience_id: audience } } });
      expect(a).toMatchObject({ name: 'Welcome series', description: 'The worked example', status: 'draft', version: 1, trigger_type: 'contact_added_to_audience', enrolled_count: 0, completed_count: 0, active_count: 0 });
      expect(a.trigger).toEqual({ type: 'contact_added_to_audience', config: { audience_id: audience } });
      expect(a.steps.map((s) => s.id)).toEqual(['welcome', 'wait', 'check', 'remind']);
      // the step defaults are stored: a send step's tier
      expect(a.steps[0]).toMatchObject({ tier: 'bulk' });
      expect(ok(await ext(`/${a.id}`))).toMatchObject({ id: a.id, steps: a.steps });
      const item = ok(await api(`automations/get-automation/${a.id}`));
      expect(Object.keys(item).sort()).toEqual([...ITEM_KEYS].sort());
      expect(item).toMatchObject({ id: a.id, status: 'draft', trigger_type: 'contact_added_to_audience', trigger_config: { audience_id: audience }, enrolled_count: 0, completed_count: 0 });
      const version = await t.app.services.database.db.selectFrom('automation_versions').selectAll().where('automation_id', '=', a.id).execute();
      expect(version).toHaveLength(1);
    });

    it.each([
      ['a next that is not a step', [{ id: 'first', type: 'action', action: { kind: 'add_tag', tag: 'x' }, next: 'remind' }, { id: 'remind', type: 'exit' }, { id: 'x', type: 'action', action: { kind: 'add_tag', tag: 'y' }, next: 'nope' }], "Step 'x': next 'nope' is not a step"],
      ['an unreachable step', [{ id: 'a', type: 'exit' }, { id: 'island', type: 'exit' }], "Step 'island': cannot be reached from the entry step 'a'"],
      ['a loop without a delay', [{ id: 'a', type: 'action', action: { kind: 'add_tag', tag: 'x' }, next: 'b' }, { id: 'b', type: 'action', action: { kind: 'remove_tag', tag: 'x' }, next: 'a' }], "Step 'a': loops back through 'a' → 'b' → 'a' with no delay step in the loop"],
      ['a field of a step', [{ id: 'welcome', type: 'send_email', from: SENDER }], "Step 'welcome': Field 'template_id' is required"],
      ['a template of no one', [{ id: 'welcome', type: 'send_email', template_id: '019a83de-2fc2-7b5f-bfbc-c951fe1200f7', from: SENDER }], "Step 'welcome': template '019a83de-2fc2-7b5f-bfbc-c951fe1200f7' was not found in this workspace"],
      ['a sender the workspace may not use', [{ id: 'welcome', type: 'send_email', template_id: 'TEMPLATE', from: 'me@elsewhere.test' }], /^Step 'welcome': this workspace may not send from me@elsewhere\.test: Domain elsewhere\.test is not a verified domain/],
      ['an audience of no one', [{ id: 'join', type: 'action', action: { kind: 'subscribe', audience_id: 'nope' } }], "Step 'join': audience 'nope' was not found in this workspace"],
    ])('refuses %s, naming the step', async (_what, steps, message) => {
      const withTemplate = JSON.parse(JSON.stringify(steps).replaceAll('TEMPLATE', template)) as Json[];
      const res = await ext('', { body: { name: 'Bad', trigger: { type: 'manual' }, steps: withTemplate } });
      expectError(res, 400, 'VALIDATION_ERROR', message);
    });

    it('refuses a trigger naming an audience of another workspace, and a trigger of no known type', async () => {
      const foreign = (await t.app.services.audiences.create(other.id, { name: 'Theirs' })).id;
      expectError(await ext('', { body: { name: 'x', trigger: { type: 'contact_added_to_audience', config: { audience_id: foreign } }, steps: [{ id: 'a', type: 'exit' }] } }), 400, 'VALIDATION_ERROR', `Trigger: audience '${foreign}' was not found in this workspace`);
      expectError(await ext('', { body: { name: 'x', trigger: { type: 'telepathy' }, steps: [{ id: 'a', type: 'exit' }] } }), 400, 'VALIDATION_ERROR', /^Field 'trigger/);
      expectError(await ext('', { body: { name: 'x', trigger: { type: 'contact_event', config: {} }, steps: [{ id: 'a', type: 'exit' }] } }), 400, 'VALIDATION_ERROR', "Field 'trigger.config.event_name' is required");
      const problems = await ext('', { body: { name: 'x', trigger: { type: 'manual' }, steps: [{ id: 'a', type: 'exit' }, { id: 'b', type: 'exit' }, { id: 'c', type: 'exit' }] } });
      expect(problems.body.problems).toEqual([
        { step: 'b', message: "Step 'b': cannot be reached from the entry step 'a'" },
        { step: 'c', message: "Step 'c': cannot be reached from the entry step 'a'" },
      ]);
    });

    it('a workspace has at most 1000 automations, archived ones included', async () => {
      const w = await t.workspace();
      const rows = Array.from({ length: 999 }, () => ({ id: randomUUID(), workspace_id: w.id, name: 'filler', trigger_type: 'manual' as const, status: 'archived' as const }));
      await t.app.services.database.db.insertInto('automations').values(rows).execute();
      const body = { name: 'last', trigger: { type: 'manual' }, steps: [{ id: 'a', type: 'exit' }] };
      expect((await ext('', { body }, w)).status).toBe(200);
      expectError(await ext('', { body }, w), 409, 'CONFLICT', 'A workspace has at most 1000 automations (archived ones included): delete some first');
    });

    it('PATCH: a name changes nothing else; new steps or a new trigger make a new version, and running enrollments keep theirs', async () => {
      const a = await create({ trigger: { type: 'manual' } });
      await activate(a.id);
      ok(await api(`automations/add-automation/${a.id}/enroll`, { body: { email: 'ada@example.com' } }));
      const renamed = ok(await ext(`/${a.id}`, { method: 'PATCH', body: { name: 'Renamed', description: null } })) as unknown as Automation;
      expect(renamed).toMatchObject({ name: 'Renamed', description: null, version: 1, status: 'active' });
      const shorter = ok(await ext(`/${a.id}`, { method: 'PATCH', body: { steps: [{ id: 'only', type: 'send_email', template_id: template, from: SENDER }] } })) as unknown as Automation;
      expect(shorter.version).toBe(2);
      expect(shorter.steps.map((s) => s.id)).toEqual(['only']);
      const retriggered = ok(await ext(`/${a.id}`, { method: 'PATCH', body: { trigger: { type: 'contact_event', config: { event_name: 'upgraded' } } } })) as unknown as Automation;
      expect(retriggered).toMatchObject({ version: 3, trigger_type: 'contact_event', trigger_config: { event_name: 'upgraded' } });
      // the same steps again: no new version
      expect((ok(await ext(`/${a.id}`, { method: 'PATCH', body: { steps: retriggered.steps } })) as unknown as Automation).version).toBe(3);
      ok(await api(`automations/add-automation/${a.id}/enroll`, { body: { email: 'grace@example.com' } }));
      const rows = await enrollmentsOf(a.id);
      expect(rows.map((r) => [r.version, r.current_step])).toEqual([
        [1, 'welcome'],
        [3, 'only'],
      ]);
      expectError(await ext(`/${a.id}`, { method: 'PATCH', body: { steps: [{ id: 'a', type: 'exit', next: 'b' }, { id: 'b' }] } }), 400, 'VALIDATION_ERROR', "Step 'b': 'type' must be one of send_email, delay, condition, action, exit");
    });
  });

  describe('the state machine', () => {
    it('draft → active ⇄ paused → archived, asking for the current status is a no-op, and archived is final', async () => {
      const a = await create();
      expectError(await ext(`/${a.id}/pause`, { method: 'POST' }), 409, 'CONFLICT', `Automation ${a.id} is draft and cannot be paused: activate it first`);
      expect((await activate(a.id)).status).toBe('active');
      expect((await activate(a.id)).status).toBe('active');
      expect((ok(await ext(`/${a.id}/pause`, { method: 'POST' })) as unknown as Automation).status).toBe('paused');
      expect((ok(await ext(`/${a.id}/pause`, { method: 'POST' })) as unknown as Automation).status).toBe('paused');
      expect((await activate(a.id)).status).toBe('active');
      ok(await api(`automations/add-automation/${a.id}/enroll`, { body: { email: 'alan@example.com' } }));
      const archived = ok(await ext(`/${a.id}/archive`, { method: 'POST' })) as unknown as Automation;
      expect(archived).toMatchObject({ status: 'archived', active_count: 0, enrolled_count: 1 });
      // archiving ends the running enrollments: the engine skips their next step
      expect((await enrollmentsOf(a.id)).map((r) => [r.status, r.exit_reason, r.current_step])).toEqual([['exited', 'automation_archived', null]]);
      expect((ok(await ext(`/${a.id}/archive`, { method: 'POST' })) as unknown as Automation).status).toBe('archived');
      const final = `Automation ${a.id} is archived: an archived automation cannot be changed`;
      expectError(await ext(`/${a.id}/activate`, { method: 'POST' }), 409, 'CONFLICT', final);
      expectError(await ext(`/${a.id}/pause`, { method: 'POST' }), 409, 'CONFLICT', final);
      expectError(await ext(`/${a.id}`, { method: 'PATCH', body: { name: 'again' } }), 409, 'CONFLICT', final);
      // the Keplars API no longer shows it; the extension does
      expectError(await api(`automations/get-automation/${a.id}`), 404, 'NOT_FOUND', `Automation ${a.id} not found (it is archived)`);
      expect(ok(await ext(`/${a.id}`)).status).toBe('archived');
    });

    it("a date_time trigger's job starts when the automation is activated, follows a changed time, and stops with a pause", async () => {
      const at = new Date(Date.now() + 3_600_000);
      const a = await create({ trigger: { type: 'date_time', config: { at: at.toISOString() } } });
      const jobOf = async () =>
        t.app.services.database.db.selectFrom('jobs').select(['queue', 'next_attempt_at']).where('dedupe_key', '=', `automation:${a.id}:at`).where('status', '=', 'pending').executeTakeFirst();
      expect(await jobOf()).toBeUndefined();
      await activate(a.id);
      expect(await jobOf()).toMatchObject({ queue: 'automation.date-at', next_attempt_at: at });
      const later = new Date(at.getTime() + 60_000);
      ok(await ext(`/${a.id}`, { method: 'PATCH', body: { trigger: { type: 'date_time', config: { at: later.toISOString() } } } }));
      expect((await jobOf())?.next_attempt_at).toEqual(later);
      ok(await ext(`/${a.id}/pause`, { method: 'POST' }));
      expect(await jobOf()).toBeUndefined();
    });

    it('activating checks the graph again: a template deleted since is named', async () => {
      const doomed = (await t.app.services.templates.save(ws.id, { name: 'Doomed', subject: 'x', html: '<p>x</p>' })).id;
      const a = await create({ steps: [{ id: 'send', type: 'send_email', template_id: doomed, from: SENDER }] });
      await t.app.services.templates.delete(ws.id, doomed);
      expectError(await ext(`/${a.id}/activate`, { method: 'POST' }), 400, 'VALIDATION_ERROR', `Step 'send': template '${doomed}' was not found in this workspace`);
      expect(ok(await ext(`/${a.id}`)).status).toBe('draft');
    });
  });

  describe('get-all and the extension list', () => {
    it('get-all pages with both styles, leaves archived out unless asked, and the extension list pages by cursor', async () => {
      const w = { ...(await t.workspace()) };
      const tpl = (await t.app.services.templates.save(w.id, { name: 'T', subject: 'x', html: '<p>x</p>' })).id;
      const made: Automation[] = [];
      for (const n of [1, 2, 3]) made.push(await create({ name: `A${n}`, steps: [{ id: 's', type: 'send_email', template_id: tpl, from: SENDER }] }, w));
      ok(await ext(`/${made[2]!.id}/archive`, { method: 'POST' }, w));
      const page = ok(await api('automations/get-all?page=2&limit=1', {}, w)) as { automations: Json[]; page: number; limit: number; total: number; totalPages: number; meta: Json };
      expect(page).toMatchObject({ page: 2, limit: 1, total: 2, totalPages: 2, meta: { total: 2, page: 2, limit: 1, has_more: false } });
      expect(page.automations.map((a) => a.name)).toEqual(['A2']);
      expect(Object.keys(page.automations[0]!).sort()).toEqual([...ITEM_KEYS].sort());
      const first = ok(await api('automations/get-all?page=0&limit=0', {}, w)) as { automations: Json[]; limit: number; meta: { has_more: boolean } };
      expect(first.automations.map((a) => a.name)).toEqual(['A1', 'A2']);
      expect(first.limit).toBe(50);
      expect((ok(await api('automations/get-all?status=archived', {}, w)) as { automations: Json[] }).automations.map((a) => a.name)).toEqual(['A3']);
      expectError(await api('automations/get-all?status=gone', {}, w), 400, 'VALIDATION_ERROR', "Query parameter 'status' must be one of draft, active, paused, archived");

      const one = ok(await ext('?limit=2', {}, w)) as { automations: Automation[]; next_cursor: string; has_more: boolean };
      expect(one.automations.map((a) => a.name)).toEqual(['A1', 'A2']);
      expect(one.has_more).toBe(true);
      const two = ok(await ext(`?limit=2&cursor=${one.next_cursor}`, {}, w)) as { automations: Automation[]; next_cursor: string | null; has_more: boolean };
      expect(two).toMatchObject({ next_cursor: null, has_more: false });
      expect(two.automations.map((a) => [a.name, a.status])).toEqual([['A3', 'archived']]);
      expect((ok(await ext('?status=draft', {}, w)) as { automations: Automation[] }).automations).toHaveLength(2);
    });
  });

  describe('enroll and unenroll', () => {
    it('enrolls an existing contact in an active automation once, with its first step job; again is a no-op', async () => {
      const a = await create();
      expectError(await api(`automations/add-automation/${a.id}/enroll`, { body: { email: 'ada@example.com' } }), 409, 'CONFLICT', new RegExp(`^Automation ${a.id} is draft: only an active automation enrolls contacts`));
      await activate(a.id);
      expectError(await api(`automations/add-automation/${a.id}/enroll`, { body: { email: 'nobody@example.com' } }), 404, 'NOT_FOUND', /^Contact nobody@example\.com not found in this workspace/);
      expectError(await api(`automations/add-automation/${a.id}/enroll`, { body: { email: 'not an address' } }), 400, 'VALIDATION_ERROR', 'Field \'email\' has an invalid email address: "not an address"');
      const first = await api(`automations/add-automation/${a.id}/enroll`, { body: { email: 'Ada@Example.com' } });
      expect(first.body).toMatchObject({ success: true, message: 'Success', data: { automation_id: a.id, email: 'ada@example.com', enrolled: true } });
      const again = await api(`automations/add-automation/${a.id}/enroll`, { body: { email: 'ada@example.com' } });
      expect(again.body).toMatchObject({ success: true, message: 'Success', data: { enrolled: false } });
      const rows = await enrollmentsOf(a.id);
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ contact_id: await contactId('ada@example.com'), status: 'active', current_step: 'welcome', seq: 0, version: 1 });
      const job = await t.app.services.database.db.selectFrom('jobs').selectAll().where('dedupe_key', '=', `automation:${rows[0]!.id}:0`).execute();
      expect(job).toHaveLength(1);
      expect(job[0]).toMatchObject({ queue: 'automation.step', status: 'pending' });
      expect(ok(await api(`automations/get-automation/${a.id}`))).toMatchObject({ enrolled_count: 1, active_count: 1 });
    });

    it('enrolls a contact once when two enroll requests race', async () => {
      const a = await create();
      await activate(a.id);
      const answers = await Promise.all([1, 2, 3].map(() => api(`automations/add-automation/${a.id}/enroll`, { body: { email: 'edsger@example.com' } })));
      expect(answers.map((r) => (ok(r) as { enrolled: boolean }).enrolled).sort()).toEqual([false, false, true]);
      expect(await enrollmentsOf(a.id)).toHaveLength(1);
      expect(ok(await ext(`/${a.id}`))).toMatchObject({ enrolled_count: 1, active_count: 1 });
    });

    it('refuses a blocked contact and an automation of another workspace', async () => {
      const a = await create();
      await activate(a.id);
      await addContact('blocked@example.com');
      ok(await api('contacts/update-contact?email=blocked@example.com', { method: 'PATCH', body: { status: 'blocked' } }));
      expectError(await api(`automations/add-automation/${a.id}/enroll`, { body: { email: 'blocked@example.com' } }), 409, 'CONFLICT', /^Contact blocked@example\.com is blocked/);
      await addContact('ada@example.com', other);
      expectError(await api(`automations/add-automation/${a.id}/enroll`, { body: { email: 'ada@example.com' } }, other), 404, 'NOT_FOUND', `Automation ${a.id} not found`);
      expectError(await api('automations/add-automation/not-a-uuid/enroll', { body: { email: 'ada@example.com' } }), 404, 'NOT_FOUND', 'Automation not-a-uuid not found');
      expect(await enrollmentsOf(a.id)).toEqual([]);
    });

    it('unenrolls with a JSON body on DELETE (PHP) or ?email=; the enrollment ends and the next enroll starts afresh', async () => {
      const a = await create();
      await activate(a.id);
      ok(await api(`automations/add-automation/${a.id}/enroll`, { body: { email: 'grace@example.com' } }));
      const gone = await api(`automations/delete-automation/${a.id}/subscribers`, { method: 'DELETE', body: { email: 'grace@example.com' } });
      expect(gone.body).toMatchObject({ success: true, message: 'Success', data: { automation_id: a.id, email: 'grace@example.com', unenrolled: true } });
      expect((await enrollmentsOf(a.id)).map((r) => [r.status, r.exit_reason, r.current_step, r.ended_at !== null])).toEqual([['exited', 'unenrolled', null, true]]);
      const noop = await api(`automations/delete-automation/${a.id}/subscribers`, { method: 'DELETE', body: { email: 'grace@example.com' } });
      expect(noop.body).toMatchObject({ message: 'Success', data: { unenrolled: false } });
      ok(await api(`automations/add-automation/${a.id}/enroll`, { body: { email: 'grace@example.com' } }));
      expect(ok(await api(`automations/delete-automation/${a.id}/subscribers?email=grace@example.com`, { method: 'DELETE' })).unenrolled).toBe(true);
      expect((await enrollmentsOf(a.id)).map((r) => r.status)).toEqual(['exited', 'exited']);
      expectError(await api(`automations/delete-automation/${a.id}/subscribers`, { method: 'DELETE' }), 400, 'VALIDATION_ERROR', "Field 'email' is required");
      expectError(await api(`automations/delete-automation/${a.id}/subscribers`, { method: 'DELETE', body: { email: 'nobody@example.com' } }), 404, 'NOT_FOUND', /^Contact nobody@example\.com not found/);
    });
  });

  describe('events/track', () => {
    it('records the event and enrolls the contact in every active automation of that event, with the properties', async () => {
      const w = await t.workspace();
      await addContact('ada@example.com', w);
      const tpl = (await t.app.services.templates.save(w.id, { name: 'T', subject: 'x', html: '<p>{{event.plan}}</p>' })).id;
      const steps = [{ id: 's', type: 'send_email', template_id: tpl, from: SENDER }];
      const make = (event: string) => create({ trigger: { type: 'contact_event', config: { event_name: event } }, steps }, w);
      const [one, two, draft, elsewhere] = [await make('signed_up'), await make('signed_up'), await make('signed_up'), await make('upgraded')];
      for (const a of [one!, two!, elsewhere!]) ok(await ext(`/${a.id}/activate`, { method: 'POST' }, w));
      const tracked = await api('automations/events/track', { body: { email: 'ada@example.com', event_name: 'signed_up', properties: { plan: 'pro', seats: 3 } } }, w);
      expect(tracked.body).toMatchObject({ success: true, message: 'Event tracked', data: { enrolled: 2 } });
      const eventId = (tracked.body.data as { event_id: string }).event_id;
      const event = await t.app.services.database.db.selectFrom('automation_events').selectAll().where('id', '=', eventId).executeTakeFirstOrThrow();
      expect(event).toMatchObject({ workspace_id: w.id, event_name: 'signed_up', properties: { plan: 'pro', seats: 3 }, enrolled: 2 });
      for (const a of [one!, two!]) expect((await enrollmentsOf(a.id)).map((r) => r.trigger_data)).toEqual([{ event: { plan: 'pro', seats: 3 } }]);
      expect(await enrollmentsOf(draft!.id)).toEqual([]);
      expect(await enrollmentsOf(elsewhere!.id)).toEqual([]);
      // running already: recorded, nobody enrolled again; the camelCase alias is read too
      expect(ok(await api('automations/events/track', { body: { email: 'ada@example.com', eventName: 'signed_up' } }, w))).toMatchObject({ enrolled: 0 });
      expect(ok(await api('automations/events/track', { body: { email: 'ada@example.com', event_name: 'upgraded' } }, w))).toMatchObject({ enrolled: 1 });
      expect(await t.app.services.database.db.selectFrom('automation_events').select('id').where('workspace_id', '=', w.id).execute()).toHaveLength(3);
    });

    it('refuses an unknown contact, a missing event name and properties over the bound', async () => {
      expectError(await api('automations/events/track', { body: { email: 'nobody@example.com', event_name: 'x' } }), 404, 'NOT_FOUND', /^Contact nobody@example\.com not found/);
      expectError(await api('automations/events/track', { body: { email: 'ada@example.com' } }), 400, 'VALIDATION_ERROR', "Field 'event_name' is required");
      expectError(await api('automations/events/track', { body: { email: 'ada@example.com', event_name: 'x', properties: { big: 'x'.repeat(17_000) } } }), 400, 'VALIDATION_ERROR', "Field 'properties' must be at most 16384 bytes as JSON");
      expectError(await api('automations/events/track', { body: { email: 'ada@example.com', event_name: 'x', properties: [1, 2] } }), 400, 'VALIDATION_ERROR', /^Field 'properties'/);
    });
  });

  describe('enrollments, delete, keys and workspaces', () => {
    it("lists enrollments with each contact's current step and history, by cursor", async () => {
      const a = await create();
      await activate(a.id);
      for (const email of ['ada@example.com', 'grace@example.com']) ok(await api(`automations/add-automation/${a.id}/enroll`, { body: { email } }));
      const [first] = await enrollmentsOf(a.id);
      // what the engine writes when a step has run
      const db = t.app.services.database.db;
      await db.insertInto('automation_step_runs').values({ enrollment_id: first!.id, seq: 0, step_id: 'welcome', step_type: 'send_email', due_at: new Date(), outcome: 'sent', message_id: 'msg_1' }).execute();
      await db.updateTable('automation_enrollments').set({ seq: 1, current_step: 'wait' }).where('id', '=', first!.id).execute();
      const page = ok(await ext(`/${a.id}/enrollments?limit=1`)) as { enrollments: Enrollment[]; next_cursor: string; has_more: boolean };
      expect(page.has_more).toBe(true);
      expect(page.enrollments).toEqual([
        expect.objectContaining({ email: 'ada@example.com', status: 'active', current_step: 'wait', version: 1, history: [expect.objectContaining({ seq: 0, step_id: 'welcome', outcome: 'sent', message_id: 'msg_1' })] }),
      ]);
      const rest = ok(await ext(`/${a.id}/enrollments?limit=1&cursor=${page.next_cursor}`)) as { enrollments: Enrollment[]; has_more: boolean };
      expect(rest.enrollments.map((e) => [e.email, e.current_step, e.history])).toEqual([['grace@example.com', 'welcome', []]]);
      expect(rest.has_more).toBe(false);
      expect((ok(await ext(`/${a.id}/enrollments?status=exited`)) as { enrollments: Enrollment[] }).enrollments).toEqual([]);
      // a deleted contact's enrollment keeps its history, without the address
      await addContact('temp@example.com');
      ok(await api(`automations/add-automation/${a.id}/enroll`, { body: { email: 'temp@example.com' } }));
      ok(await api('contacts/delete-contact?email=temp@example.com', { method: 'DELETE' }));
      const all = ok(await ext(`/${a.id}/enrollments`)) as { enrollments: Enrollment[] };
      expect(all.enrollments.map((e) => e.email)).toEqual(['ada@example.com', 'grace@example.com', null]);
    });

    it('deletes an automation with its enrollments, saying how many were running', async () => {
      const a = await create();
      await activate(a.id);
      ok(await api(`automations/add-automation/${a.id}/enroll`, { body: { email: 'edsger@example.com' } }));
      expectError(await ext(`/${a.id}`, { method: 'DELETE' }, other), 404, 'NOT_FOUND');
      expect(ok(await ext(`/${a.id}`, { method: 'DELETE' }))).toEqual({ id: a.id, deleted: true, ended_enrollments: 1 });
      expectError(await ext(`/${a.id}`), 404, 'NOT_FOUND', `Automation ${a.id} not found`);
      expect(await enrollmentsOf(a.id)).toEqual([]);
      expectError(await ext(`/${a.id}`, { method: 'DELETE' }), 404, 'NOT_FOUND');
    });

    it("another workspace's automation is 404 on every route", async () => {
      const a = await create();
      await activate(a.id);
      await addContact('ada@example.com', other).catch(() => undefined);
      for (const [path, opts] of [
        [`/${a.id}`, {}],
        [`/${a.id}`, { method: 'PATCH', body: { name: 'mine' } }],
        [`/${a.id}/pause`, { method: 'POST' }],
        [`/${a.id}/archive`, { method: 'POST' }],
        [`/${a.id}/enrollments`, {}],
      ] as const) {
        expectError(await ext(path, opts, other), 404, 'NOT_FOUND', `Automation ${a.id} not found`);
      }
      expectError(await api(`automations/get-automation/${a.id}`, {}, other), 404, 'NOT_FOUND');
      expectError(await api(`automations/delete-automation/${a.id}/subscribers`, { method: 'DELETE', body: { email: 'ada@example.com' } }, other), 404, 'NOT_FOUND');
      expect((ok(await api('automations/get-all', {}, other)) as { automations: Json[] }).automations).toEqual([]);
      expect(ok(await ext(`/${a.id}`)).status).toBe('active');
    });

    it('needs an admin key with the scope of each route', async () => {
      const a = await create();
      const keys = t.app.services.keys;
      const readOnly = (await keys.createAdminKey({ workspaceId: ws.id, scopes: ['automations:read'] })).secretKey;
      const writeOnly = (await keys.createAdminKey({ workspaceId: ws.id, scopes: ['automations:write'] })).secretKey;
      const as = (key: string) => ({ ...ws, adminKey: key });
      expect((await api('automations/get-all', {}, as(readOnly))).status).toBe(200);
      expect((await ext(`/${a.id}`, {}, as(readOnly))).status).toBe(200);
      expectError(await ext(`/${a.id}/activate`, { method: 'POST' }, as(readOnly)), 403, 'INSUFFICIENT_SCOPE');
      expectError(await api(`automations/add-automation/${a.id}/enroll`, { body: { email: 'ada@example.com' } }, as(readOnly)), 403, 'INSUFFICIENT_SCOPE');
      expectError(await api('automations/events/track', { body: { email: 'ada@example.com', event_name: 'x' } }, as(writeOnly)), 403, 'INSUFFICIENT_SCOPE');
      expectError(await api('automations/get-all', {}, as(writeOnly)), 403, 'INSUFFICIENT_SCOPE');
      expectError(await api('automations/get-all', {}, as(ws.key)), 403, 'FORBIDDEN');
      expectError(await ext('', { method: 'GET' }, as(ws.key)), 403, 'FORBIDDEN');
    });
  });
});
