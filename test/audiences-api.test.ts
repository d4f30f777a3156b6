import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type ApiResponse, type TestApp } from './support/app.js';
import { BACKENDS } from './support/databases.js';
import { publicApi, type Json, type Ws } from './support/public-api.js';

interface Audience {
  id: string;
  name: string;
  description: string | null;
  contactCount: number;
  contact_count: number;
  subscribeUrl: string;
  subscribe_url: string;
  double_opt_in: boolean;
  doubleOptIn: boolean;
  createdAt: string;
  created_at: string;
  updatedAt: string;
  updated_at: string;
}
interface AudiencePage {
  audiences: Audience[];
  page: number;
  limit: number;
  total: number;
  totalPages: number;
  meta: { total: number; page: number; limit: number; has_more: boolean };
}

/** An audience item: spec §5's two spellings, plus double opt-in (our extension) in both. */
const AUDIENCE_KEYS = [
  'id', 'name', 'description', 'contactCount', 'contact_count', 'subscribeUrl', 'subscribe_url', 'double_opt_in', 'doubleOptIn',
  'createdAt', 'created_at', 'updatedAt', 'updated_at',
];

describe.each(BACKENDS)('the audiences API on %s', (backend) => {
  let t: TestApp;
  let ws: Ws;

  beforeAll(async () => {
    t = await startTestApp({ backend });
    ws = await t.workspace();
  });
  afterAll(() => t?.close());

  const { api, ok } = publicApi(() => t, () => ws);
  const create = async (body: Json, w: Ws = ws) => ok(await api('audiences/add-audience', { body }, w)) as unknown as Audience;
  const get = async (query: string, w: Ws = ws) => ok(await api(`audiences/get-audience?${query}`, {}, w)) as unknown as Audience;
  const list = async (query: string, w: Ws = ws) => ok(await api(`audiences/get-audiences?${query}`, {}, w)) as unknown as AudiencePage;
  const addContact = async (body: Json, w: Ws = ws) => ok(await api('contacts/add-contact', { body }, w)) as { id: string };
  const expectError = (res: ApiResponse, status: number, code: string, message?: string) => {
    expect(res.status, res.text).toBe(status);
    expect(res.body).toMatchObject({ success: false, error: code, code });
    if (message) expect(res.body.message).toBe(message);
  };

  it('creates an audience and answers it in both spellings, with a signed subscribe URL', async () => {
    const a = await create({ name: 'Newsletter', description: 'Monthly news' });
    expect(Object.keys(a).sort()).toEqual([...AUDIENCE_KEYS].sort());
    expect(a).toMatchObject({ name: 'Newsletter', description: 'Monthly news', contactCount: 0, contact_count: 0, double_opt_in: false, doubleOptIn: false });
    expect(a.createdAt).toBe(a.created_at);
    expect(a.updatedAt).toBe(a.updated_at);
    expect(a.subscribeUrl).toBe(a.subscribe_url);
    expect(a.subscribeUrl).toMatch(new RegExp(`^${t.config.publicUrl}/s/[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+$`));
    // stable: the same URL on every read
    expect((await get(`id=${a.id}`)).subscribeUrl).toBe(a.subscribeUrl);
    expect(await get(`id=${a.id}`)).toEqual(a);
  });

  it('takes the double_opt_in extension in either spelling', async () => {
    expect((await create({ name: 'Confirmed', double_opt_in: true })).double_opt_in).toBe(true);
    expect((await create({ name: 'Confirmed too', doubleOptIn: true })).doubleOptIn).toBe(true);
    expect((await create({ name: 'Plain', doubleOptIn: null })).double_opt_in).toBe(false);
    expectError(await api('audiences/add-audience', { body: { name: 'X', double_opt_in: 'yes' } }), 400, 'VALIDATION_ERROR', "Field 'double_opt_in' must be a boolean");
  });

  it('refuses a missing, blank or over-long name, naming the field', async () => {
    expectError(await api('audiences/add-audience', { body: { description: 'no name' } }), 400, 'VALIDATION_ERROR', "Field 'name' is required");
    expectError(await api('audiences/add-audience', { method: 'POST' }), 400, 'VALIDATION_ERROR', "Field 'name' is required");
    expectError(await api('audiences/add-audience', { body: { name: '   ' } }), 400, 'VALIDATION_ERROR', "Field 'name' must not be empty");
    expectError(await api('audiences/add-audience', { body: { name: 'x'.repeat(201) } }), 400, 'VALIDATION_ERROR', "Field 'name' must be at most 200 characters");
    expectError(await api('audiences/add-audience', { body: { name: 'ok', description: 'x'.repeat(1001) } }), 400, 'VALIDATION_ERROR', "Field 'description' must be at most 1000 characters");
    expectError(await api('audiences/add-audience', { body: { name: 'a\u0000b' } }), 400, 'VALIDATION_ERROR');
  });

  it('gets an audience by id, audience_id or audienceId; 404 when it is not there; 400 without an id', async () => {
    const a = await create({ name: 'Findable' });
    for (const q of [`id=${a.id}`, `audience_id=${a.id}`, `audienceId=${a.id}`]) expect((await get(q)).id).toBe(a.id);
    expectError(await api('audiences/get-audience?id=019a83de-0000-7000-8000-000000000000'), 404, 'NOT_FOUND', 'Audience not found');
    expectError(await api('audiences/get-audience?id=aud_abc123'), 404, 'NOT_FOUND');
    expectError(await api('audiences/get-audience'), 400, 'VALIDATION_ERROR', "Query parameter 'id' is required");
  });

  describe('get-audiences', () => {
    let w: Ws;
    const ids: Record<string, string> = {};
    beforeAll(async () => {
      w = await t.workspace();
      // created in this order: Bravo (2 contacts), Alpha (0), Charlie (1)
      for (const name of ['Bravo', 'Alpha', 'Charlie']) ids[name] = (await create({ name }, w)).id;
      await addContact({ email: 'one@example.com', audience_id: ids.Bravo }, w);
      await addContact({ email: 'two@example.com', audience_id: ids.Bravo }, w);
      await addContact({ email: 'one@example.com', audience_id: ids.Charlie }, w);
    });
    const names = async (q: string) => (await list(q, w)).audiences.map((a) => a.name);

    it('answers both pagination styles and items in both spellings, newest first by default', async () => {
      const page = await list('', w);
      expect(Object.keys(page).sort()).toEqual(['audiences', 'limit', 'meta', 'page', 'total', 'totalPages']);
      expect(page).toMatchObject({ page: 1, limit: 50, total: 3, totalPages: 1, meta: { total: 3, page: 1, limit: 50, has_more: false } });
      for (const a of page.audiences) expect(Object.keys(a).sort()).toEqual([...AUDIENCE_KEYS].sort());
      expect(page.audiences.map((a) => a.name)).toEqual(['Charlie', 'Alpha', 'Bravo']);
      expect(page.audiences.map((a) => [a.contactCount, a.contact_count])).toEqual([[1, 1], [0, 0], [2, 2]]);
    });

    it('sorts by either spelling of each key, in either direction', async () => {
      expect(await names('sortBy=name&sortDir=asc')).toEqual(['Alpha', 'Bravo', 'Charlie']);
      expect(await names('sortBy=name')).toEqual(['Charlie', 'Bravo', 'Alpha']);
      expect(await names('sortBy=contactCount')).toEqual(['Bravo', 'Charlie', 'Alpha']);
      expect(await names('sort_by=contact_count&sort_dir=asc')).toEqual(['Alpha', 'Charlie', 'Bravo']);
      expect(await names('sortBy=createdAt&sortDir=asc')).toEqual(['Bravo', 'Alpha', 'Charlie']);
      expect(await names('sort_by=created_at')).toEqual(['Charlie', 'Alpha', 'Bravo']);
      expectError(await api('audiences/get-audiences?sortBy=size', {}, w), 400, 'VALIDATION_ERROR');
      expectError(await api('audiences/get-audiences?sort_dir=sideways', {}, w), 400, 'VALIDATION_ERROR', "Query parameter 'sort_dir' must be asc or desc");
    });

    it('reads page=0 and limit=0 as the defaults, clamps the limit to 1000 (never a 400), and pages', async () => {
      expect(await list('page=0&limit=0', w)).toMatchObject({ page: 1, limit: 50, total: 3 });
      expect(await list('limit=100000', w)).toMatchObject({ limit: 1000, total: 3 });
      const p2 = await list('limit=2&page=2&sortBy=name&sortDir=asc', w);
      expect(p2).toMatchObject({ page: 2, limit: 2, total: 3, totalPages: 2, meta: { total: 3, page: 2, limit: 2, has_more: false } });
      expect(p2.audiences.map((a) => a.name)).toEqual(['Charlie']);
      expect((await list('limit=2&page=1', w)).meta.has_more).toBe(true);
    });
  });

  it('keeps contact counts exact through every change, and deleting an audience keeps its contacts', async () => {
    const w = await t.workspace();
    const a = await create({ name: 'Counted' }, w);
    const b = await create({ name: 'Kept' }, w);
    const count = async (id: string) => (await get(`id=${id}`, w)).contact_count;
    const c1 = await addContact({ email: 'c1@example.com', audience_id: a.id }, w);
    await addContact({ email: 'c2@example.com', audience_id: a.id }, w);
    await addContact({ email: 'c3@example.com', audienceId: a.id }, w);
    await addContact({ email: 'C1@example.com', audience_id: a.id }, w);
    await addContact({ email: 'c1@example.com', audience_id: b.id }, w);
    expect([await count(a.id), await count(b.id)]).toEqual([3, 1]);
    // a member that unsubscribes is still a member
    ok(await api(`contacts/update-contact?id=${c1.id}`, { method: 'PATCH', body: { audience_id: a.id, subscription: 'unsubscribed' } }, w));
    expect(await count(a.id)).toBe(3);
    ok(await api('contacts/delete-contact?email=c2@example.com', { method: 'DELETE' }, w));
    expect(await count(a.id)).toBe(2);
    // many changes at once still add up
    await Promise.all(Array.from({ length: 10 }, (_, i) => addContact({ email: `par${i}@example.com`, audience_id: a.id }, w)));
    expect(await count(a.id)).toBe(12);
    expect((await list('', w)).audiences.find((x) => x.id === a.id)!.contactCount).toBe(12);

    const gone = await api(`audiences/delete-audience?id=${a.id}`, { method: 'DELETE' }, w);
    expect(gone.body).toEqual({ success: true, message: 'Audience deleted', data: { id: a.id, deleted: true } });
    expectError(await api(`audiences/get-audience?id=${a.id}`, {}, w), 404, 'NOT_FOUND');
    const c1After = ok(await api(`contacts/get-contact?id=${c1.id}`, {}, w)) as { audiences: { audience_id: string }[] };
    expect(c1After.audiences.map((m) => m.audience_id)).toEqual([b.id]);
    expect((ok(await api('contacts/get-contacts', {}, w)) as { total: number }).total).toBe(12);
    expect(await count(b.id)).toBe(1);
  });

  it('adds racing the deletion of their audience end in 200 or 404, never a 500', async () => {
    const w = await t.workspace();
    for (let round = 0; round < 3; round++) {
      const a = await create({ name: `Doomed ${round}` }, w);
      const answers = await Promise.all([
        ...Array.from({ length: 6 }, (_, i) => api('contacts/add-contact', { body: { email: `racer${round}-${i}@example.com`, audience_id: a.id } }, w)),
        api(`audiences/delete-audience?id=${a.id}`, { method: 'DELETE' }, w),
        ...Array.from({ length: 6 }, (_, i) => api(`contacts/update-contact?email=racer${round}-${i}@example.com`, { method: 'PATCH', body: { audience_id: a.id } }, w)),
      ]);
      for (const res of answers) expect([200, 404], res.text).toContain(res.status);
    }
  });

  it('deletes with the id in the query or a JSON body, answering a JSON object; 404 the second time', async () => {
    const a = await create({ name: 'Body delete' });
    const res = await api('audiences/delete-audience', { method: 'DELETE', body: { audience_id: a.id } });
    expect(res.status, res.text).toBe(200);
    expect(res.body).toMatchObject({ success: true, data: { id: a.id, deleted: true } });
    expectError(await api(`audiences/delete-audience?id=${a.id}`, { method: 'DELETE' }), 404, 'NOT_FOUND', 'Audience not found');
    expectError(await api('audiences/delete-audience?id=aud_abc123', { method: 'DELETE' }), 404, 'NOT_FOUND');
    expectError(await api('audiences/delete-audience', { method: 'DELETE' }), 400, 'VALIDATION_ERROR', "Query parameter 'id' is required");
  });

  it("workspace B's admin key never sees, counts or deletes workspace A's audiences", async () => {
    const a = await t.workspace();
    const b = await t.workspace();
    const mine = await create({ name: 'A only' }, a);
    await addContact({ email: 'x@example.com', audience_id: mine.id }, a);
    expectError(await api(`audiences/get-audience?id=${mine.id}`, {}, b), 404, 'NOT_FOUND');
    expect(await list('', b)).toMatchObject({ audiences: [], total: 0, meta: { total: 0 } });
    expectError(await api(`audiences/delete-audience?id=${mine.id}`, { method: 'DELETE' }, b), 404, 'NOT_FOUND');
    expectError(await api('audiences/delete-audience', { method: 'DELETE', body: { id: mine.id } }, b), 404, 'NOT_FOUND');
    await create({ name: 'B own' }, b);
    expect((await get(`id=${mine.id}`, a)).contact_count).toBe(1);
    expect((await list('', a)).total).toBe(1);
  });
});
