import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openMigratedDatabase } from '../../test/support/databases.js';
import { openEmbedded, type Database } from '../platform/db/database.js';
import { migrate } from '../platform/db/migrate.js';
import { createLogger } from '../platform/logger.js';
import { claimJobs } from '../platform/queue/jobs-store.js';
import { QueueSignal } from '../platform/queue/signal.js';
import { enqueueJob } from '../platform/queue/jobs-store.js';
import { JobWorker, type JobHandler } from './job-worker.js';

const log = createLogger('silent');

async function until(check: () => Promise<boolean> | boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe.each(['pglite', 'postgres'] as const)('generic jobs on %s', (backend) => {
  let database: Database;
  let closeDatabase: (() => Promise<void>) | undefined;
  let signal: QueueSignal;

  beforeAll(async () => {
    ({ database, close: closeDatabase } = await openMigratedDatabase(backend));
    signal = new QueueSignal(database);
    await signal.start();
  });
  afterAll(async () => {
    await signal?.stop();
    await closeDatabase?.();
  });

  const status = async (id: string) => (await database.db.selectFrom('jobs').select(['status', 'attempts', 'last_error']).where('id', '=', id).executeTakeFirstOrThrow());

  function worker(handlers: Record<string, JobHandler>) {
    const w = new JobWorker({ db: database.db, signal, log, handlers, retryBaseMs: 20, pollMs: 100 });
    w.start();
    return w;
  }

  it('runs a job at once when enqueued, with its payload', async () => {
    const seen: unknown[] = [];
    const w = worker({ 'test.echo': async (payload) => void seen.push(payload) });
    const id = (await enqueueJob(database.db, signal, { queue: 'test.echo', payload: { n: 1 } }))!;
    await until(async () => (await status(id)).status === 'done');
    await w.stop();
    expect(seen).toEqual([{ n: 1 }]);
  });

  it('retries a failing job with backoff, then marks it failed after max attempts', async () => {
    let calls = 0;
    const w = worker({
      'test.flaky': async () => {
        calls++;
        throw new Error(`boom ${calls}`);
      },
    });
    const id = (await enqueueJob(database.db, signal, { queue: 'test.flaky', maxAttempts: 3 }))!;
    await until(async () => (await status(id)).status === 'failed');
    await w.stop();
    expect(await status(id)).toEqual({ status: 'failed', attempts: 3, last_error: 'boom 3' });
    expect(calls).toBe(3);
  });

  it('does not run a job before its time', async () => {
    let ran = false;
    const w = worker({ 'test.later': async () => void (ran = true) });
    const id = (await enqueueJob(database.db, signal, { queue: 'test.later', runAt: new Date(Date.now() + 60_000) }))!;
    await new Promise((r) => setTimeout(r, 300));
    await w.stop();
    expect(ran).toBe(false);
    expect((await status(id)).status).toBe('pending');
  });

  it('collapses duplicates by dedupe key while the first is still to be done', async () => {
    const first = await enqueueJob(database.db, signal, { queue: 'test.unhandled', dedupeKey: 'domain:1:recheck', runAt: new Date(Date.now() + 60_000) });
    const second = await enqueueJob(database.db, signal, { queue: 'test.unhandled', dedupeKey: 'domain:1:recheck' });
    expect(first).not.toBeNull();
    expect(second).toBeNull();
  });

  it('keeps the lease of a job that runs longer than it: the job runs once', async () => {
    let runs = 0;
    const w = new JobWorker({
      db: database.db,
      signal,
      log,
      // renewed every 100 ms; without renewal this worker itself would claim the job again while it runs
      leaseMs: 300,
      pollMs: 50,
      handlers: {
        'test.slow': async () => {
          runs++;
          await new Promise((r) => setTimeout(r, 1200));
        },
      },
    });
    w.start();
    const id = (await enqueueJob(database.db, signal, { queue: 'test.slow' }))!;
    await until(async () => (await status(id)).status === 'done');
    await w.stop();
    expect(runs).toBe(1);
    expect((await status(id)).attempts).toBe(1);
  });

  it('gives a job whose worker died back to another worker once the lease expires', async () => {
    const id = (await enqueueJob(database.db, signal, { queue: 'test.orphan' }))!;
    const [claimed] = await claimJobs(database.db, { workerId: 'dead-worker', queues: ['test.orphan'], limit: 1, leaseMs: 300 });
    expect(claimed?.id).toBe(id);
    const w = worker({ 'test.orphan': async () => undefined });
    await until(async () => (await status(id)).status === 'done');
    await w.stop();
    expect((await status(id)).attempts).toBe(2);
  });
});

describe('recurring jobs', () => {
  it('a handler that returns retryAt is rescheduled with a fresh attempt count', async () => {
    const database = await openEmbedded(undefined);
    await migrate(database.db);
    const signal = new QueueSignal(database);
    let runs = 0;
    const w = new JobWorker({
      db: database.db,
      signal,
      log,
      pollMs: 50,
      handlers: { 'test.recurring': async () => (++runs < 3 ? { retryAt: new Date() } : undefined) },
    });
    w.start();
    const id = (await enqueueJob(database.db, signal, { queue: 'test.recurring', dedupeKey: 'test.recurring', maxAttempts: 1 }))!;
    await until(async () => (await database.db.selectFrom('jobs').select('status').where('id', '=', id).executeTakeFirstOrThrow()).status === 'done');
    await w.stop();
    expect(runs).toBe(3);
    await database.close();
  });
});
