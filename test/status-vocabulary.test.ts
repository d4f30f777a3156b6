import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { openEmbedded, openPostgres, type Database } from '../src/platform/db/database.js';
import { listMigrations, migrate } from '../src/platform/db/migrate.js';
import { EMAIL_STATUSES, RECIPIENT_STATUSES, TIERS } from '../src/platform/lifecycle.js';
import { BACKENDS, createPostgresDatabase, openMigratedDatabase, type Backend } from './support/databases.js';

/** The words a CHECK constraint allows, read back from the database. */
async function allowed(database: Database, constraint: string): Promise<string[]> {
  const res = await sql<{ def: string }>`SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conname = ${constraint}`.execute(database.db);
  const def = res.rows[0]?.def ?? '';
  return [...def.matchAll(/'([a-z_]+)'::text/g)].map((m) => m[1]!);
}

describe.each(BACKENDS)('one vocabulary for the code and the database (%s)', (backend: Backend) => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0)) await c();
  });

  it('the columns’ CHECK constraints allow exactly the declared words', async () => {
    const { database, close } = await openMigratedDatabase(backend);
    cleanup.push(close);
    expect(await allowed(database, 'messages_status_check')).toEqual([...EMAIL_STATUSES]);
    expect(await allowed(database, 'message_recipients_status_check')).toEqual([...RECIPIENT_STATUSES]);
    expect(await allowed(database, 'messages_tier_check')).toEqual([...TIERS]);
  });

  it('renames rows written with the old words (migration 005)', async () => {
    const pgDb = backend === 'postgres' ? await createPostgresDatabase() : null;
    const database = pgDb ? await openPostgres(pgDb.url) : await openEmbedded(undefined);
    cleanup.push(async () => {
      await database.close();
      await pgDb?.drop();
    });
    // the schema as it was before 005, with rows the old delivery code wrote
    const before = (await listMigrations()).filter((m) => m.name < '005');
    for (const m of before) await sql.raw(m.sql).execute(database.db);
    await sql`CREATE TABLE schema_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`.execute(database.db);
    for (const m of before) await sql`INSERT INTO schema_migrations (name) VALUES (${m.name})`.execute(database.db);
    await sql.raw(`
      INSERT INTO workspaces (id, name, plan) VALUES ('00000000-0000-7000-8000-000000000001', 'w', 'FREE');
      INSERT INTO messages (id, workspace_id, tier, priority, status, from_email, subject, message_id_header, recipients_count, max_attempts, transport)
      VALUES ('relay', '00000000-0000-7000-8000-000000000001', 'high', 1, 'sent', 'a@x.test', 's', '<relay@x>', 3, 4, 'smtp'),
             ('direct', '00000000-0000-7000-8000-000000000001', 'high', 1, 'delivered', 'a@x.test', 's', '<direct@x>', 1, 4, 'mx');
      INSERT INTO message_recipients (message_id, position, kind, email, status, smtp_code, smtp_response) VALUES
        ('relay', 0, 'to', 'ok@x.test', 'delivered', 250, '250 ok'),
        ('relay', 1, 'to', 'gone@x.test', 'failed', 550, '550 no such user'),
        ('relay', 2, 'to', 'later@x.test', 'failed', 451, '451 busy (gave up after 4 attempts)'),
        ('direct', 0, 'to', 'ok@y.test', 'delivered', 250, '250 ok');
      INSERT INTO message_events (message_id, type, recipient, smtp_code, smtp_response) VALUES
        ('relay', 'bounced', 'gone@x.test', 550, '550 no such user'),
        ('relay', 'bounced', 'later@x.test', 451, '451 busy (gave up after 4 attempts)');
    `).execute(database.db);

    // 005 first; later migrations follow it
    expect((await migrate(database.db))[0]).toBe('005_status_vocabulary.sql');
    const recipients = await database.db.selectFrom('message_recipients').select(['message_id', 'email', 'status']).orderBy('message_id').orderBy('position').execute();
    expect(recipients.map((r) => [r.email, r.status])).toEqual([
      ['ok@y.test', 'delivered'],
      ['ok@x.test', 'sent'],
      ['gone@x.test', 'bounced'],
      ['later@x.test', 'failed'],
    ]);
    const events = await database.db.selectFrom('message_events').select(['recipient', 'type']).orderBy('id').execute();
    expect(events.map((e) => [e.recipient, e.type])).toEqual([
      ['gone@x.test', 'bounced'],
      ['later@x.test', 'failed'],
    ]);
  });
});
