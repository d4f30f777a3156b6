import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startTestApp, type ApiResponse, type TestApp } from './support/app.js';
import { BACKENDS } from './support/databases.js';
import { publicApi, type Json, type Ws } from './support/public-api.js';

interface Detail {
  id: string;
  email: string;
  first_name: string | null;
  last_name: string | null;
  company_name: string | null;
  job_title: string | null;
  phone: string | null;
  status: string;
  blocked_reason: string | null;
  tags: string[];
  custom_fields: Json;
  audiences: { audience_id: string; name: string; status: string; subscribed_at: string | null; unsubscribed_at: string | null }[];
  created?: boolean;
}
interface ListItem {
  id: string;
  email: string;
  firstName: string | null;
  lastName: string | null;
  status: string;
  subscriptionStatus: string | null;
}
interface ContactPage {
  contacts: ListItem[];
  page: number;
  limit: number;
  total: number;
  totalPages: number;
  meta: { total: number; page: number; limit: number; has_more: boolean };
}

/** The keys of get-contact's answer: spec §4.2, plus our extension fields. */
const DETAIL_KEYS = [
  'id', 'email', 'first_name', 'last_name', 'phone', 'status', 'tags', 'custom_fields', 'created_at', 'updated_at',
  'company_name', 'job_title', 'blocked_reason', 'blocked_at', 'deliverability_score', 'audiences',
];
/** The keys of a get-contacts item: spec §4.1, plus our extension fields. */
const LIST_KEYS = [
  'id', 'email', 'firstName', 'lastName', 'companyName', 'jobTitle', 'phoneNumber', 'status', 'tags',
  'customFields', 'subscriptionStatus', 'blockedReason', 'deliverabilityScore', 'createdAt', 'updatedAt',
];

