import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openMigratedDatabase } from '../../../test/support/databases.js';
import type { Database } from '../../platform/db/database.js';
import { claimMessages, completeAttempts, completionsThatFit, renewMessageLeases, type AttemptCompletion } from './store.js';

/** A delivered attempt (direct to MX) for these recipients, with a note on its timeline unless other events are given. */
function completion(messageId: string, workerId: string, attempt: number, emails: string[], events: AttemptCompletion['events'] = [{ type: 'late', detail: { about: messageId } }]): AttemptCompletion {
  return {
    messageId,
    workerId,
    attempt,
    status: 'delivered',
    nextAttemptAt: null,
    transport: 'mx',
    lastError: null,
    sentAt: new Date(),
    deliveredAt: new Date(),
    failedAt: null,
    recipients: emails.map((email, position) => ({ position, email, status: 'delivered', code: 250, response: `250 ok ${email}`, host: '127.0.0.1' })),
    events,
  };
}

describe('completionsThatFit', () => {
  const emails = (n: number) => Array.from({ length: n }, (_, i) => `r${i}@example.test`);
  const withRecipients = (n: number) => completion('m', 'w', 1, emails(n), []);

  it('takes up to 500 small completions', () => {
    expect(completionsThatFit(Array.from({ length: 800 }, () => withRecipients(1)))).toBe(500);
  });

  it('stops before a statement would pass PostgreSQL’s bind parameter limit, but always takes one', () => {
    // 50 recipients: 10 + 50 × 16 = 810 parameters each, so 74 fit in 60,000
    expect(completionsThatFit(Array.from({ length: 200 }, () => withRecipients(50)))).toBe(74);
    expect(completionsThatFit([withRecipients(10_000)])).toBe(1);
  });
});

