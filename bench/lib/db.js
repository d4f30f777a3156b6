// Bench databases on the local PostgreSQL: created fresh for each phase, dropped at the end.
import { randomBytes } from 'node:crypto';
import process from 'node:process';
import pg from 'pg';
import { CLI, runCli, serverEnv, sleep } from './processes.js';
import { round } from './stats.js';

/** Maintenance connection; override with BENCH_PG_URL (it must be a local server: the bench sends traffic only to 127.0.0.1). */
export const ADMIN_URL = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

const PREFIX = `keplars_bench_${randomBytes(4).toString('hex')}`;
const created = new Set();

async function withAdmin(fn) {
  const client = new pg.Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export function urlFor(database) {
  const url = new URL(ADMIN_URL);
  url.pathname = `/${database}`;
  return url.toString();
}

export async function createDatabase(suffix) {
  const name = `${PREFIX}_${suffix}`;
  await withAdmin((c) => c.query(`CREATE DATABASE "${name}"`));
  created.add(name);
  return { name, url: urlFor(name) };
}

export async function dropAll() {
  const failures = [];
  if (created.size === 0) return failures;
  await withAdmin(async (c) => {
    for (const name of [...created]) {
      try {
        await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
        created.delete(name);
      } catch (err) {
        failures.push(`${name}: ${err.message}`);
      }
    }
  });
  return failures;
}

/** Activity counters of one database (PostgreSQL updates them when a backend goes idle or exits). */
export async function dbActivity(name) {
  return withAdmin(async (c) => {
    const { rows } = await c.query(
      'SELECT xact_commit::bigint AS commits, xact_rollback::bigint AS rollbacks, tup_inserted::bigint AS inserted, tup_updated::bigint AS updated, tup_returned::bigint AS returned FROM pg_stat_database WHERE datname = $1',
      [name],
    );
    return Object.fromEntries(Object.entries(rows[0] ?? {}).map(([k, v]) => [k, Number(v)]));
  });
}

export function activityDelta(before, after) {
  return Object.fromEntries(Object.keys(after).map((k) => [k, after[k] - (before[k] ?? 0)]));
}

/**
 * What the processes measured since `before` asked of PostgreSQL, with commits per message; null without a
 * `before`. Call it after they exited: their backends report their counters then.
 */
export async function activitySince(name, before, messages) {
  if (!before) return null;
  await sleep(500);
  const delta = activityDelta(before, await dbActivity(name));
  return { ...delta, commitsPerMessage: round(delta.commits / messages, 2) };
}

/** Messages by status after a run, for the report; a failed read is reported rather than thrown. */
export async function messageStatuses(databaseUrl) {
  try {
    return await query(databaseUrl, 'SELECT status, count(*)::int AS n FROM messages GROUP BY status ORDER BY status');
  } catch (err) {
    return `could not read: ${err.message}`;
  }
}

/** A look at a bench database (sanity figures in the report), or set-up written straight into it. */
export async function query(databaseUrl, text) {
  const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    return (await client.query(text)).rows;
  } finally {
    await client.end();
  }
}

/**
 * Creates a database, applies migrations, and creates an ENTERPRISE workspace (unlimited plan) with a
 * regular API key, all through the server's own CLI.
 */
export async function provision(suffix) {
  const db = await createDatabase(suffix);
  const env = serverEnv({ DATABASE_URL: db.url });
  await runCli(['migrate'], env);
  const ws = JSON.parse(await runCli(['workspace', 'create', '--name', `bench-${suffix}`, '--plan', 'ENTERPRISE', '--json'], env));
  const workspaceId = ws.workspace.id;
  const key = JSON.parse(await runCli(['api-key', 'create', '--workspace', workspaceId, '--json'], env));
  if (typeof key.secret_key !== 'string') throw new Error(`api-key create printed no secret_key (${CLI})`);
  return { ...db, workspaceId, secretKey: key.secret_key };
}
