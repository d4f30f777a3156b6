import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPostgresDatabase, POSTGRES_ADMIN_URL, type TestPostgres } from '../../../test/support/databases.js';
import { startTcpProxy, type TcpProxy } from '../../../test/support/tcp-proxy.js';
import { openPostgres, type Database } from './database.js';
import { DatabaseUnavailableError } from './pg-errors.js';

const backendPid = async (database: Database) => (await sql<{ pid: number }>`SELECT pg_backend_pid() AS pid`.execute(database.db)).rows[0]!.pid;

describe('PostgreSQL connections that never hang', () => {
  let pg: TestPostgres;
  let proxy: TcpProxy;
  let database: Database;

  beforeAll(async () => {
    pg = await createPostgresDatabase();
    const target = new URL(POSTGRES_ADMIN_URL);
    proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
    database = await openPostgres(proxy.via(pg.url), { max: 1, limits: { connectTimeoutMs: 500, statementTimeoutMs: 300, idleInTransactionTimeoutMs: 5000, probeIntervalMs: 60_000 } });
  });
  afterAll(async () => {
    proxy?.restore();
    await database?.close();
    await proxy?.close();
    await pg?.drop();
  });

  it('the server cancels a statement over DATABASE_STATEMENT_TIMEOUT_MS', async () => {
    await expect(sql`SELECT pg_sleep(2)`.execute(database.db)).rejects.toMatchObject({ code: '57014' });
  });

  it('a connection reset while a query runs fails that query and does not crash the process', async () => {
    // the pool has no error listener on a connection in use: without ours, this 'error' event would be uncaught
    const running = sql`SELECT pg_sleep(0.25)`.execute(database.db);
    await new Promise((r) => setTimeout(r, 50));
    proxy.cut('reset');
    await expect(running).rejects.toMatchObject({ code: 'ECONNRESET' });
    proxy.restore();
    expect(await backendPid(database)).toBeGreaterThan(0);
  });

  it('a query without an answer fails after the timeout, and its connection is not used again', async () => {
    const before = await backendPid(database);
    proxy.cut('blackhole');
    await expect(sql`SELECT 1`.execute(database.db)).rejects.toBeInstanceOf(DatabaseUnavailableError);
    // the pool's only connection is gone: a new one cannot be opened either
    await expect(sql`SELECT 1`.execute(database.db)).rejects.toThrow(/timeout/);
    proxy.restore();
    // a fresh connection: the lost one would still be waiting for its first answer
    expect(await backendPid(database)).not.toBe(before);
  });
});
