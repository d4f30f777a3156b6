import type { PostgresCursor, PostgresPool, PostgresPoolClient, PostgresQueryResult } from 'kysely';
import type pg from 'pg';
import { DatabaseUnavailableError } from './pg-errors.js';

export interface BoundedPoolOptions {
  /**
   * How long a query may wait for its answer. statement_timeout makes the server cancel slow statements;
   * this bound is for a server that does not answer at all (a network partition), which no server-side
   * setting can cover.
   */
  queryTimeoutMs: number;
  /** A reason to fail at once while the database is known to be unreachable, instead of waiting out a timeout per query; null when it is reachable. */
  unavailable: () => string | null;
}

export interface BoundedPool extends PostgresPool {
  /** Fails every query waiting for an answer now and drops its connection: the database was found unreachable. */
  abortWaiting(reason: string): void;
}

/**
 * A pg pool whose connections never hang: a query without an answer in time fails with
 * DatabaseUnavailableError and its connection is destroyed (pg would keep it, and every later query on it
 * would queue behind the lost one), and while the database is known to be away no connection is handed out.
 */
export function boundedPool(pool: pg.Pool, opts: BoundedPoolOptions): BoundedPool {
  const waiting = new Set<(err: DatabaseUnavailableError) => void>();
  return {
    async connect() {
      const reason = opts.unavailable();
      if (reason) throw new DatabaseUnavailableError(reason);
      return boundedClient(await pool.connect(), opts.queryTimeoutMs, waiting);
    },
    end: () => pool.end(),
    abortWaiting(reason) {
      for (const fail of [...waiting]) fail(new DatabaseUnavailableError(reason));
    },
  };
}

function boundedClient(client: pg.PoolClient, timeoutMs: number, waiting: Set<(err: DatabaseUnavailableError) => void>): PostgresPoolClient {
  let broken: Error | null = null;
  let released = false;
  // pg-pool listens for errors only on idle connections: a connection reset while a query runs would emit
  // 'error' with no listener and crash the process (the query itself fails with the same error)
  const onError = (err: Error) => {
    broken ??= err;
  };
  client.on('error', onError);
  const release = (err?: Error) => {
    if (released) return;
    released = true;
    client.off('error', onError);
    // with an error the pool discards the connection instead of keeping it
    client.release(err);
  };

  function query<R>(sql: string, parameters: ReadonlyArray<unknown>): Promise<PostgresQueryResult<R>>;
  function query<R>(cursor: PostgresCursor<R>): PostgresCursor<R>;
  function query<R>(sqlOrCursor: string | PostgresCursor<R>, parameters?: ReadonlyArray<unknown>): Promise<PostgresQueryResult<R>> | PostgresCursor<R> {
    if (typeof sqlOrCursor !== 'string') return client.query(sqlOrCursor as unknown as pg.Submittable) as unknown as PostgresCursor<R>;
    // after a lost answer the connection's protocol state is unknown: no further query on it (e.g. kysely's ROLLBACK)
    if (broken) return Promise.reject(broken);
    return new Promise<PostgresQueryResult<R>>((resolve, reject) => {
      let settled = false;
      const finish = () => {
        settled = true;
        clearTimeout(timer);
        waiting.delete(fail);
      };
      const fail = (err: DatabaseUnavailableError) => {
        if (settled) return;
        finish();
        broken = err;
        reject(err);
        release(err);
      };
      const timer = setTimeout(() => fail(new DatabaseUnavailableError(`The database did not answer within ${timeoutMs} ms`)), timeoutMs);
      waiting.add(fail);
      client.query(sqlOrCursor, parameters as unknown[]).then(
        (result) => {
          if (settled) return;
          finish();
          resolve(result as unknown as PostgresQueryResult<R>);
        },
        (err: unknown) => {
          if (settled) return;
          finish();
          reject(err instanceof Error ? err : new Error(String(err)));
        },
      );
    });
  }

  return { query, release: () => release(broken ?? undefined) };
}
