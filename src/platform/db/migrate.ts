import fs from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import { inTransaction, type Db } from './database.js';

/** Same depth from src/platform/db and dist/platform/db, so both find the repository's migrations/. */
const MIGRATIONS_DIR = fileURLToPath(new URL('../../../migrations/', import.meta.url));
const LOCK_KEY = 7_251_001; // arbitrary, fixed: one migrator at a time across processes

export async function listMigrations(): Promise<{ name: string; sql: string }[]> {
  const files = (await fs.readdir(MIGRATIONS_DIR)).filter((f) => /^\d+_.*\.sql$/.test(f)).sort();
  return Promise.all(files.map(async (name) => ({ name, sql: await fs.readFile(MIGRATIONS_DIR + name, 'utf8') })));
}

/** Applies pending migrations under an advisory lock; returns the names applied. */
export async function migrate(db: Db): Promise<string[]> {
  const migrations = await listMigrations();
  return db.connection().execute(async (conn) => {
    await sql`SELECT pg_advisory_lock(${LOCK_KEY})`.execute(conn);
    try {
      await sql`CREATE TABLE IF NOT EXISTS schema_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`.execute(conn);
      const done = await sql<{ name: string }>`SELECT name FROM schema_migrations`.execute(conn);
      const applied = new Set(done.rows.map((r) => r.name));
      const ran: string[] = [];
      for (const m of migrations) {
        if (applied.has(m.name)) continue;
        await inTransaction(conn, async (trx) => {
          await sql.raw(m.sql).execute(trx);
          await sql`INSERT INTO schema_migrations (name) VALUES (${m.name})`.execute(trx);
        });
        ran.push(m.name);
      }
      return ran;
    } finally {
      await sql`SELECT pg_advisory_unlock(${LOCK_KEY})`.execute(conn);
    }
  });
}
