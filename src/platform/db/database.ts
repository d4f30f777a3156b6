import { AsyncLocalStorage } from 'node:async_hooks';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import path from 'node:path';
import { Kysely, PostgresDialect, type PostgresPool, type Transaction } from 'kysely';
import pg from 'pg';
import { makeDataDirPrivate } from '../embedded/data-dir-permissions.js';
import type { Logger } from '../logger.js';
import { boundedPool, type BoundedPool } from './bounded-pool.js';
import { PgListener, type DatabaseHealth } from './pg-listener.js';
import type { DB } from './schema.js';

export type { DatabaseHealth };

// int8 and numeric arrive as strings on both backends (PGlite's adapter mirrors pg); keep it that way
// so code never depends on which backend it runs on.

export type DbKind = 'pglite' | 'postgres';
export type Db = Kysely<DB>;
export type Tx = Transaction<DB>;

export interface Database {
  readonly kind: DbKind;
  readonly db: Db;
  /**
   * Registers a callback for NOTIFY on a channel (PostgreSQL only; embedded mode signals in-process).
   * onRestored runs when a lost LISTEN connection is back: notifications sent meanwhile were missed.
   */
  listen(channel: string, onNotify: (payload: string) => void, onRestored?: () => void): Promise<() => Promise<void>>;
  /**
   * Last known reachability, from the LISTEN connection's probe (PostgreSQL). Absent on the embedded
   * database: it runs inside this process and cannot be unreachable, and its single connection must not be
   * probed (a probe would queue behind a tenant's long query and flap).
   */
  health?(): DatabaseHealth;
  /** Connections of the pool now (metrics): on the embedded database, its one connection and the queries queued for it. */
  poolStats(): PoolStats;
  /**
   * Opens up to `connections` pooled connections now, each with its tables' catalog entries loaded, so a server's
   * first burst of work does not wait for new database processes (PostgreSQL only: the embedded one has one connection).
   */
  warm?(connections: number): Promise<void>;
  /** The embedded database's files as an uncompressed tar archive, which `openEmbedded` can start an in-memory copy from. */
  dump?(): Promise<Blob>;
  close(): Promise<void>;
}

export interface PoolStats {
  total: number;
  idle: number;
  waiting: number;
}

const statsOf = (pool: pg.Pool): PoolStats => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount });

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

type PoolLike = PostgresPool;

function guardedPool(pool: PostgresPool): PoolLike {
  return {
    connect: () => {
      if (transactionContext.getStore()) return Promise.reject(new OuterHandleInTransactionError());
      return pool.connect();
    },
    end: () => pool.end(),
  };
}

/** Bounds on every wait for PostgreSQL (config: DATABASE_*_TIMEOUT_MS, DATABASE_PROBE_INTERVAL_MS). */
export interface PostgresLimits {
  connectTimeoutMs: number;
  /** server-side statement_timeout; the client gives up a second later if no answer comes at all */
  statementTimeoutMs: number;
  idleInTransactionTimeoutMs: number;
  probeIntervalMs: number;
}

export const DEFAULT_POSTGRES_LIMITS: PostgresLimits = { connectTimeoutMs: 5000, statementTimeoutMs: 30_000, idleInTransactionTimeoutMs: 30_000, probeIntervalMs: 5000 };

/** Connections a process's pool opens at most. */
const DEFAULT_POOL_MAX = 20;

/** How long an idle pooled connection stays open. */
const POOL_IDLE_TIMEOUT_MS = 5 * 60_000;

/** Margin for the server's own statement_timeout error to arrive before the client stops waiting. */
const READ_TIMEOUT_MARGIN_MS = 1000;

