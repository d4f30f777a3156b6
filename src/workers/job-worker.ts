import os from 'node:os';
import { randomHex } from '../platform/crypto.js';
import type { Db } from '../platform/db/database.js';
import type { Logger } from '../platform/logger.js';
import { ClaimLoop } from '../platform/queue/claim-loop.js';
import { claimJobs, finishJob, JOBS_TOPIC, renewJobLeases, type ClaimedJob } from '../platform/queue/jobs-store.js';
import { LeaseKeeper } from '../platform/queue/lease-keeper.js';
import { ANY_TOPIC, type QueueSignal } from '../platform/queue/signal.js';
import { settleWithin } from '../platform/settle-within.js';

export interface JobContext {
  jobId: string;
  attempt: number;
}

/** Throw to retry with backoff (until max attempts); return `{ retryAt }` to come back later on purpose. */
export type JobHandler = (payload: Record<string, unknown>, ctx: JobContext) => Promise<void | { retryAt: Date }>;

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
  /** a long handler (a DNS check against slow servers) keeps its job's lease while it runs */
  private readonly leases: LeaseKeeper;

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
    const leaseMs = opts.leaseMs ?? 60_000;
    this.leases = new LeaseKeeper({ leaseMs, renew: (held) => renewJobLeases(opts.db, { workerId: this.workerId, held, leaseMs }), log: opts.log, what: 'jobs' });
    this.loop = new ClaimLoop({
      concurrency: opts.concurrency ?? 8,
      claim: async (limit) => {
        const jobs = await claimJobs(opts.db, { workerId: this.workerId, queues, limit, leaseMs });
        for (const job of jobs) this.leases.hold({ id: job.id, attempts: job.attempts });
        return jobs;
      },
      process: (job) => this.execute(job),
      stopped: () => this.stopped,
    });
  }

  start(): void {
    this.leases.start();
    this.stopWake = this.opts.signal.onWake((topic) => {
      if (topic === JOBS_TOPIC || topic === ANY_TOPIC) this.pump();
    });
    this.poller = setInterval(() => this.pump(), this.opts.pollMs ?? 1000);
    this.pump();
  }

  /** Stops claiming and waits for running jobs, no later than `deadline` (epoch ms); unfinished ones come back when their leases lapse. */
  async stop(opts: { deadline?: number } = {}): Promise<void> {
    this.stopped = true;
    this.stopWake?.();
    if (this.poller) clearInterval(this.poller);
    await settleWithin(this.loop.drain(), (opts.deadline ?? Infinity) - Date.now());
    this.leases.stop();
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
    } finally {
      this.leases.release({ id: job.id, attempts: job.attempts });
    }
  }
}
