import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPostgresDatabase, openMigratedDatabase } from '../../../test/support/databases.js';
import { inTransaction, openEmbedded, openPostgres, OuterHandleInTransactionError, type Database } from './database.js';
import { migrate } from './migrate.js';

describe.each(['pglite', 'postgres'] as const)('database on %s', (backend) => {
  let database: Database;
  let closeDatabase: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    ({ database, close: closeDatabase } = await openMigratedDatabase(backend));
  });
  afterAll(async () => {
    await closeDatabase?.();
  });

  it('refuses the outer handle inside a transaction instead of deadlocking', async () => {
    const attempt = inTransaction(database.db, async () => {
      await sql`SELECT 1`.execute(database.db);
    });
    await expect(attempt).rejects.toBeInstanceOf(OuterHandleInTransactionError);
    // the single PGlite connection is still usable afterwards
    const after = await sql<{ one: number }>`SELECT 1 AS one`.execute(database.db);
    expect(after.rows[0]!.one).toBe(1);
  });

  it('commits with the transaction handle and rolls back on error', async () => {
    const id = '0190a0a0-0000-7000-8000-000000000001';
    await expect(
      inTransaction(database.db, async (trx) => {
        await trx.insertInto('workspaces').values({ id, name: 'rolled back', plan: 'FREE' }).execute();
        throw new Error('abort');
      }),
    ).rejects.toThrow('abort');
    expect(await database.db.selectFrom('workspaces').select('id').where('id', '=', id).executeTakeFirst()).toBeUndefined();
    await inTransaction(database.db, (trx) => trx.insertInto('workspaces').values({ id, name: 'kept', plan: 'FREE' }).execute());
    expect(await database.db.selectFrom('workspaces').select('name').where('id', '=', id).executeTakeFirst()).toEqual({ name: 'kept' });
  });

  it('is idempotent to migrate twice and returns int8 as strings on both backends', async () => {
    expect(await migrate(database.db)).toEqual([]);
    const r = await sql<{ n: unknown }>`SELECT count(*) AS n FROM workspaces`.execute(database.db);
    expect(typeof r.rows[0]!.n).toBe('string');
  });
});

describe('an embedded database opened from a snapshot', () => {
  it('holds what the dumped one held, and the two change apart', async () => {
    const original = await openEmbedded(undefined);
    try {
      await sql`CREATE TABLE notes (body text)`.execute(original.db);
      await sql`INSERT INTO notes VALUES ('before the dump')`.execute(original.db);
      const copy = await openEmbedded(undefined, { snapshot: await original.dump!() });
      try {
        await sql`INSERT INTO notes VALUES ('only in the copy')`.execute(copy.db);
        await sql`INSERT INTO notes VALUES ('only in the original')`.execute(original.db);
        const bodies = async (d: Database) => (await sql<{ body: string }>`SELECT body FROM notes ORDER BY body`.execute(d.db)).rows.map((r) => r.body);
        expect(await bodies(copy)).toEqual(['before the dump', 'only in the copy']);
        expect(await bodies(original)).toEqual(['before the dump', 'only in the original']);
      } finally {
        await copy.close();
      }
    } finally {
      await original.close();
    }
  });
});

describe('a PostgreSQL pool warmed at start', () => {
  it('opens the connections asked for, each having planned a read of every table, keeps them idle, and never beyond its size', async () => {
    const pg = await createPostgresDatabase({ migrated: true });
    const database = await openPostgres(pg.url, { max: 6 });
    try {
      // a name that must be quoted: the warm-up builds its statement from the schema's table names
      await sql`CREATE TABLE "Odd ""name"" here" (id int)`.execute(database.db);
      await database.warm!(4);
      expect(database.poolStats()).toEqual({ total: 4, idle: 4, waiting: 0 });
      // the backends are really there, each its own PostgreSQL process
      const seen = await sql<{ n: string }>`SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND backend_type = 'client backend'`.execute(database.db);
      expect(Number(seen.rows[0]!.n)).toBeGreaterThanOrEqual(4);
      // each idle one's last statement read every table, the odd one and the migrated ones alike
      const warmed = await sql<{ n: string }>`
        SELECT count(*) AS n FROM pg_stat_activity
         WHERE datname = current_database() AND state = 'idle' AND query LIKE ${'%"Odd ""name"" here"%'} AND query LIKE ${'%messages%'} AND query LIKE ${'%automation_enrollments%'}`.execute(database.db);
      expect(Number(warmed.rows[0]!.n)).toBeGreaterThanOrEqual(3);
      await database.warm!(3);
      expect(database.poolStats().total).toBe(4);
      await database.warm!(50);
      expect(database.poolStats()).toEqual({ total: 6, idle: 6, waiting: 0 });
    } finally {
      await database.close();
      await pg.drop();
    }
  });
});
