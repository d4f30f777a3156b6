import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, openMigratedDatabase } from '../../../test/support/databases.js';
import type { Database } from '../db/database.js';
import { uuidv7 } from '../ids.js';
import { pruneFinishedJobs } from './jobs-store.js';

const DAY = 24 * 3600_000;

describe.each(BACKENDS)('pruning finished jobs (%s)', (backend) => {
  let opened: { database: Database; close(): Promise<void> };
  beforeAll(async () => {
    opened = await openMigratedDatabase(backend);
  });
  afterAll(() => opened?.close());

  it('deletes only jobs done before the cut-off, a bounded batch at a time, and says when some are left', async () => {
    const db = opened.database.db;
    const now = Date.now();
    const job = (queue: string, status: 'pending' | 'running' | 'done' | 'failed', ageDays: number) => ({
      id: uuidv7(),
      queue,
      status,
      payload: '{}',
      next_attempt_at: status === 'pending' ? new Date(now) : null,
      updated_at: new Date(now - ageDays * DAY),
      created_at: new Date(now - ageDays * DAY),
    });
    const oldDone = Array.from({ length: 5 }, () => job('old.done', 'done', 30));
    const kept = [job('recent.done', 'done', 1), job('old.pending', 'pending', 30), job('old.running', 'running', 30), job('old.failed', 'failed', 30)];
    await db.insertInto('jobs').values([...oldDone, ...kept]).execute();

    const before = new Date(now - 7 * DAY);
    expect(await pruneFinishedJobs(db, { before, batch: 2, batches: 2 })).toEqual({ deleted: 4, more: true });
    expect(await pruneFinishedJobs(db, { before, batch: 2, batches: 2 })).toEqual({ deleted: 1, more: false });
    expect(await pruneFinishedJobs(db, { before, batch: 2, batches: 2 })).toEqual({ deleted: 0, more: false });

    const left = await db.selectFrom('jobs').select('queue').orderBy('queue').execute();
    expect(left.map((j) => j.queue)).toEqual(['old.failed', 'old.pending', 'old.running', 'recent.done']);
  });
});
