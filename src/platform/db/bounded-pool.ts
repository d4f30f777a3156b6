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

/**
 * A pg pool whose connections never hang: a query without an answer in time fails with
 * DatabaseUnavailableError and its connection is destroyed (pg would keep it, and every later query on it
 * would queue behind the lost one), and while the database is known to be away no connection is handed out.
 */
export function boundedPool(pool: pg.Pool, opts: BoundedPoolOptions): PostgresPool {
  return {
    async connect() {
      const reason = opts.unavailable();
      if (reason) throw new DatabaseUnavailableError(reason);
      return boundedClient(await pool.connect(), opts.queryTimeoutMs);
    },
    end: () => pool.end(),
  };
}

function boundedClient(client: pg.PoolClient, timeoutMs: number): PostgresPoolClient {
  let broken: DatabaseUnavailableError | null = null;
  let released = false;
  const release = (err?: Error) => {
    if (released) return;
    released = true;
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
      const timer = setTimeout(() => {
        settled = true;
        broken = new DatabaseUnavailableError(`The database did not answer within ${timeoutMs} ms`);
        reject(broken);
        release(broken);
      }, timeoutMs);
      client.query(sqlOrCursor, parameters as unknown[]).then(
        (result) => {
          clearTimeout(timer);
          if (!settled) resolve(result as unknown as PostgresQueryResult<R>);
        },
        (err: unknown) => {
          clearTimeout(timer);
          if (!settled) reject(err instanceof Error ? err : new Error(String(err)));
        },
      );
    });
  }

  return { query, release: () => release(broken ?? undefined) };
}
