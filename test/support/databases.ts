import pg from 'pg';
import { randomHex } from '../../src/platform/crypto.js';
import { openPostgres, type Database } from '../../src/platform/db/database.js';
import { migrate } from '../../src/platform/db/migrate.js';
import { openMigratedEmbedded } from './embedded-snapshot.js';

export type Backend = 'pglite' | 'postgres';

/** The machine's PostgreSQL (.ci/run makes sure it is up). Each test gets a database of its own. */
export const POSTGRES_ADMIN_URL = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export const BACKENDS: Backend[] = ['pglite', 'postgres'];

export interface TestPostgres {
  url: string;
  drop(): Promise<void>;
}

export async function createPostgresDatabase(): Promise<TestPostgres> {
  const name = `keplars_test_${randomHex(6)}`;
  const admin = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(POSTGRES_ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}

/** A migrated database on the backend: in-memory PGlite, or a database of its own on the machine's PostgreSQL. */
export async function openMigratedDatabase(backend: Backend): Promise<{ database: Database; close(): Promise<void> }> {
  const pgDb = backend === 'postgres' ? await createPostgresDatabase() : null;
  const database = pgDb ? await openPostgres(pgDb.url) : await openMigratedEmbedded();
  if (pgDb) await migrate(database.db);
  return {
    database,
    async close() {
      await database.close();
      await pgDb?.drop();
    },
  };
}
