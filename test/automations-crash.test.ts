import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPostgres, type Database } from '../src/platform/db/database.js';
import { QueueSignal } from '../src/platform/queue/signal.js';
import { call, waitFor } from './support/app.js';
import { automationEmails, enroll, enrollmentRows, insertAutomation, insertContacts } from './support/automations.js';
import { createPostgresDatabase, type TestPostgres } from './support/databases.js';
import { TEST_SECRET_KEY } from './support/domains.js';
import { runCli, startServerProcess, type ServerProcess } from './support/processes.js';

const CONTACTS = 200;
/** long enough for the killed worker's successor to start on a busy machine */
const DELAY_SECONDS = 10;

/** The built server (dist/) on one PostgreSQL: a worker SIGKILLed while enrollments wait in a delay. */
describe('automations across a worker crash', () => {
  let pg: TestPostgres;
  let database: Database;
  let env: Record<string, string>;
  const procs: ServerProcess[] = [];

  beforeAll(async () => {
    pg = await createPostgresDatabase();
    env = { DATABASE_URL: pg.url, PORT: '0', SECRET_KEY: TEST_SECRET_KEY, DELIVERY_MODE: 'capture', DELIVERY_LEASE_MS: '2000' };
    expect((await runCli(['migrate'], env)).code).toBe(0);
    database = await openPostgres(pg.url);
  });
  afterAll(async () => {
    await Promise.all(procs.splice(0).map((p) => p.stop('SIGKILL')));
    await database?.close();
    await pg?.drop();
  });

  it('runs each step once after a restart, the step after the delay no later than its due time plus 2 s', async () => {
    const db = database.db;
    const ws = JSON.parse((await runCli(['workspace', 'create', '--name', 'Crash', '--plan', 'ENTERPRISE', '--json'], env)).stdout) as { workspace: { id: string }; secret_key: string };
    const api = await startServerProcess('api', env);
    procs.push(api);
    const saved = await call(`${api.url}/api/v1/templates/save`, { key: ws.secret_key, body: { name: 'crash', subject: 'Hello {{firstName}}', html: '<p>{{email}}</p>' } });
    expect(saved.status, saved.text).toBe(200);
    const template = (saved.body.data as { id: string } | undefined)?.id ?? (saved.body.id as string);
    const id = await insertAutomation(db, {
      workspaceId: ws.workspace.id,
      steps: [
        { id: 'first', type: 'send_email', template_id: template, from: 'crash@example.test', next: 'wait' },
        { id: 'wait', type: 'delay', amount: DELAY_SECONDS, unit: 'seconds', next: 'second' },
        { id: 'second', type: 'send_email', template_id: template, from: 'crash@example.test' },
      ],
    });
    const contacts = await insertContacts(db, ws.workspace.id, Array.from({ length: CONTACTS }, (_, i) => ({ email: `crash${i}@example.test`, first_name: `C${i}` })));

    let worker = await startServerProcess('worker', env);
    procs.push(worker);
    const signal = new QueueSignal(database);
    await enroll(db, signal, { workspaceId: ws.workspace.id, automationId: id, contactIds: contacts });
    // every enrollment has sent its first email and is waiting in the delay
    await waitFor(async () => (await enrollmentRows(db, id)).every((r) => r.current_step === 'second'), { timeoutMs: 30_000, what: 'every enrollment in the delay' });
    await worker.stop('SIGKILL');
    const killedAt = Date.now();
    worker = await startServerProcess('worker', env);
    procs.push(worker);
    // the new worker is up before the steps are due (else the bound below would measure start-up, not the engine)
    const due = await db.selectFrom('automation_enrollments').select(sql<Date>`min(next_run_at)`.as('at')).where('automation_id', '=', id).executeTakeFirstOrThrow();
    expect(new Date(due.at).getTime(), `restarted ${Date.now() - killedAt} ms after the kill`).toBeGreaterThan(Date.now());

    const rows = await waitFor(
      async () => {
        const r = await enrollmentRows(db, id);
        return r.every((e) => e.status === 'completed') ? r : null;
      },
      { timeoutMs: 60_000, what: 'every enrollment completed' },
    ).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}; worker output:\n${worker.output().slice(-3000)}`);
    });
    expect(rows).toHaveLength(CONTACTS);

    const emails = await automationEmails(db, id);
    expect(emails).toHaveLength(CONTACTS * 2);
    expect(new Set(emails.map((e) => `${e.to}:${(e.metadata as { step_id: string }).step_id}`)).size).toBe(CONTACTS * 2);
    const runs = await sql<{ seq: number; n: number; late_ms: number; max_ran: Date }>`
      SELECT r.seq, count(*)::int AS n, max(extract(epoch FROM (m.created_at - r.due_at)) * 1000)::float8 AS late_ms, max(r.ran_at) AS max_ran
        FROM automation_step_runs r JOIN automation_enrollments e ON e.id = r.enrollment_id
        LEFT JOIN messages m ON m.id = r.message_id
       WHERE e.automation_id = ${id} GROUP BY r.seq ORDER BY r.seq`.execute(db);
    expect(runs.rows.map((r) => [r.seq, r.n])).toEqual([[0, CONTACTS], [1, CONTACTS], [2, CONTACTS]]);
    // the second email of every enrollment was accepted no later than its due time plus 2 s, though the worker died in between
    expect(runs.rows[2]!.late_ms).toBeLessThanOrEqual(2000);
    // and not before it
    const early = await sql<{ n: number }>`
      SELECT count(*)::int AS n FROM automation_step_runs r JOIN messages m ON m.id = r.message_id JOIN automation_enrollments e ON e.id = r.enrollment_id
       WHERE e.automation_id = ${id} AND r.seq = 2 AND m.created_at < r.due_at`.execute(db);
    expect(early.rows[0]!.n).toBe(0);
  }, 120_000);
});
