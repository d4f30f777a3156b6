import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPostgresDatabase, POSTGRES_ADMIN_URL, type TestPostgres } from '../../../test/support/databases.js';
import { startTcpProxy, type TcpProxy } from '../../../test/support/tcp-proxy.js';
import { openPostgres, type Database } from '../db/database.js';
import { migrate } from '../db/migrate.js';
import { insertJob, claimJobs, renewJobLeases } from './jobs-store.js';
import { LeaseKeeper } from './lease-keeper.js';

describe('LeaseKeeper while the database is away', () => {
  let pg: TestPostgres;
  let proxy: TcpProxy;
  let database: Database;

  beforeAll(async () => {
    pg = await createPostgresDatabase();
    const target = new URL(POSTGRES_ADMIN_URL);
    proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
    database = await openPostgres(proxy.via(pg.url), { limits: { connectTimeoutMs: 500, statementTimeoutMs: 1000, idleInTransactionTimeoutMs: 5000, probeIntervalMs: 200 } });
    await migrate(database.db);
  });
  afterAll(async () => {
    proxy?.restore();
    await database?.close();
    await proxy?.close();
    await pg?.drop();
  });

  it('logs a failed renewal once, keeps the process alive, and renews again once the database is back', async () => {
    const lines: { level: number; msg: string }[] = [];
    const log = pino({ level: 'info' }, new Writable({ write: (chunk: Buffer, _enc, done) => (lines.push(JSON.parse(chunk.toString()) as { level: number; msg: string }), done()) }));
    const id = (await insertJob(database.db, { queue: 'test.lease' }))!;
    const [job] = await claimJobs(database.db, { workerId: 'w-keeper', queues: ['test.lease'], limit: 1, leaseMs: 600_000 });
    const keeper = new LeaseKeeper({ leaseMs: 300, renew: (held) => renewJobLeases(database.db, { workerId: 'w-keeper', held, leaseMs: 3_600_000 }), log, what: 'jobs' });
    keeper.hold({ id: job!.id, attempts: job!.attempts });
    proxy.cut('reset');
    keeper.start();
    await new Promise((r) => setTimeout(r, 1000)); // several renewals, all failing
    expect(lines.filter((l) => l.msg === 'could not renew leases; retrying')).toHaveLength(1);

    proxy.restore();
    const deadline = Date.now() + 10_000;
    while (!lines.some((l) => l.msg === 'lease renewal works again') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    keeper.stop();
    expect(lines.some((l) => l.msg === 'lease renewal works again')).toBe(true);
    const row = await database.db.selectFrom('jobs').select('next_attempt_at').where('id', '=', id).executeTakeFirstOrThrow();
    // pushed an hour ahead by the renewal after the outage (the claim set ten minutes)
    expect(row.next_attempt_at!.getTime()).toBeGreaterThan(Date.now() + 3_000_000);
  });
});
