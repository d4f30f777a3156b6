import { AsyncLocalStorage } from 'node:async_hooks';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import path from 'node:path';
import { Kysely, PostgresDialect, type Transaction } from 'kysely';
import pg from 'pg';
import { makeDataDirPrivate } from '../embedded/data-dir-permissions.js';
import type { DB } from './schema.js';

// int8 and numeric arrive as strings on both backends (PGlite's adapter mirrors pg); keep it that way
// so code never depends on which backend it runs on.

export type DbKind = 'pglite' | 'postgres';
export type Db = Kysely<DB>;
export type Tx = Transaction<DB>;

export interface Database {
  readonly kind: DbKind;
  readonly db: Db;
  /** Registers a callback for NOTIFY on a channel (PostgreSQL only; embedded mode signals in-process). */
  listen(channel: string, onNotify: (payload: string) => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

/**
 * Marks the async context of a running transaction. A query on the outer handle from inside a
 * transaction would wait forever for PGlite's single connection, and on PostgreSQL it would silently run
 * outside the transaction; both are bugs, so the pool refuses to hand out a connection instead.
 */
const transactionContext = new AsyncLocalStorage<true>();

export class OuterHandleInTransactionError extends Error {
  constructor() {
    super('A query used the outer database handle inside a transaction; use the transaction handle');
    this.name = 'OuterHandleInTransactionError';
  }
}

/** Runs fn in one transaction. The only sanctioned way to open one (see transactionContext). */
export function inTransaction<T>(db: Db, fn: (trx: Tx) => Promise<T>): Promise<T> {
  return db.transaction().execute((trx) => transactionContext.run(true, () => fn(trx)));
}

interface PoolLike {
  connect(): Promise<pg.PoolClient>;
  end(): Promise<void>;
}

function guardedPool(pool: pg.Pool): PoolLike {
  return {
    connect: () => {
      if (transactionContext.getStore()) return Promise.reject(new OuterHandleInTransactionError());
      return pool.connect();
    },
    end: () => pool.end(),
  };
}

export async function openPostgres(url: string, opts: { max?: number } = {}): Promise<Database> {
  const pool = new pg.Pool({ connectionString: url, max: opts.max ?? 20 });
  pool.on('error', () => {
    // idle-client errors (server restart) are surfaced on the next query; keep the process alive
  });
  const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool: guardedPool(pool) as unknown as pg.Pool }) });
  const listeners: pg.Client[] = [];
  return {
    kind: 'postgres',
    db,
    async listen(channel, onNotify) {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      client.on('error', () => undefined);
      client.on('notification', (msg) => {
        if (msg.channel === channel) onNotify(msg.payload ?? '');
      });
      await client.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
      listeners.push(client);
      return async () => {
        listeners.splice(listeners.indexOf(client), 1);
        await client.end().catch(() => undefined);
      };
    },
    async close() {
      await Promise.all(listeners.map((c) => c.end().catch(() => undefined)));
      await db.destroy();
    },
  };
}

/** Small buffers keep an idle embedded server near 0.2 GB; a developer's data fits in the OS page cache anyway. */
const EMBEDDED_POSTGRESQL_CONF = 'shared_buffers=32MB';

async function initialiseDataFolder(pgdata: string): Promise<void> {
  const script = fileURLToPath(new URL('./pglite-init.js', import.meta.url));
  // from TypeScript sources (tests) the compiled helper may not exist; initialising in-process is correct, only larger
  if (!existsSync(script)) return;
  await promisify(execFile)(process.execPath, [script, pgdata], { timeout: 120_000 });
}

/** Says what a caller should know but that does not stop it: the server's log, or a CLI command's stderr. */
export type Warn = (detail: Record<string, unknown>, message: string) => void;

/** How many tightened paths a warning names; the count says how many there were. */
const TIGHTENED_NAMED = 20;

/** dataDir undefined → in-memory database (tests). */
export async function openEmbedded(dataDir: string | undefined, opts: { warn?: Warn } = {}): Promise<Database> {
  const { PGlite } = await import('@electric-sql/pglite');
  const { createPgConfig } = await import('@electric-sql/pglite/node-postgres');
  let pglite;
  if (dataDir) {
    const pgdata = path.join(dataDir, 'pgdata');
    const tightened = await makeDataDirPrivate(dataDir);
    if (tightened.length > 0) {
      opts.warn?.(
        { dataDir, tightened: tightened.slice(0, TIGHTENED_NAMED), count: tightened.length },
        `The data folder was open to other users: removed group and other permissions from ${tightened.length} path(s): ` +
          `${tightened.slice(0, TIGHTENED_NAMED).join(', ')}${tightened.length > TIGHTENED_NAMED ? ', …' : ''}`,
      );
    }
    if (!existsSync(path.join(pgdata, 'PG_VERSION'))) await initialiseDataFolder(pgdata);
    const { PrivateNodeFS } = await import('./pglite-private-fs.js');
    pglite = await PGlite.create({ fs: new PrivateNodeFS(pgdata), postgresqlconf: EMBEDDED_POSTGRESQL_CONF });
  } else {
    pglite = await PGlite.create({ postgresqlconf: EMBEDDED_POSTGRESQL_CONF });
  }
  const pool = new pg.Pool({ ...createPgConfig(pglite), max: 1 });
  const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool: guardedPool(pool) as unknown as pg.Pool }) });
  return {
    kind: 'pglite',
    db,
    async listen() {
      // every role runs in this one process; the in-process signal is used instead
      return async () => undefined;
    },
    async close() {
      await db.destroy();
      await pglite.close();
    },
  };
}