describe.each(BACKENDS)('the contacts API on %s', (backend) => {
  let t: TestApp;
  let ws: Ws;

  beforeAll(async () => {
    t = await startTestApp({ backend });
    ws = await t.workspace();
  });
  afterAll(() => t?.close());

  const { api, ok } = publicApi(() => t, () => ws);
  const addContact = async (body: Json, w: Ws = ws) => ok(await api('contacts/add-contact', { body }, w)) as unknown as Detail;
  const addAudience = async (name: string, w: Ws = ws) => ok(await api('audiences/add-audience', { body: { name } }, w)) as { id: string };
  const getContact = async (query: string, w: Ws = ws) => ok(await api(`contacts/get-contact?${query}`, {}, w)) as unknown as Detail;
  const list = async (query: string, w: Ws = ws) => ok(await api(`contacts/get-contacts?${query}`, {}, w)) as unknown as ContactPage;
  const update = async (query: string, body: Json, w: Ws = ws) => ok(await api(`contacts/update-contact?${query}`, { method: 'PATCH', body }, w)) as unknown as Detail;
  const countOf = async (audienceId: string, w: Ws = ws) => (ok(await api(`audiences/get-audience?id=${audienceId}`, {}, w)) as { contact_count: number; contactCount: number }).contact_count;
  const expectError = (res: ApiResponse, status: number, code: string, message?: string | RegExp) => {
    expect(res.status, res.text).toBe(status);
    expect(res.body).toMatchObject({ success: false, error: code, code });
    if (typeof message === 'string') expect(res.body.message).toBe(message);
    else if (message) expect(res.body.message).toMatch(message);
  };

  describe('add-contact', () => {
    it('creates a contact, adds it to the audience, and answers it in the get-contact shape', async () => {
      const aud = await addAudience('Newsletter');
      const c = await addContact({ email: 'Grace@Example.com', first_name: 'Grace', last_name: 'Hopper', audience_id: aud.id, tags: ['vip'], custom_fields: { plan: 'pro' } });
      expect(c).toMatchObject({ email: 'Grace@Example.com', first_name: 'Grace', last_name: 'Hopper', status: 'subscribed', tags: ['vip'], custom_fields: { plan: 'pro' }, created: true });
      expect(c.audiences).toEqual([expect.objectContaining({ audience_id: aud.id, name: 'Newsletter', status: 'subscribed', unsubscribed_at: null })]);
      expect(c.id).toMatch(/^[0-9a-f-]{36}$/);
      expect(await countOf(aud.id)).toBe(1);
    });

    it('reuses the contact with the same address in any case, and repeating it changes nothing (idempotent)', async () => {
      const aud = await addAudience('Reuse');
      const first = await addContact({ email: 'reuse@example.com', name: 'Re Use', audience_id: aud.id });
      const again = await addContact({ email: 'REUSE@example.com', audience_id: aud.id });
      expect(again).toMatchObject({ id: first.id, email: 'reuse@example.com', first_name: 'Re', last_name: 'Use', created: false });
      expect(again.audiences).toHaveLength(1);
      expect(await countOf(aud.id)).toBe(1);
      // the events of the first call only: a repeat that changes nothing tells of nothing
      const events = await t.app.services.database.db.selectFrom('contact_events').select('type').where('contact_id', '=', first.id).orderBy('id').execute();
      expect(events.map((e) => e.type)).toEqual(['contact.created', 'contact.subscribed']);
      // reusing it adds it to another audience, the first is untouched
      const other = await addAudience('Other');
      const third = await addContact({ email: 'reuse@example.com', audienceId: other.id });
      expect(third.audiences.map((a) => a.audience_id).sort()).toEqual([aud.id, other.id].sort());
      expect([await countOf(aud.id), await countOf(other.id)]).toEqual([1, 1]);
    });

    it('takes the camelCase and snake_case spelling of every profile field', async () => {
      const camel = await addContact({ email: 'camel@example.com', firstName: 'Cam', lastName: 'El', companyName: 'Acme', jobTitle: 'Engineer', phoneNumber: '+1 555', customFields: { a: 1 } });
      expect(camel).toMatchObject({ first_name: 'Cam', last_name: 'El', company_name: 'Acme', job_title: 'Engineer', phone: '+1 555', custom_fields: { a: 1 } });
      const snake = await addContact({ email: 'snake@example.com', first_name: 'Sna', last_name: 'Ke', company_name: 'Acme', job_title: 'CTO', phone_number: '+1 556', custom_attributes: { b: 2 } });
      expect(snake).toMatchObject({ first_name: 'Sna', last_name: 'Ke', company_name: 'Acme', job_title: 'CTO', phone: '+1 556', custom_fields: { b: 2 } });
      const short = await addContact({ email: 'short@example.com', company: 'Initech', phone: '+1 557', customAttributes: { c: 3 } });
      expect(short).toMatchObject({ company_name: 'Initech', phone: '+1 557', custom_fields: { c: 3 } });
    });

    it('splits `name` into first and last names where those are not given', async () => {
      expect(await addContact({ email: 'n1@example.com', name: 'Ada King Lovelace' })).toMatchObject({ first_name: 'Ada', last_name: 'King Lovelace' });
      expect(await addContact({ email: 'n2@example.com', name: '  Plato ' })).toMatchObject({ first_name: 'Plato', last_name: null });
      expect(await addContact({ email: 'n3@example.com', name: 'Ada Lovelace', first_name: 'Augusta' })).toMatchObject({ first_name: 'Augusta', last_name: 'Lovelace' });
      expect(await addContact({ email: 'n4@example.com', name: 'Ada Lovelace', firstName: 'A', lastName: 'L' })).toMatchObject({ first_name: 'A', last_name: 'L' });
    });

    it('many simultaneous adds of one address make one contact and one membership', async () => {
      const aud = await addAudience('Race');
      const results = await Promise.all(Array.from({ length: 8 }, (_, i) => addContact({ email: i % 2 ? 'race@example.com' : 'RACE@example.com', audience_id: aud.id })));
      expect(new Set(results.map((r) => r.id)).size).toBe(1);
      expect(results.filter((r) => r.created)).toHaveLength(1);
      expect(await countOf(aud.id)).toBe(1);
      const events = await t.app.services.database.db.selectFrom('contact_events').select('type').where('contact_id', '=', results[0]!.id).orderBy('id').execute();
      expect(events.map((e) => e.type)).toEqual(['contact.created', 'contact.subscribed']);
    });

    it('refuses an invalid or missing address, naming the field', async () => {
      expectError(await api('contacts/add-contact', { body: { email: 'bad@' } }), 400, 'VALIDATION_ERROR', 'Field \'email\' has an invalid email address: "bad@"');
      expectError(await api('contacts/add-contact', { body: { name: 'No Address' } }), 400, 'VALIDATION_ERROR', "Field 'email' is required");
      expectError(await api('contacts/add-contact', { method: 'POST' }), 400, 'VALIDATION_ERROR', "Field 'email' is required");
      expectError(await api('contacts/add-contact', { body: { email: `${'a'.repeat(300)}@example.com` } }), 400, 'VALIDATION_ERROR', /^Field 'email' has an invalid email address/);
    });

    it('bounds every field', async () => {
      const bad = async (body: Json, message: string) => expectError(await api('contacts/add-contact', { body: { email: 'bounds@example.com', ...body } }), 400, 'VALIDATION_ERROR', message);
      await bad({ first_name: 'x'.repeat(201) }, "Field 'first_name' must be at most 200 characters");
      await bad({ lastName: 'x'.repeat(201) }, "Field 'lastName' must be at most 200 characters");
      await bad({ name: 'x'.repeat(201) }, "Field 'name' must be at most 200 characters");
      await bad({ company: 'x'.repeat(201) }, "Field 'company' must be at most 200 characters");
      await bad({ tags: Array.from({ length: 101 }, (_, i) => `t${i}`) }, "Field 'tags' must be at most 100 items");
      await bad({ tags: ['x'.repeat(101)] }, "Field 'tags[0]' must be at most 100 characters");
      await bad({ tags: 'vip' }, "Field 'tags' must be an array");
      await bad({ custom_fields: Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`k${i}`, i])) }, "Field 'custom_fields' must have at most 50 keys");
      await bad({ customFields: { big: 'x'.repeat(17 * 1024) } }, "Field 'customFields' must be at most 16384 bytes as JSON");
      await bad({ custom_attributes: ['a'] }, "Field 'custom_attributes' must be an object");
      await bad({ first_name: 'a\u0000b' }, "Field 'first_name' must not contain NUL characters (\\u0000)");
      // none of them was stored
      expectError(await api('contacts/get-contact?email=bounds@example.com'), 404, 'NOT_FOUND');
      // at the bounds is fine
      const edge = await addContact({
        email: 'bounds@example.com',
        first_name: 'x'.repeat(200),
        tags: Array.from({ length: 100 }, (_, i) => `${i}`.padEnd(100, 'x')),
        custom_fields: Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`k${i}`, i])),
      });
      expect(edge.tags).toHaveLength(100);
      expect(Object.keys(edge.custom_fields)).toHaveLength(50);
    });

    it('answers 404 for an audience that is not there, whatever its id looks like, and creates nothing', async () => {
      for (const id of ['019a83de-0000-7000-8000-000000000000', 'aud_abc123']) {
        expectError(await api('contacts/add-contact', { body: { email: 'orphan@example.com', audience_id: id } }), 404, 'NOT_FOUND', 'Audience not found');
      }
      expectError(await api('contacts/get-contact?email=orphan@example.com'), 404, 'NOT_FOUND');
    });
  });

  describe('get-contact', () => {
    it('answers snake_case exactly as spec §4.2 plus the extension fields, by id or by email', async () => {
      const aud = await addAudience('Shape');
      const c = await addContact({ email: 'shape@example.com', name: 'Sha Pe', phone: '+44 1', audience_id: aud.id });
      for (const query of [`id=${c.id}`, 'email=shape@example.com', 'email=SHAPE%40EXAMPLE.COM']) {
        const got = await getContact(query);
        expect(Object.keys(got).sort()).toEqual([...DETAIL_KEYS].sort());
        expect(got).toMatchObject({ id: c.id, email: 'shape@example.com', first_name: 'Sha', last_name: 'Pe', phone: '+44 1', status: 'subscribed', tags: [], custom_fields: {}, blocked_reason: null });
        expect(got.audiences).toEqual([{ audience_id: aud.id, name: 'Shape', status: 'subscribed', subscribed_at: expect.any(String), unsubscribed_at: null, created_at: expect.any(String) }]);
      }
    });

    it('finds an address with + in its local part, sent as %2B or as a raw +', async () => {
      const c = await addContact({ email: 'ada+news@example.com' });
      expect((await getContact('email=ada%2Bnews%40example.com')).id).toBe(c.id);
      expect((await getContact('email=ada+news@example.com')).id).toBe(c.id);
      expect((await getContact(`email=${encodeURIComponent('ADA+NEWS@example.com')}`)).id).toBe(c.id);
    });

    it('answers 404 for an unknown contact, 400 without a selector', async () => {
      expectError(await api('contacts/get-contact?email=nobody@example.com'), 404, 'NOT_FOUND', 'Contact not found');
      expectError(await api('contacts/get-contact?id=019a83de-0000-7000-8000-000000000000'), 404, 'NOT_FOUND');
      expectError(await api('contacts/get-contact?id=ct_abc'), 404, 'NOT_FOUND');
      expectError(await api('contacts/get-contact'), 400, 'VALIDATION_ERROR', "Query parameter 'id' or 'email' is required");
      expectError(await api('contacts/get-contact?email='), 400, 'VALIDATION_ERROR');
      expectError(await api('contacts/get-contact?id=a&id=b'), 400, 'VALIDATION_ERROR', "Query parameter 'id' is given more than once; give it once");
    });
  });

  describe('get-contacts', () => {
    let w: Ws;
    let news: string;
    let other: string;
    const people = [
      { email: 'carol@example.com', first_name: 'Carol', last_name: 'Zed' },
      { email: 'alice@example.com', first_name: 'Alice', last_name: 'Young' },
      { email: 'bob@example.com', first_name: 'Bob', last_name: 'Xu' },
      { email: 'dave@example.com', first_name: 'Dave', last_name: 'Walker' },
    ];

    beforeAll(async () => {
      w = await t.workspace();
      news = (await addAudience('News', w)).id;
      other = (await addAudience('Other', w)).id;
      for (const p of people) await addContact({ ...p, audience_id: news }, w);
      await addContact({ email: 'eve@example.com', first_name: 'Eve', audience_id: other }, w);
      // carol unsubscribes from news; dave is blocked
      await update('email=carol@example.com', { audience_id: news, subscription: 'unsubscribed' }, w);
      await update('email=dave@example.com', { status: 'blocked' }, w);
    });

    it('answers camelCase exactly as spec §4.1 (plus extension fields), with both paginations', async () => {
      const page = await list(`audienceId=${news}`, w);
      expect(Object.keys(page).sort()).toEqual(['contacts', 'limit', 'meta', 'page', 'total', 'totalPages']);
      expect(page).toMatchObject({ page: 1, limit: 50, total: 4, totalPages: 1, meta: { total: 4, page: 1, limit: 50, has_more: false } });
      for (const item of page.contacts) expect(Object.keys(item).sort()).toEqual([...LIST_KEYS].sort());
      // created first, listed first (createdAt asc by default)
      expect(page.contacts.map((c) => c.email)).toEqual(people.map((p) => p.email));
      const byEmail = Object.fromEntries(page.contacts.map((c) => [c.email, c]));
      expect(byEmail['alice@example.com']).toMatchObject({ firstName: 'Alice', lastName: 'Young', status: 'subscribed', subscriptionStatus: 'subscribed' });
      expect(byEmail['carol@example.com']).toMatchObject({ status: 'unsubscribed', subscriptionStatus: 'unsubscribed' });
      expect(byEmail['dave@example.com']).toMatchObject({ status: 'blocked', subscriptionStatus: 'subscribed', blockedReason: 'manual' });
    });

    it('takes audience_id too, and lists every contact of the workspace without one', async () => {
      expect((await list(`audience_id=${news}`, w)).total).toBe(4);
      const all = await list('', w);
      expect(all.total).toBe(5);
      expect(all.contacts.map((c) => c.subscriptionStatus)).toEqual([null, null, null, null, null]);
      expect((await list(`audience_id=${other}`, w)).contacts.map((c) => c.email)).toEqual(['eve@example.com']);
      // blank values are "not given" (the PHP SDK and the CLI send them)
      expect((await list('audience_id=&page=&limit=', w)).total).toBe(5);
    });

    it('reads page=0 and limit=0 as the defaults, clamps the limit, and pages', async () => {
      expect(await list('page=0&limit=0', w)).toMatchObject({ page: 1, limit: 50, total: 5 });
      expect(await list('limit=5000', w)).toMatchObject({ limit: 1000, total: 5 });
      const p1 = await list('limit=2&page=1', w);
      const p3 = await list('limit=2&page=3', w);
      expect(p1).toMatchObject({ page: 1, limit: 2, total: 5, totalPages: 3, meta: { has_more: true } });
      expect(p3).toMatchObject({ page: 3, totalPages: 3, meta: { has_more: false } });
      expect(p3.contacts).toHaveLength(1);
      expect((await list('limit=2&page=99', w)).contacts).toEqual([]);
      expectError(await api('contacts/get-contacts?page=-1', {}, w), 400, 'VALIDATION_ERROR', "Query parameter 'page' must be a positive integer");
      expectError(await api('contacts/get-contacts?limit=ten', {}, w), 400, 'VALIDATION_ERROR', "Query parameter 'limit' must be a positive integer");
    });

    it('sorts by either spelling, in either direction', async () => {
      const names = async (q: string) => (await list(`audienceId=${news}&${q}`, w)).contacts.map((c) => c.firstName);
      expect(await names('sortBy=firstName')).toEqual(['Alice', 'Bob', 'Carol', 'Dave']);
      expect(await names('sort_by=first_name&sort_dir=desc')).toEqual(['Dave', 'Carol', 'Bob', 'Alice']);
      expect(await names('sortBy=lastName&sortDir=asc')).toEqual(['Dave', 'Bob', 'Alice', 'Carol']);
      expect(await names('sort_by=last_name&sortDir=DESC')).toEqual(['Carol', 'Alice', 'Bob', 'Dave']);
      expect(await names('sortBy=email')).toEqual(['Alice', 'Bob', 'Carol', 'Dave']);
      expect(await names('sortBy=created_at&sortDir=desc')).toEqual(['Dave', 'Bob', 'Alice', 'Carol']);
      expect(await names('sortBy=deliverability_score')).toHaveLength(4);
      expectError(await api('contacts/get-contacts?sortBy=shoeSize', {}, w), 400, 'VALIDATION_ERROR', /^Query parameter 'sortBy' must be one of firstName, lastName, email, createdAt, deliverabilityScore/);
      expectError(await api('contacts/get-contacts?sortDir=up', {}, w), 400, 'VALIDATION_ERROR', "Query parameter 'sortDir' must be asc or desc");
    });

    it('subscribedOnly (true/1, false/0) leaves out the unsubscribed and the blocked', async () => {
      const emails = async (q: string) => (await list(q, w)).contacts.map((c) => c.email).sort();
      const subscribed = ['alice@example.com', 'bob@example.com'];
      expect(await emails(`audienceId=${news}&subscribedOnly=true`)).toEqual(subscribed);
      expect(await emails(`audienceId=${news}&subscribedOnly=1`)).toEqual(subscribed);
      expect(await emails(`audienceId=${news}&subscribed_only=TRUE`)).toEqual(subscribed);
      expect((await list(`audienceId=${news}&subscribedOnly=1`, w)).total).toBe(2);
      expect(await emails(`audienceId=${news}&subscribedOnly=false`)).toHaveLength(4);
      expect(await emails(`audienceId=${news}&subscribedOnly=0`)).toHaveLength(4);
      // without an audience: every contact that is not blocked
      expect(await emails('subscribedOnly=true')).toEqual(['alice@example.com', 'bob@example.com', 'carol@example.com', 'eve@example.com']);
      expectError(await api('contacts/get-contacts?subscribedOnly=maybe', {}, w), 400, 'VALIDATION_ERROR', "Query parameter 'subscribedOnly' must be true, false, 1 or 0");
    });

    it('answers 404 for an audience that is not there', async () => {
      expectError(await api('contacts/get-contacts?audienceId=aud_abc123', {}, w), 404, 'NOT_FOUND', 'Audience not found');
      expectError(await api('contacts/get-contacts?audience_id=019a83de-0000-7000-8000-000000000000', {}, w), 404, 'NOT_FOUND');
    });
  });

  describe('update-contact', () => {
    it('changes only the fields given, by id or by email (+ kept)', async () => {
      const c = await addContact({ email: 'upd+1@example.com', first_name: 'Up', last_name: 'Date', company_name: 'Acme', tags: ['a'], custom_fields: { x: 1, y: 2 } });
      const u = await update(`id=${c.id}`, { tags: ['b', 'c'] });
      expect(Object.keys(u).sort()).toEqual([...DETAIL_KEYS].sort());
      expect(u).toMatchObject({ id: c.id, first_name: 'Up', last_name: 'Date', company_name: 'Acme', tags: ['b', 'c'], custom_fields: { x: 1, y: 2 } });
      const v = await update('email=upd%2B1%40example.com', { jobTitle: 'CEO', customFields: { y: null, z: 3 } });
      expect(v).toMatchObject({ job_title: 'CEO', tags: ['b', 'c'], custom_fields: { x: 1, z: 3 } });
      const raw = await update('email=UPD+1@example.com', { name: 'New Name', company: '' });
      expect(raw).toMatchObject({ first_name: 'New', last_name: 'Name', company_name: null });
      expect(await getContact(`id=${c.id}`)).toMatchObject({ first_name: 'New', job_title: 'CEO', company_name: null });
    });

    it('adds the contact to audience_id (as the CLI sends it), and sets its state there with `subscription`', async () => {
      const a = await addAudience('U-A');
      const b = await addAudience('U-B');
      const c = await addContact({ email: 'member@example.com', audience_id: a.id });
      const joined = await update('email=member@example.com', { audience_id: b.id, name: 'Mem Ber' });
      expect(joined.audiences.map((m) => [m.audience_id, m.status])).toEqual([[a.id, 'subscribed'], [b.id, 'subscribed']]);
      const left = await update(`id=${c.id}`, { audienceId: a.id, subscription: 'unsubscribed' });
      const state = Object.fromEntries(left.audiences.map((m) => [m.audience_id, m]));
      expect(state[a.id]).toMatchObject({ status: 'unsubscribed', unsubscribed_at: expect.any(String) });
      // unsubscribing from one audience never touches another, nor the contact
      expect(state[b.id]!.status).toBe('subscribed');
      expect(left.status).toBe('subscribed');
      // the count is of members in any state
      expect([await countOf(a.id), await countOf(b.id)]).toEqual([1, 1]);
      const back = await update(`id=${c.id}`, { audience_id: a.id, subscription: 'subscribed' });
      expect(back.audiences.find((m) => m.audience_id === a.id)!.status).toBe('subscribed');
      expectError(await api(`contacts/update-contact?id=${c.id}`, { method: 'PATCH', body: { subscription: 'unsubscribed' } }), 400, 'VALIDATION_ERROR', /'audience_id' is required/);
      expectError(await api(`contacts/update-contact?id=${c.id}`, { method: 'PATCH', body: { subscription: 'maybe', audience_id: a.id } }), 400, 'VALIDATION_ERROR', /^Field 'subscription' must be one of/);
      expectError(await api(`contacts/update-contact?id=${c.id}`, { method: 'PATCH', body: { audience_id: 'aud_nope' } }), 404, 'NOT_FOUND', 'Audience not found');
    });

    it('blocks by hand with status "blocked" and lifts it with "subscribed"', async () => {
      const c = await addContact({ email: 'blockme@example.com' });
      expect(await update(`id=${c.id}`, { status: 'blocked' })).toMatchObject({ status: 'blocked', blocked_reason: 'manual' });
      expect((await getContact(`id=${c.id}`)).blocked_reason).toBe('manual');
      expect(await update(`id=${c.id}`, { status: 'subscribed' })).toMatchObject({ status: 'subscribed', blocked_reason: null });
      expectError(await api(`contacts/update-contact?id=${c.id}`, { method: 'PATCH', body: { status: 'gone' } }), 400, 'VALIDATION_ERROR', 'Field \'status\' must be one of "subscribed", "blocked"');
    });

    it('changes the address, unless another contact has it (409 CONFLICT)', async () => {
      const c = await addContact({ email: 'old@example.com' });
      await addContact({ email: 'taken@example.com' });
      expect((await update('email=old@example.com', { email: 'new@example.com' })).email).toBe('new@example.com');
      expectError(await api('contacts/get-contact?email=old@example.com'), 404, 'NOT_FOUND');
      expect((await getContact('email=NEW@example.com')).id).toBe(c.id);
      expectError(await api(`contacts/update-contact?id=${c.id}`, { method: 'PATCH', body: { email: 'Taken@Example.com' } }), 409, 'CONFLICT');
      expectError(await api(`contacts/update-contact?id=${c.id}`, { method: 'PATCH', body: { email: 'not-an-address' } }), 400, 'VALIDATION_ERROR', 'Field \'email\' has an invalid email address: "not-an-address"');
      // a change of case only is the same contact
      expect((await update(`id=${c.id}`, { email: 'New@Example.com' })).email).toBe('New@Example.com');
    });

    it('a change of address racing an add of that address ends in 200 or 409 CONFLICT, never a 500', async () => {
      const movers = await Promise.all(Array.from({ length: 6 }, (_, i) => addContact({ email: `mover${i}@example.com` })));
      const answers = await Promise.all(
        movers.flatMap((m, i) => [
          api(`contacts/update-contact?id=${m.id}`, { method: 'PATCH', body: { email: `target${i}@example.com` } }),
          api('contacts/add-contact', { body: { email: `target${i}@example.com` } }),
        ]),
      );
      for (const res of answers) expect([200, 409], res.text).toContain(res.status);
      for (let i = 0; i < movers.length; i++) {
        const owner = await getContact(`email=target${i}@example.com`);
        expect(owner.email).toBe(`target${i}@example.com`);
      }
    });

    it('answers 404 for an unknown contact and 400 without a selector', async () => {
      expectError(await api('contacts/update-contact?email=ghost@example.com', { method: 'PATCH', body: { name: 'G' } }), 404, 'NOT_FOUND', 'Contact not found');
      expectError(await api('contacts/update-contact?id=nope', { method: 'PATCH', body: {} }), 404, 'NOT_FOUND');
      expectError(await api('contacts/update-contact', { method: 'PATCH', body: { name: 'G' } }), 400, 'VALIDATION_ERROR', "Query parameter 'id' or 'email' is required");
    });
  });

  describe('delete-contact', () => {
    it('deletes by id, by email or by a JSON body, answering a JSON object; the counts follow', async () => {
      const aud = await addAudience('Doomed members');
      const a = await addContact({ email: 'del1@example.com', audience_id: aud.id });
      await addContact({ email: 'del+2@example.com', audience_id: aud.id });
      await addContact({ email: 'del3@example.com', audience_id: aud.id });
      expect(await countOf(aud.id)).toBe(3);
      const byId = await api(`contacts/delete-contact?id=${a.id}`, { method: 'DELETE' });
      expect(byId.body).toEqual({ success: true, message: 'Contact deleted', data: { id: a.id, email: 'del1@example.com', deleted: true } });
      expect((await api('contacts/delete-contact?email=DEL%2B2%40example.com', { method: 'DELETE' })).status).toBe(200);
      expect((await api('contacts/delete-contact', { method: 'DELETE', body: { email: 'del3@example.com' } })).status).toBe(200);
      expect(await countOf(aud.id)).toBe(0);
      expectError(await api(`contacts/get-contact?id=${a.id}`), 404, 'NOT_FOUND');
      expectError(await api(`contacts/delete-contact?id=${a.id}`, { method: 'DELETE' }), 404, 'NOT_FOUND', 'Contact not found');
      expectError(await api('contacts/delete-contact', { method: 'DELETE' }), 400, 'VALIDATION_ERROR', "Query parameter 'id' or 'email' is required");
    });
  });

  describe("the Elixir SDK's REST paths (spec §4.7)", () => {
    const rest = (path: string, opts: Parameters<typeof call>[1] = {}) => call(`${t.url}${path}`, { key: ws.adminKey, ...opts });

    it('add, get, list, update and delete a contact at /contacts and /contacts/{email}', async () => {
      const aud = await addAudience('REST');
      const added = ok(await rest('/contacts', { body: { email: 'rest+1@example.com', name: 'Rest Ful', audience_id: aud.id } })) as unknown as Detail;
      expect(added).toMatchObject({ email: 'rest+1@example.com', first_name: 'Rest', created: true });
      for (const path of ['/contacts/rest+1@example.com', '/contacts/rest%2B1%40example.com', `/contacts/${added.id}`]) {
        expect((ok(await rest(path)) as unknown as Detail).id).toBe(added.id);
      }
      const page = ok(await rest(`/contacts?audience_id=${aud.id}&page=0&limit=0`)) as unknown as ContactPage;
      expect(page).toMatchObject({ total: 1, page: 1, limit: 50 });
      expect(page.contacts[0]).toMatchObject({ email: 'rest+1@example.com', firstName: 'Rest' });
      const put = ok(await rest('/contacts/rest%2B1%40example.com', { method: 'PUT', body: { last_name: 'Less' } })) as unknown as Detail;
      expect(put).toMatchObject({ id: added.id, first_name: 'Rest', last_name: 'Less' });
      const gone = await rest('/contacts/REST+1@example.com', { method: 'DELETE' });
      expect(gone.body).toEqual({ success: true, message: 'Contact deleted', data: { id: added.id, email: 'rest+1@example.com', deleted: true } });
      expectError(await rest('/contacts/rest+1@example.com'), 404, 'NOT_FOUND');
      expectError(await rest('/contacts/rest+1@example.com', { method: 'PUT', body: {} }), 404, 'NOT_FOUND');
      expectError(await rest('/contacts/rest+1@example.com', { key: ws.key }), 403, 'FORBIDDEN');
    });
  });

  describe('access', () => {
    let scoped: Record<'readOnly' | 'writeOnly' | 'audiencesOnly' | 'contactsOnly', string>;
    beforeAll(async () => {
      const keys = t.app.services.keys;
      const make = async (scopes: ('contacts:read' | 'contacts:write' | 'audiences:manage')[]) => (await keys.createAdminKey({ workspaceId: ws.id, scopes })).secretKey;
      scoped = {
        readOnly: await make(['contacts:read']),
        writeOnly: await make(['contacts:write']),
        audiencesOnly: await make(['audiences:manage']),
        contactsOnly: await make(['contacts:read', 'contacts:write']),
      };
    });
    const routes = [
      { method: 'GET', path: 'contacts/get-contacts', scope: 'contacts:read' },
      { method: 'GET', path: 'contacts/get-contact?email=a@example.com', scope: 'contacts:read' },
      { method: 'POST', path: 'contacts/add-contact', scope: 'contacts:write', body: { email: 'scoped@example.com' } },
      { method: 'PATCH', path: 'contacts/update-contact?email=scoped@example.com', scope: 'contacts:write', body: {} },
      { method: 'DELETE', path: 'contacts/delete-contact?email=scoped@example.com', scope: 'contacts:write' },
      { method: 'GET', path: 'audiences/get-audiences', scope: 'audiences:manage' },
      { method: 'GET', path: 'audiences/get-audience?id=x', scope: 'audiences:manage' },
      { method: 'POST', path: 'audiences/add-audience', scope: 'audiences:manage', body: { name: 'Scoped' } },
      { method: 'DELETE', path: 'audiences/delete-audience?id=x', scope: 'audiences:manage' },
    ];

    it('a sending key → 403 FORBIDDEN on every route', async () => {
      for (const r of routes) {
        expectError(await call(`${t.url}/api/v1/public/${r.path}`, { method: r.method, key: ws.key, ...(r.body ? { body: r.body } : {}) }), 403, 'FORBIDDEN');
      }
    });

    it('an admin key without the scope → 403 INSUFFICIENT_SCOPE; with it, through', async () => {
      const holders: Record<string, string[]> = {
        'contacts:read': [scoped.readOnly, scoped.contactsOnly],
        'contacts:write': [scoped.writeOnly, scoped.contactsOnly],
        'audiences:manage': [scoped.audiencesOnly],
      };
      for (const r of routes) {
        for (const key of Object.values(scoped)) {
          const res = await call(`${t.url}/api/v1/public/${r.path}`, { method: r.method, key, ...(r.body ? { body: r.body } : {}) });
          if (holders[r.scope]!.includes(key)) expect([200, 404], `${r.method} ${r.path}: ${res.text}`).toContain(res.status);
          else expectError(res, 403, 'INSUFFICIENT_SCOPE', `This endpoint needs the '${r.scope}' scope`);
        }
      }
    });
  });

  describe('tenant isolation', () => {
    let a: Ws;
    let b: Ws;
    let aAudience: string;
    let aContact: Detail;
    let bAudience: string;

    beforeAll(async () => {
      a = await t.workspace();
      b = await t.workspace();
      aAudience = (await addAudience('A list', a)).id;
      aContact = await addContact({ email: 'shared@example.com', first_name: 'Alpha', audience_id: aAudience }, a);
      await addContact({ email: 'only-a@example.com', audience_id: aAudience }, a);
      bAudience = (await addAudience('B list', b)).id;
    });

    const aUnchanged = async () => {
      expect(await getContact(`id=${aContact.id}`, a)).toMatchObject({ email: 'shared@example.com', first_name: 'Alpha', status: 'subscribed', audiences: [expect.objectContaining({ audience_id: aAudience, status: 'subscribed' })] });
      expect(await countOf(aAudience, a)).toBe(2);
      expect((await list('', a)).total).toBe(2);
    };

    it("B's admin key never sees A's contacts or audiences", async () => {
      expectError(await api(`contacts/get-contact?id=${aContact.id}`, {}, b), 404, 'NOT_FOUND');
      expectError(await api('contacts/get-contact?email=shared@example.com', {}, b), 404, 'NOT_FOUND');
      expect(await list('', b)).toMatchObject({ contacts: [], total: 0 });
      expect((await list('subscribedOnly=true', b)).total).toBe(0);
      expectError(await api(`contacts/get-contacts?audienceId=${aAudience}`, {}, b), 404, 'NOT_FOUND');
      expectError(await api(`audiences/get-audience?id=${aAudience}`, {}, b), 404, 'NOT_FOUND');
      const audiences = ok(await api('audiences/get-audiences', {}, b)) as { audiences: { id: string }[]; total: number };
      expect(audiences.audiences.map((x) => x.id)).toEqual([bAudience]);
      expect(audiences.total).toBe(1);
    });

    it("B's admin key never changes, deletes or counts A's", async () => {
      expectError(await api(`contacts/update-contact?id=${aContact.id}`, { method: 'PATCH', body: { first_name: 'Mallory', status: 'blocked' } }, b), 404, 'NOT_FOUND');
      expectError(await api('contacts/update-contact?email=shared@example.com', { method: 'PATCH', body: { first_name: 'Mallory' } }, b), 404, 'NOT_FOUND');
      expectError(await api(`contacts/delete-contact?id=${aContact.id}`, { method: 'DELETE' }, b), 404, 'NOT_FOUND');
      expectError(await api('contacts/delete-contact', { method: 'DELETE', body: { email: 'shared@example.com' } }, b), 404, 'NOT_FOUND');
      expectError(await api(`audiences/delete-audience?id=${aAudience}`, { method: 'DELETE' }, b), 404, 'NOT_FOUND');
      // into A's audience, neither a new contact nor B's own
      expectError(await api('contacts/add-contact', { body: { email: 'intruder@example.com', audience_id: aAudience } }, b), 404, 'NOT_FOUND');
      const own = await addContact({ email: 'b-own@example.com' }, b);
      expectError(await api(`contacts/update-contact?id=${own.id}`, { method: 'PATCH', body: { audience_id: aAudience } }, b), 404, 'NOT_FOUND');
      expectError(await api(`contacts/update-contact?id=${own.id}`, { method: 'PATCH', body: { audience_id: aAudience, subscription: 'unsubscribed' } }, b), 404, 'NOT_FOUND');
      // and through the Elixir SDK's REST paths
      const rest = (path: string, opts: Parameters<typeof call>[1] = {}) => call(`${t.url}${path}`, { key: b.adminKey, ...opts });
      for (const ref of ['shared@example.com', aContact.id]) {
        expectError(await rest(`/contacts/${ref}`), 404, 'NOT_FOUND');
        expectError(await rest(`/contacts/${ref}`, { method: 'PUT', body: { first_name: 'Mallory' } }), 404, 'NOT_FOUND');
        expectError(await rest(`/contacts/${ref}`, { method: 'DELETE' }), 404, 'NOT_FOUND');
      }
      expectError(await rest(`/contacts?audience_id=${aAudience}`), 404, 'NOT_FOUND');
      expectError(await rest('/contacts', { body: { email: 'intruder@example.com', audience_id: aAudience } }), 404, 'NOT_FOUND');
      expect((ok(await rest('/contacts')) as unknown as ContactPage).contacts.map((c) => c.email)).toEqual(['b-own@example.com']);
      await aUnchanged();
    });

    it('the same address is a separate contact in each workspace', async () => {
      const mine = await addContact({ email: 'SHARED@example.com', first_name: 'Beta', audience_id: bAudience }, b);
      expect(mine.id).not.toBe(aContact.id);
      expect(mine.created).toBe(true);
      await update('email=shared@example.com', { last_name: 'B' }, b);
      expect((await api('contacts/delete-contact?email=shared@example.com', { method: 'DELETE' }, b)).status).toBe(200);
      await aUnchanged();
      expect(await countOf(bAudience, b)).toBe(0);
    });
  });
});
