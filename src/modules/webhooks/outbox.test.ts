import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, openMigratedDatabase } from '../../../test/support/databases.js';
import type { Database } from '../../platform/db/database.js';
import { uuidv7 } from '../../platform/ids.js';
import { fanOut } from './dispatcher.js';

describe.each(BACKENDS)('the webhook outbox on %s (migration 014)', (backend) => {
  let database: Database;
  let close: (() => Promise<void>) | undefined;
  const workspace = uuidv7();
  const quiet = uuidv7();

  beforeAll(async () => {
    ({ database, close } = await openMigratedDatabase(backend));
    await database.db.insertInto('workspaces').values([{ id: workspace, name: 'w', plan: 'FREE' }, { id: quiet, name: 'q', plan: 'FREE' }]).execute();
    await database.db
      .insertInto('webhook_endpoints')
      .values({ id: uuidv7(), workspace_id: workspace, url: 'https://hooks.example.com/', events: ['contact.created'], secret_sealed: 'x', secret_hint: 'x' })
      .execute();
  });
  afterAll(() => close?.());

  /** One statement writing `n` contact events for each workspace. */
  const writeEvents = (n: number) =>
    sql`INSERT INTO contact_events (workspace_id, contact_id, type)
        SELECT w, gen_random_uuid(), 'contact.created' FROM unnest(${[workspace, quiet]}::uuid[]) AS w, generate_series(1, ${n})`.execute(database.db);

  it('holds one row per statement and workspace with an endpoint, at most 500 events a row, in order', async () => {
    await writeEvents(1_200);
    const rows = await sql<{ workspace_id: string; n: number; ordered: boolean }>`
      SELECT workspace_id, cardinality(event_ids) AS n, event_ids = (SELECT array_agg(x ORDER BY x) FROM unnest(event_ids) x) AS ordered
        FROM webhook_outbox ORDER BY id`.execute(database.db);
    expect(rows.rows.map((r) => r.n).sort((a, b) => b - a)).toEqual([500, 500, 200]);
    expect(rows.rows.every((r) => r.workspace_id === workspace && r.ordered)).toBe(true);
  });

  it('fans out whole rows, about 500 events a pass, until the outbox is empty, one delivery per event', async () => {
    const passes: { events: number; more: boolean }[] = [];
    for (let i = 0; i < 10; i++) {
      const done = await fanOut(database.db);
      if (done.rows === 0) break;
      passes.push({ events: done.events, more: done.more });
    }
    expect(passes.map((p) => p.events)).toEqual([500, 500, 200]);
    expect(passes.map((p) => p.more)).toEqual([true, true, false]);
    const deliveries = await sql<{ n: number }>`SELECT count(*)::int AS n FROM webhook_deliveries WHERE workspace_id = ${workspace}`.execute(database.db);
    expect(deliveries.rows[0]!.n).toBe(1_200);
    expect((await sql`SELECT 1 FROM webhook_outbox`.execute(database.db)).rows).toHaveLength(0);
  });

  it('takes several small rows in one pass', async () => {
    for (let i = 0; i < 5; i++) await writeEvents(3);
    const done = await fanOut(database.db);
    expect(done).toMatchObject({ rows: 5, events: 15, deliveries: 15, more: false });
  });
});
