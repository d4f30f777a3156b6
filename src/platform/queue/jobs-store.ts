import { sql } from 'kysely';
import type { Db, Tx } from '../db/database.js';
import { uuidv7 } from '../ids.js';
import type { QueueSignal } from './signal.js';

/** The wake-up topic of the jobs worker (workers/job-worker.ts). */
export const JOBS_TOPIC = 'jobs';

export interface JobSpec {
  queue: string;
  payload?: Record<string, unknown>;
  runAt?: Date;
  /** while a job with this key is pending or running, enqueuing another is a no-op */
  dedupeKey?: string;
  maxAttempts?: number;
}

export interface ClaimedJob {
  id: string;
  queue: string;
  payload: Record<string, unknown>;
  attempts: number;
  max_attempts: number;
}

/** Returns the new job's id, or null when a job with the same dedupe key is still to be done. */
export async function insertJob(db: Db | Tx, spec: JobSpec): Promise<string | null> {
  const id = uuidv7();
  const res = await sql<{ id: string }>`
    INSERT INTO jobs (id, queue, dedupe_key, payload, status, max_attempts, next_attempt_at)
    VALUES (${id}, ${spec.queue}, ${spec.dedupeKey ?? null}, ${JSON.stringify(spec.payload ?? {})}::jsonb, 'pending',
            ${spec.maxAttempts ?? 5}, ${spec.runAt ?? new Date()})
    ON CONFLICT (dedupe_key) WHERE dedupe_key IS NOT NULL AND status IN ('pending', 'running') DO NOTHING
    RETURNING id`.execute(db);
  return res.rows[0]?.id ?? null;
}

/**
 * Enqueues side work and wakes the jobs workers; call with a transaction handle to make it part of that
 * transaction. Here rather than beside the worker so that modules can enqueue without importing workers/.
 */
export async function enqueueJob(db: Db | Tx, signal: QueueSignal, spec: JobSpec): Promise<string | null> {
  const id = await insertJob(db, spec);
  if (id) {
    await signal.notifyInTransaction(db, JOBS_TOPIC);
    signal.wakeLocal(JOBS_TOPIC);
  }
  return id;
}

/** Same claim as messages: due rows, SKIP LOCKED, and a lease that brings the job back if its worker dies. */
export async function claimJobs(db: Db, opts: { workerId: string; queues: string[]; limit: number; leaseMs: number }): Promise<ClaimedJob[]> {
  const res = await sql<ClaimedJob>`
    UPDATE jobs j
       SET status = 'running', attempts = j.attempts + 1, locked_by = ${opts.workerId},
           next_attempt_at = now() + make_interval(secs => ${opts.leaseMs / 1000}), updated_at = now()
      FROM (SELECT id FROM jobs
             WHERE next_attempt_at <= now() AND queue = ANY(${opts.queues}::text[])
             ORDER BY next_attempt_at
             LIMIT ${opts.limit}
             FOR UPDATE SKIP LOCKED) due
     WHERE j.id = due.id
 RETURNING j.id, j.queue, j.payload, j.attempts, j.max_attempts`.execute(db);
  return res.rows;
}

/** Pushes the leases of a worker's running jobs forward in one statement, fenced by (locked_by, attempts). */
export async function renewJobLeases(db: Db, opts: { workerId: string; held: { id: string; attempts: number }[]; leaseMs: number }): Promise<void> {
  if (opts.held.length === 0) return;
  await sql`
    UPDATE jobs j
       SET next_attempt_at = now() + make_interval(secs => ${opts.leaseMs / 1000})
      FROM unnest(${opts.held.map((h) => h.id)}::uuid[], ${opts.held.map((h) => h.attempts)}::int[]) AS h(id, attempts)
     WHERE j.id = h.id AND j.attempts = h.attempts AND j.locked_by = ${opts.workerId} AND j.status = 'running'`.execute(db);
}

/** reschedule: the handler asked to run again later (recurring work), so its attempt count starts afresh */
export type JobResult = { kind: 'done' } | { kind: 'retry'; at: Date; error: string } | { kind: 'reschedule'; at: Date } | { kind: 'failed'; error: string };

/** Fenced by (locked_by, attempts) like message attempts. */
export async function finishJob(db: Db, job: ClaimedJob, workerId: string, result: JobResult): Promise<void> {
  const status = result.kind === 'done' ? 'done' : result.kind === 'failed' ? 'failed' : 'pending';
  const next = result.kind === 'retry' || result.kind === 'reschedule' ? result.at : null;
  const error = result.kind === 'retry' || result.kind === 'failed' ? result.error : null;
  await db
    .updateTable('jobs')
    .set({
      status,
      next_attempt_at: next,
      locked_by: null,
      last_error: error,
      updated_at: new Date(),
      ...(result.kind === 'reschedule' ? { attempts: 0 } : {}),
    })
    .where('id', '=', job.id)
    .where('locked_by', '=', workerId)
    .where('attempts', '=', job.attempts)
    .execute();
}

/** Makes a waiting job with this dedupe key run no later than `at` (e.g. a re-check someone asked for now). */
export async function runPendingJobBy(db: Db, dedupeKey: string, at: Date): Promise<void> {
  await db
    .updateTable('jobs')
    .set({ next_attempt_at: at, updated_at: new Date() })
    .where('dedupe_key', '=', dedupeKey)
    .where('status', '=', 'pending')
    .where('next_attempt_at', '>', at)
    .execute();
}

/**
 * Deletes jobs that finished (`done`) before `before`, `batch` at a time and at most `batches` batches, each its
 * own statement so none holds many row locks for long; `more` says some may be left. Waiting, running and failed
 * jobs stay: the first two are work, and a failed one is what an operator looks at. No index serves this on
 * purpose (one on every finished job would cost each automation step another write): the oldest finished jobs
 * lie near the start of the table, so a bounded batch finds them early in its scan.
 */
export async function pruneFinishedJobs(db: Db, opts: { before: Date; batch: number; batches: number }): Promise<{ deleted: number; more: boolean }> {
  let deleted = 0;
  for (let i = 0; i < opts.batches; i++) {
    const res = await sql`
      DELETE FROM jobs WHERE id IN (
        SELECT id FROM jobs WHERE status = 'done' AND updated_at < ${opts.before} LIMIT ${opts.batch}
      )`.execute(db);
    const n = Number(res.numAffectedRows ?? 0);
    deleted += n;
    if (n < opts.batch) return { deleted, more: false };
  }
  return { deleted, more: true };
}
