import os from 'node:os';
import { sql } from 'kysely';
import { randomHex } from '../platform/crypto.js';
import type { Db } from '../platform/db/database.js';
import type { Logger } from '../platform/logger.js';
import type { BackgroundPacer } from '../platform/queue/background-pacer.js';
import { ClaimLoop } from '../platform/queue/claim-loop.js';
import { claimJobs, JOBS_TOPIC, renewJobLeases, type ClaimedJob } from '../platform/queue/jobs-store.js';
import { LeaseKeeper } from '../platform/queue/lease-keeper.js';
import { ANY_TOPIC, type QueueSignal } from '../platform/queue/signal.js';
import { settleWithin } from '../platform/settle-within.js';
import { AUTOMATION_STEP_QUEUE, type StepRunner } from '../modules/automations/index.js';

/**
 * Runs automation steps (README, "The automation engine"): claims due `automation.step` jobs in batches and hands
 * each batch to the step runner, which runs it in one transaction. A loop of its own beside the jobs worker,
 * which runs one job per call: thousands of enrollments due at once cost a few transactions, not thousands.
 * Between batches it sleeps until the earliest waiting step is due (one indexed look per wake-up, whatever the
 * number of enrollments), so a step runs close to its due time without polling each contact.
 */
export class AutomationWorker {
  readonly workerId = `${os.hostname()}:${process.pid}:automations:${randomHex(4)}`;
  private stopped = false;
  private poller: NodeJS.Timeout | null = null;
  private dueTimer: NodeJS.Timeout | null = null;
  private stopWake: (() => void) | null = null;
  private readonly loop: ClaimLoop<ClaimedJob[]>;
  private readonly leases: LeaseKeeper;

  constructor(
    private readonly opts: {
      db: Db;
      signal: QueueSignal;
      log: Logger;
      runner: StepRunner;
      /** step batches are background work: they give way to instant mail */
      pacer?: BackgroundPacer;
      /** batches in flight at once: each holds one connection for its transaction */
      concurrency: number;
      /** most step jobs per batch (one transaction) */
      batchSize?: number;
      leaseMs?: number;
      pollMs?: number;
    },
  ) {
    const leaseMs = opts.leaseMs ?? 60_000;
    const batchSize = opts.batchSize ?? 200;
    this.leases = new LeaseKeeper({ leaseMs, renew: (held) => renewJobLeases(opts.db, { workerId: this.workerId, held, leaseMs }), log: opts.log, what: 'automation steps' });
    this.loop = new ClaimLoop<ClaimedJob[]>({
      concurrency: opts.concurrency,
      maxBatch: 1,
      claim: async () => {
        const jobs = await claimJobs(opts.db, { workerId: this.workerId, queues: [AUTOMATION_STEP_QUEUE], limit: batchSize, leaseMs });
        for (const job of jobs) this.leases.hold({ id: job.id, attempts: job.attempts });
        if (jobs.length < batchSize) void this.armForNextDue();
        return jobs.length > 0 ? [jobs] : [];
      },
      process: (batch) => this.execute(batch),
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

  /** Stops claiming and waits for the batches in flight, no later than `deadline`; unfinished ones come back when their leases lapse. */
  async stop(opts: { deadline?: number } = {}): Promise<void> {
    this.stopped = true;
    this.stopWake?.();
    if (this.poller) clearInterval(this.poller);
    if (this.dueTimer) clearTimeout(this.dueTimer);
    await settleWithin(this.loop.drain(), (opts.deadline ?? Infinity) - Date.now());
    this.leases.stop();
  }

  pump(): void {
    if (!this.stopped) this.loop.pump();
  }

  private async execute(batch: ClaimedJob[]): Promise<void> {
    try {
      const run = () => this.opts.runner.runBatch(this.workerId, batch);
      await (this.opts.pacer ? this.opts.pacer.run(run) : run());
    } catch (err) {
      // the database went away mid-batch: nothing was recorded, so the leases bring the jobs back
      this.opts.log.error({ err, jobs: batch.length }, 'could not run a batch of automation steps; their leases will bring them back');
    } finally {
      for (const job of batch) this.leases.release({ id: job.id, attempts: job.attempts });
    }
  }

  /** Wakes the loop when the earliest waiting step job is due (within the poll interval: the poller covers the rest). */
  private async armForNextDue(): Promise<void> {
    try {
      const res = await sql<{ due: Date | null }>`
        SELECT min(next_attempt_at) AS due FROM jobs WHERE queue = ${AUTOMATION_STEP_QUEUE} AND next_attempt_at IS NOT NULL`.execute(this.opts.db);
      const due = res.rows[0]?.due;
      if (!due || this.stopped) return;
      const wait = new Date(due).getTime() - Date.now();
      if (wait >= (this.opts.pollMs ?? 1000)) return;
      if (this.dueTimer) clearTimeout(this.dueTimer);
      this.dueTimer = setTimeout(() => this.pump(), Math.max(5, wait + 5));
      this.dueTimer.unref();
    } catch {
      // the poller looks again
    }
  }
}
