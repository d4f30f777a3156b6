import pg from 'pg';
import { randomHex } from '../../src/platform/crypto.js';
import { openPostgres, type Database } from '../../src/platform/db/database.js';
import { migrate } from '../../src/platform/db/migrate.js';
import { openMigratedEmbedded } from './embedded-snapshot.js';
import { migrationsKey } from './migrated-cache.js';

export type Backend = 'pglite' | 'postgres';

/** The machine's PostgreSQL (.ci/run makes sure it is up). Each test gets a database of its own. */
export const POSTGRES_ADMIN_URL = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export const BACKENDS: Backend[] = ['pglite', 'postgres'];

export interface TestPostgres {
  url: string;
  drop(): Promise<void>;
}

/** An empty database of its own; `migrated` copies one with every migration applied (see migratedTemplate). */
export async function createPostgresDatabase(opts: { migrated?: boolean } = {}): Promise<TestPostgres> {
  const name = `keplars_test_${randomHex(6)}`;
  const template = opts.migrated ? await migratedTemplate() : null;
  const admin = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(template ? `CREATE DATABASE ${name} TEMPLATE ${template}` : `CREATE DATABASE ${name}`);
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

const TEMPLATE_PREFIX = 'keplars_test_template_';
/** one maker of the template at a time across the suite's workers (any fixed number not used elsewhere) */
const TEMPLATE_LOCK = 7_251_002;
let template: Promise<string> | undefined;

/**
 * A database with every migration applied, made once per set of migrations and copied by CREATE DATABASE …
 * TEMPLATE: a copy is cheaper than migrating each test's database. Made under an advisory lock, so the suite's
 * workers make it once; nobody stays connected to it, as PostgreSQL copies only a template nobody uses.
 */
function migratedTemplate(): Promise<string> {
  return (template ??= (async () => {
    const name = `${TEMPLATE_PREFIX}${await migrationsKey()}`;
    const admin = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
    await admin.connect();
    try {
      await admin.query('SELECT pg_advisory_lock($1)', [TEMPLATE_LOCK]);
      const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
      if (exists.rowCount === 0) {
        const staging = `${name}_${randomHex(4)}`;
        await admin.query(`CREATE DATABASE ${staging}`);
        const url = new URL(POSTGRES_ADMIN_URL);
        url.pathname = `/${staging}`;
        const database = await openPostgres(url.toString());
        try {
          await migrate(database.db);
        } finally {
          await database.close();
        }
        // renamed only once complete: a template that exists is a whole one
        await admin.query(`ALTER DATABASE ${staging} RENAME TO ${name}`);
        const stale = await admin.query<{ datname: string }>('SELECT datname FROM pg_database WHERE datname LIKE $1 AND datname <> $2', [`${TEMPLATE_PREFIX}%`, name]);
        for (const r of stale.rows) await admin.query(`DROP DATABASE IF EXISTS ${r.datname} WITH (FORCE)`);
      }
      return name;
    } finally {
      await admin.query('SELECT pg_advisory_unlock($1)', [TEMPLATE_LOCK]).catch(() => undefined);
      await admin.end();
    }
  })());
}

/** A migrated database on the backend: in-memory PGlite, or a database of its own on the machine's PostgreSQL. */
export async function openMigratedDatabase(backend: Backend): Promise<{ database: Database; close(): Promise<void> }> {
  const pgDb = backend === 'postgres' ? await createPostgresDatabase({ migrated: true }) : null;
  const database = pgDb ? await openPostgres(pgDb.url) : await openMigratedEmbedded();
  return {
    database,
    async close() {
      await database.close();
      await pgDb?.drop();
    },
  };
}
