import { afterEach, describe, expect, it } from 'vitest';
import type { Database } from '../src/platform/db/database.js';
import { uuidv7 } from '../src/platform/ids.js';
import { TokenSigner } from '../src/platform/tokens.js';
import { AudienceService, ContactService } from '../src/modules/contacts/index.js';
import { BACKENDS, openMigratedDatabase, type Backend } from './support/databases.js';

async function workspace(database: Database): Promise<string> {
  const id = uuidv7();
  await database.db.insertInto('workspaces').values({ id, name: 'w', plan: 'LAUNCH' }).execute();
  return id;
}

const list = { page: 1, limit: 50, sortBy: 'createdAt', sortDir: 'asc', subscribedOnly: false } as const;

describe.each(BACKENDS)('the contact model (%s)', (backend: Backend) => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0)) await c();
  });

  async function setup() {
    const { database, close } = await openMigratedDatabase(backend);
    cleanup.push(close);
    const contacts = new ContactService(database.db);
    const audiences = new AudienceService(database.db, new TokenSigner('s'.repeat(64)), { publicUrl: 'http://127.0.0.1:1' });
    return { database, contacts, audiences, ws: await workspace(database) };
  }

  it('keeps each audience count exact through adds, repeats, deletes of contacts and of audiences', async () => {
    const { contacts, audiences, ws } = await setup();
    const a = await audiences.create(ws, { name: 'A' });
    const b = await audiences.create(ws, { name: 'B' });
    const first = await contacts.add(ws, 'Jane+news@Example.com', { profile: { first_name: 'Jane' }, audienceId: a.id });
    const again = await contacts.add(ws, 'jane+NEWS@example.com', { profile: {}, audienceId: a.id });
    expect(first.created).toBe(true);
    expect(again).toMatchObject({ created: false, contact: { id: first.contact.id, email: 'Jane+news@Example.com', first_name: 'Jane' } });
    await contacts.add(ws, 'joe@example.com', { profile: {}, audienceId: a.id });
    await contacts.add(ws, 'joe@example.com', { profile: {}, audienceId: b.id });
    expect((await audiences.get(ws, a.id)).contact_count).toBe(2);
    expect((await audiences.get(ws, b.id)).contact_count).toBe(1);
    await contacts.delete(ws, { email: 'JOE@example.com' });
    expect((await audiences.get(ws, a.id)).contact_count).toBe(1);
    expect((await audiences.get(ws, b.id)).contact_count).toBe(0);
    await audiences.delete(ws, a.id);
    expect((await contacts.get(ws, { id: first.contact.id })).audiences).toEqual([]);
  });

  it('unsubscribing from one audience leaves the others, and every change writes its event', async () => {
    const { database, contacts, audiences, ws } = await setup();
    const a = await audiences.create(ws, { name: 'A' });
    const b = await audiences.create(ws, { name: 'B' });
    const { contact } = await contacts.add(ws, 'x@example.com', { profile: {}, audienceId: a.id });
    await contacts.update(ws, { id: contact.id }, { profile: {}, audienceId: b.id });
    await contacts.update(ws, { email: 'x@example.com' }, { profile: {}, audienceId: a.id, subscription: 'unsubscribed' });
    const detail = await contacts.get(ws, { id: contact.id });
    expect(Object.fromEntries(detail.audiences.map((m) => [m.audience_name, m.status]))).toEqual({ A: 'unsubscribed', B: 'subscribed' });
    expect((await contacts.list(ws, { ...list, audienceId: a.id, subscribedOnly: true })).total).toBe(0);
    expect((await contacts.list(ws, { ...list, audienceId: b.id, subscribedOnly: true })).total).toBe(1);
    await contacts.update(ws, { id: contact.id }, { profile: { job_title: 'CTO' } });
    await contacts.delete(ws, { id: contact.id });
    const events = await database.db.selectFrom('contact_events').select(['type', 'audience_id']).where('contact_id', '=', contact.id).orderBy('id').execute();
    expect(events).toEqual([
      { type: 'contact.created', audience_id: null },
      { type: 'contact.subscribed', audience_id: a.id },
      { type: 'contact.subscribed', audience_id: b.id },
      { type: 'contact.unsubscribed', audience_id: a.id },
      { type: 'contact.updated', audience_id: null },
      { type: 'contact.deleted', audience_id: null },
    ]);
  });

  it('a subscribe token names its audience and nothing else', async () => {
    const { audiences, ws } = await setup();
    const a = await audiences.create(ws, { name: 'A' });
    const token = a.subscribe_url.split('/s/')[1]!;
    expect((await audiences.fromSubscribeToken(token))?.id).toBe(a.id);
    expect(await audiences.fromSubscribeToken(`${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`)).toBeUndefined();
  });
});
