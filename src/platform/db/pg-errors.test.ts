import net from 'node:net';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { POSTGRES_ADMIN_URL } from '../../../test/support/databases.js';
import { DatabaseUnavailableError, isDatabaseUnavailable } from './pg-errors.js';
import { OuterHandleInTransactionError } from './database.js';

/** The error a real pg client gives for this, or null if it succeeded. */
async function errorOf(fn: (client: pg.Client) => Promise<unknown>, url = POSTGRES_ADMIN_URL, connectionTimeoutMillis = 2000): Promise<unknown> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await fn(client);
    return null;
  } catch (err) {
    return err;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** A port on 127.0.0.1 with nothing listening. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

describe('isDatabaseUnavailable', () => {
  it('recognises a refused connection, a connect timeout and a cancelled statement', async () => {
    const refused = await errorOf(async () => undefined, `postgres://postgres@127.0.0.1:${await closedPort()}/postgres`);
    expect(isDatabaseUnavailable(refused)).toBe(true);

    // a server that accepts and never answers
    const silent = net.createServer(() => undefined);
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
    const timedOut = await errorOf(async () => undefined, `postgres://postgres@127.0.0.1:${(silent.address() as net.AddressInfo).port}/postgres`, 200);
    silent.close();
    expect(timedOut).toBeInstanceOf(Error);
    expect(isDatabaseUnavailable(timedOut)).toBe(true);

    const cancelled = await errorOf(async (c) => {
      await c.query('SET statement_timeout = 50');
      await c.query('SELECT pg_sleep(2)');
    });
    expect((cancelled as { code?: string }).code).toBe('57014');
    expect(isDatabaseUnavailable(cancelled)).toBe(true);
  });

  it('leaves real query failures and bugs to be 500s', async () => {
    const syntax = await errorOf((c) => c.query('SELEC 1'));
    const violation = await errorOf(async (c) => {
      await c.query('CREATE TEMP TABLE t (id int PRIMARY KEY)');
      await c.query('INSERT INTO t VALUES (1), (1)');
    });
    for (const err of [syntax, violation, new OuterHandleInTransactionError(), new TypeError('x is undefined'), 'a string', null]) expect(isDatabaseUnavailable(err)).toBe(false);
  });

  it('looks through wrapping errors', () => {
    expect(isDatabaseUnavailable(new Error('query failed', { cause: new DatabaseUnavailableError('no answer') }))).toBe(true);
    expect(isDatabaseUnavailable(new AggregateError([Object.assign(new Error('connect ECONNREFUSED ::1:5432'), { code: 'ECONNREFUSED' })]))).toBe(true);
  });
});