describe.each(['pglite', 'postgres'] as const)('recording delivery attempts on %s', (backend) => {
  let database: Database;
  let closeDatabase: (() => Promise<void>) | undefined;
  let workspaceId: string;

  beforeAll(async () => {
    ({ database, close: closeDatabase } = await openMigratedDatabase(backend));
    workspaceId = randomUUID();
    await database.db.insertInto('workspaces').values({ id: workspaceId, name: 'store test', plan: 'ENTERPRISE' }).execute();
  });
  afterAll(async () => {
    await closeDatabase?.();
  });

  async function queue(id: string, recipients: string[]): Promise<void> {
    await database.db
      .insertInto('messages')
      .values({
        id,
        workspace_id: workspaceId,
        tier: 'async',
        priority: 2,
        status: 'queued',
        from_email: 'from@example.test',
        subject: id,
        message_id_header: `<${id}@example.test>`,
        recipients_count: recipients.length,
        max_attempts: 5,
        next_attempt_at: new Date(Date.now() - 1000),
      })
      .execute();
    await database.db
      .insertInto('message_recipients')
      .values(recipients.map((email, position) => ({ message_id: id, position, kind: 'to', email })))
      .execute();
  }

  const messageState = (id: string) => database.db.selectFrom('messages').select(['status', 'locked_by', 'next_attempt_at', 'transport']).where('id', '=', id).executeTakeFirstOrThrow();
  const recipientStates = async (id: string) =>
    (await database.db.selectFrom('message_recipients').select(['status', 'smtp_code', 'smtp_response']).where('message_id', '=', id).orderBy('position').execute()).map((r) => [r.status, r.smtp_code, r.smtp_response]);
  const eventTypes = async (id: string) => (await database.db.selectFrom('message_events').select(['type', 'recipient', 'detail']).where('message_id', '=', id).orderBy('id').execute()).map((e) => [e.type, e.recipient, e.detail]);

  it('records the message, every recipient and the timeline of the workers that own them, and nothing of a stale one', async () => {
    await queue('m-own-1', ['a@example.test', 'b@example.test']);
    await queue('m-own-2', ['c@example.test']);
    await queue('m-stale', ['d@example.test']);
    const claimed = await claimMessages(database.db, { workerId: 'w1', limit: 10, maxPriority: 3, leaseMs: 60_000 });
    expect(claimed.map((m) => m.id).sort()).toEqual(['m-own-1', 'm-own-2', 'm-stale']);

    await completeAttempts(database.db, [
      completion('m-own-1', 'w1', 1, ['a@example.test', 'b@example.test']),
      completion('m-own-2', 'w1', 1, ['c@example.test']),
      // a worker whose lease ran out: another worker holds the message now
      completion('m-stale', 'w-old', 1, ['d@example.test']),
    ]);

    expect(await messageState('m-own-1')).toMatchObject({ status: 'delivered', locked_by: null, next_attempt_at: null, transport: 'mx' });
    expect(await recipientStates('m-own-1')).toEqual([
      ['delivered', 250, '250 ok a@example.test'],
      ['delivered', 250, '250 ok b@example.test'],
    ]);
    expect(await eventTypes('m-own-1')).toEqual([
      ['delivered', 'a@example.test', { transport: 'mx' }],
      ['delivered', 'b@example.test', { transport: 'mx' }],
      ['late', null, { about: 'm-own-1' }],
    ]);
    expect(await recipientStates('m-own-2')).toEqual([['delivered', 250, '250 ok c@example.test']]);

    expect(await messageState('m-stale')).toMatchObject({ status: 'sending', locked_by: 'w1' });
    expect(await recipientStates('m-stale')).toEqual([['pending', null, null]]);
    expect(await eventTypes('m-stale')).toEqual([]);
  });

  it('refuses a result from an earlier attempt of the same worker', async () => {
    await queue('m-retry', ['e@example.test']);
    await claimMessages(database.db, { workerId: 'w2', limit: 10, maxPriority: 3, leaseMs: 60_000 });
    await completeAttempts(database.db, [completion('m-retry', 'w2', 2, ['e@example.test'])]);
    expect(await messageState('m-retry')).toMatchObject({ status: 'sending', locked_by: 'w2' });
    expect(await eventTypes('m-retry')).toEqual([]);
  });

  it('records a completion with no recipient results and no events', async () => {
    await queue('m-bare', ['f@example.test']);
    await claimMessages(database.db, { workerId: 'w3', limit: 10, maxPriority: 3, leaseMs: 60_000 });
    await completeAttempts(database.db, [completion('m-bare', 'w3', 1, [], [])]);
    expect(await messageState('m-bare')).toMatchObject({ status: 'delivered', locked_by: null });
    expect(await recipientStates('m-bare')).toEqual([['pending', null, null]]);
  });

  it('renews the leases a worker still holds in one statement, and no other', async () => {
    for (const id of ['m-lease-1', 'm-lease-2', 'm-lease-other', 'm-lease-old']) await queue(id, ['g@example.test']);
    const leaseOf = async (id: string) => (await messageState(id)).next_attempt_at!.getTime();
    await claimMessages(database.db, { workerId: 'w4', limit: 10, maxPriority: 3, leaseMs: 1000 });
    // another worker holds this one; this one was claimed again since (attempt 2)
    await database.db.updateTable('messages').set({ locked_by: 'w5' }).where('id', '=', 'm-lease-other').execute();
    await database.db.updateTable('messages').set({ attempts: 2 }).where('id', '=', 'm-lease-old').execute();
    const before = new Map(await Promise.all(['m-lease-1', 'm-lease-2', 'm-lease-other', 'm-lease-old'].map(async (id) => [id, await leaseOf(id)] as const)));

    const held = ['m-lease-1', 'm-lease-2', 'm-lease-other', 'm-lease-old'].map((id) => ({ id, attempts: 1 }));
    await renewMessageLeases(database.db, { workerId: 'w4', held, leaseMs: 600_000 });

    for (const id of ['m-lease-1', 'm-lease-2']) expect(await leaseOf(id)).toBeGreaterThan(before.get(id)! + 500_000);
    for (const id of ['m-lease-other', 'm-lease-old']) expect(await leaseOf(id)).toBe(before.get(id));
    expect(await messageState('m-lease-1')).toMatchObject({ status: 'sending', locked_by: 'w4' });
  });
});
