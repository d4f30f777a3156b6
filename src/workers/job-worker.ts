import os from 'node:os';
import { randomHex } from '../platform/crypto.js';
import type { Db } from '../platform/db/database.js';
import type { Logger } from '../platform/logger.js';
import { ClaimLoop } from '../platform/queue/claim-loop.js';
import { claimJobs, finishJob, insertJob, type ClaimedJob, type JobSpec } from '../platform/queue/jobs-store.js';
import type { QueueSignal } from '../platform/queue/signal.js';

export const JOBS_TOPIC = 'jobs';

export interface JobContext {
  jobId: string;
  attempt: number;
}

/** Throw to retry with backoff (until max attempts); return `{ retryAt }` to come back later on purpose. */
export type JobHandler = (payload: Record<string, unknown>, ctx: JobContext) => Promise<void | { retryAt: Date }>;

/** Enqueues side work; call with a transaction handle to make it part of that transaction. */
export async function enqueueJob(db: Parameters<typeof insertJob>[0], signal: QueueSignal, spec: JobSpec): Promise<string | null> {
  const id = await insertJob(db, spec);
  if (id) {
    await signal.notifyInTransaction(db, JOBS_TOPIC);
    signal.wakeLocal(JOBS_TOPIC);
  }
  return id;
}

/**
 * Runs side work (webhook calls, DNS re-checks, timers) from the generic jobs table with the same claim,
 * lease and wake-up design as email delivery.
 */
export class JobWorker {
  readonly workerId = `${os.hostname()}:${process.pid}:jobs:${randomHex(4)}`;
  private stopped = false;
  private poller: NodeJS.Timeout | null = null;
  private stopWake: (() => void) | null = null;
  private readonly loop: ClaimLoop<ClaimedJob>;

  constructor(
    private readonly opts: {
      db: Db;
      signal: QueueSignal;
      log: Logger;
      handlers: Record<string, JobHandler>;
      concurrency?: number;
      leaseMs?: number;
      retryBaseMs?: number;
      pollMs?: number;
    },
  ) {
    const queues = Object.keys(opts.handlers);
    this.loop = new ClaimLoop({
      concurrency: opts.concurrency ?? 8,
      claim: (limit) => claimJobs(opts.db, { workerId: this.workerId, queues, limit, leaseMs: opts.leaseMs ?? 60_000 }),
      process: (job) => this.execute(job),
      stopped: () => this.stopped,
    });
  }

  start(): void {
    this.stopWake = this.opts.signal.onWake((topic) => {
      if (topic === JOBS_TOPIC) this.pump();
    });
    this.poller = setInterval(() => this.pump(), this.opts.pollMs ?? 1000);
    this.pump();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.stopWake?.();
    if (this.poller) clearInterval(this.poller);
    await this.loop.drain();
  }

  pump(): void {
    if (!this.stopped && Object.keys(this.opts.handlers).length > 0) this.loop.pump();
  }

  private async execute(job: ClaimedJob): Promise<void> {
    const handler = this.opts.handlers[job.queue]!;
    let result: Parameters<typeof finishJob>[3];
    try {
      const outcome = await handler(job.payload, { jobId: job.id, attempt: job.attempts });
      result = outcome?.retryAt ? { kind: 'reschedule', at: outcome.retryAt } : { kind: 'done' };
    } catch (err) {
      const error = (err as Error).message ?? String(err);
      if (job.attempts >= job.max_attempts) result = { kind: 'failed', error };
      else {
        const ceiling = (this.opts.retryBaseMs ?? 1000) * 2 ** (job.attempts - 1);
        result = { kind: 'retry', at: new Date(Date.now() + ceiling / 2 + (Math.random() * ceiling) / 2), error };
      }
      this.opts.log.warn({ jobId: job.id, queue: job.queue, attempt: job.attempts, error }, 'job failed');
    }
    try {
      await finishJob(this.opts.db, job, this.workerId, result);
    } catch (err) {
      this.opts.log.error({ err, jobId: job.id }, 'could not record job result; its lease will bring it back');
    }
  }
}