export async function openPostgres(url: string, opts: { max?: number; limits?: PostgresLimits; log?: Logger } = {}): Promise<Database> {
  const limits = opts.limits ?? DEFAULT_POSTGRES_LIMITS;
  const max = opts.max ?? DEFAULT_POOL_MAX;
  const pool = new pg.Pool({
    connectionString: url,
    max,
    // bounds both opening a connection and waiting for a free one
    connectionTimeoutMillis: limits.connectTimeoutMs,
    statement_timeout: limits.statementTimeoutMs,
    idle_in_transaction_session_timeout: limits.idleInTransactionTimeoutMs,
    keepAlive: true,
    // a connection is a PostgreSQL process with cold caches: one opened for a burst is kept for the next one
    // rather than closed after pg's default 10 s, so bursts of work do not pay for new connections each time
    idleTimeoutMillis: POOL_IDLE_TIMEOUT_MS,
  });
  pool.on('error', () => {
    // idle-client errors (server restart) are surfaced on the next query; keep the process alive
  });
  let bounded: BoundedPool | null = null;
  const listener = new PgListener({
    client: { connectionString: url },
    probeIntervalMs: limits.probeIntervalMs,
    timeoutMs: limits.connectTimeoutMs,
    // queries in flight when the probe finds the database gone fail now, not after the statement timeout
    onDown: () => bounded?.abortWaiting('The database stopped answering'),
    ...(opts.log ? { log: opts.log } : {}),
  });
  bounded = boundedPool(pool, {
    queryTimeoutMs: limits.statementTimeoutMs + READ_TIMEOUT_MARGIN_MS,
    // while the probe sees the database away, fail at once rather than make every request wait out a timeout
    unavailable: () => (listener.state.state === 'down' ? 'The database is unreachable' : null),
  });
  const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool: guardedPool(bounded) }) });
  return {
    kind: 'postgres',
    db,
    listen: (channel, onNotify, onRestored) => listener.listen(channel, onNotify, onRestored),
    health: () => listener.state,
    poolStats: () => statsOf(pool),
    async warm(connections) {
      // every connect is asked for before any is released: idle connections are handed out first, and the
      // rest are opened, so the pool ends up holding `connections` (at most its size)
      const wanted = Math.min(connections, max);
      await Promise.all(
        Array.from({ length: wanted }, async () => {
          const client = await bounded.connect();
          try {
            await warmCatalogCaches(client);
          } finally {
            client.release();
          }
        }),
      );
    },
    async close() {
      await listener.stop();
      await db.destroy();
    },
  };
}

/** Ours are about 40; a schema shared with many other tables is warmed only in part. */
const WARMED_TABLES_MAX = 200;

/**
 * Plans a read of every table of the schema (reading no row): a new connection's process loads each table's and
 * index's catalog entries on its first query that touches them, several milliseconds each, which a first burst of
 * work would otherwise pay on every connection at once.
 */
async function warmCatalogCaches(client: { query<R>(sql: string, parameters: ReadonlyArray<unknown>): Promise<{ rows: R[] }> }): Promise<void> {
  const tables = await client.query<{ name: string }>(`SELECT quote_ident(tablename) AS name FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename LIMIT ${WARMED_TABLES_MAX}`, []);
  if (tables.rows.length === 0) return;
  await client.query(tables.rows.map((t) => `(SELECT 1 FROM ${t.name} LIMIT 0)`).join(' UNION ALL '), []);
}

/** Small buffers keep an idle embedded server near 0.2 GB; a developer's data fits in the OS page cache anyway. */
const EMBEDDED_POSTGRESQL_CONF = 'shared_buffers=32MB';

async function initialiseDataFolder(pgdata: string): Promise<void> {
  const script = fileURLToPath(new URL('./pglite-init.js', import.meta.url));
  // from TypeScript sources (tests) the compiled helper may not exist; initialising in-process is correct, only larger
  if (!existsSync(script)) return;
  await promisify(execFile)(process.execPath, [script, pgdata], { timeout: 120_000 });
}

/** Says what a caller should know (a warning, or what a slow step is doing): the server's log, or a CLI command's stderr. */
export type Warn = (detail: Record<string, unknown>, message: string) => void;

/** How many tightened paths a warning names; the count says how many there were. */
const TIGHTENED_NAMED = 20;

/**
 * dataDir undefined → in-memory database (tests). `snapshot`, a `dump()` of another embedded database, starts the
 * in-memory one with its contents instead of an empty cluster: a fifth of the time, as it skips initdb.
 */
export async function openEmbedded(dataDir: string | undefined, opts: { warn?: Warn; note?: Warn; snapshot?: Blob } = {}): Promise<Database> {
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
    if (!existsSync(path.join(pgdata, 'PG_VERSION'))) {
      // the slow part of a first start (about 10 s): say so rather than stay silent
      opts.note?.({ dataDir }, `initialising the data folder ${dataDir} (first start; this takes a few seconds)…`);
      await initialiseDataFolder(pgdata);
    }
    const { PrivateNodeFS } = await import('./pglite-private-fs.js');
    pglite = await PGlite.create({ fs: new PrivateNodeFS(pgdata), postgresqlconf: EMBEDDED_POSTGRESQL_CONF });
  } else {
    pglite = await PGlite.create({ postgresqlconf: EMBEDDED_POSTGRESQL_CONF, ...(opts.snapshot ? { loadDataDir: opts.snapshot } : {}) });
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
    poolStats: () => statsOf(pool),
    dump: () => pglite.dumpDataDir('none'),
    async close() {
      await db.destroy();
      await pglite.close();
    },
  };
}
