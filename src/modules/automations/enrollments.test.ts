import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, openMigratedDatabase } from '../../../test/support/databases.js';
import { inTransaction, type Database } from '../../platform/db/database.js';
import { uuidv7 } from '../../platform/ids.js';
import { QueueSignal } from '../../platform/queue/signal.js';
import { AUTOMATION_STEP_QUEUE, enrollContacts } from './enrollments.js';

describe.each(BACKENDS)('enrollContacts on %s', (backend) => {
  let database: Database;
  let close: (() => Promise<void>) | undefined;
  const workspace = uuidv7();
  const other = uuidv7();
  const automation = uuidv7();
  const contacts = [uuidv7(), uuidv7(), uuidv7()];
  const blocked = uuidv7();
  const foreign = uuidv7();

  beforeAll(async () => {
    ({ database, close } = await openMigratedDatabase(backend));
    const db = database.db;
    await db.insertInto('workspaces').values([{ id: workspace, name: 'w', plan: 'FREE' }, { id: other, name: 'o', plan: 'FREE' }]).execute();
    const contact = (id: string, ws: string, n: string) => ({ id, workspace_id: ws, email: `${n}@example.com`, email_key: `${n}@example.com` });
    await db.insertInto('contacts').values([...contacts.map((id, i) => contact(id, workspace, `c${i}`)), contact(blocked, workspace, 'b'), contact(foreign, other, 'f')]).execute();
    await db.updateTable('contacts').set({ status: 'blocked', blocked_reason: 'manual', blocked_at: new Date() }).where('id', '=', blocked).execute();
    await db.insertInto('automations').values({ id: automation, workspace_id: workspace, name: 'a', trigger_type: 'manual', trigger_config: '{}', status: 'active' }).execute();
    await db.insertInto('automation_versions').values({ automation_id: automation, version: 1, graph: JSON.stringify({ steps: [{ id: 'first', type: 'exit' }] }) }).execute();
  });
  afterAll(() => close?.());

  const enroll = (contactIds: string[], automationId = automation) =>
    inTransaction(database.db, (trx) => enrollContacts(trx, new QueueSignal(database), { workspaceId: workspace, automationId, contactIds, triggerData: { event: { plan: 'pro' } } }));

  it('enrolls subscribed contacts of the workspace once, each with its first step job', async () => {
    const enrolled = await enroll([...contacts, blocked, foreign]);
    expect(enrolled.sort()).toEqual([...contacts].sort());
    const again = await enroll(contacts);
    expect(again).toEqual([]);
    const rows = await database.db.selectFrom('automation_enrollments').selectAll().where('automation_id', '=', automation).execute();
    expect(rows).toHaveLength(3);
    expect(rows.every((r) => r.current_step === 'first' && r.status === 'active' && r.seq === 0 && r.version === 1)).toBe(true);
    expect(rows[0]!.trigger_data).toEqual({ event: { plan: 'pro' } });
    const jobs = await database.db.selectFrom('jobs').selectAll().where('queue', '=', AUTOMATION_STEP_QUEUE).execute();
    expect(jobs.map((j) => j.dedupe_key).sort()).toEqual(rows.map((r) => `automation:${r.id}:0`).sort());
    expect(jobs[0]!.payload).toMatchObject({ seq: 0 });
  });

  it('enrolls nobody in an automation that is not active', async () => {
    await database.db.updateTable('automations').set({ status: 'paused' }).where('id', '=', automation).execute();
    await database.db.updateTable('automation_enrollments').set({ status: 'completed' }).execute();
    expect(await enroll(contacts)).toEqual([]);
    await database.db.updateTable('automations').set({ status: 'active' }).where('id', '=', automation).execute();
    expect(await enroll(contacts)).toHaveLength(3);
  });
});
