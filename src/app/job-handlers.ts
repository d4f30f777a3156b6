import type { Services } from './services.js';
import type { JobHandler } from '../workers/job-worker.js';
import { pruneFinishedJobs } from '../platform/queue/jobs-store.js';
import { VERIFY_QUEUE } from '../modules/domains/index.js';
import { IMPORT_QUEUE } from '../modules/contacts/index.js';
import { AUDIENCE_TRIGGER_QUEUE, DATE_AT_QUEUE, DATE_SCAN_QUEUE, ENSURE_DATE_SCANS_QUEUE, ensureDateScans, runAudienceTrigger, runDateScan, runFixedAt } from '../modules/automations/index.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/** Finished jobs are kept a week (README, "Priority tiers and the queue"), then deleted 5,000 at a time. */
const FINISHED_JOBS_KEPT_MS = 7 * 24 * HOUR;
const PRUNE = { batch: 5000, batches: 20 };

/** Recurring jobs: each reschedules itself; the dedupe key keeps one per cluster however many workers start it. */
export const RECURRING_JOBS = [
  { queue: 'maintenance.expire-idempotency-keys', everyMs: HOUR },
  { queue: 'maintenance.expire-abandoned-imports', everyMs: HOUR },
  { queue: ENSURE_DATE_SCANS_QUEUE, everyMs: HOUR },
  { queue: 'maintenance.prune-finished-jobs', everyMs: HOUR },
] as const;

/** Every queue of side work and the function that does it. Later capabilities register theirs here. */
export function createJobHandlers(s: Services): Record<string, JobHandler> {
  return {
    'maintenance.expire-idempotency-keys': async () => {
      await s.database.db.deleteFrom('idempotency_keys').where('created_at', '<', new Date(Date.now() - 24 * HOUR)).execute();
      return { retryAt: new Date(Date.now() + HOUR) };
    },
    // one job per custom domain (dedupe key domain:<id>:verify): backoff while pending, daily once verified
    [VERIFY_QUEUE]: async (payload) => {
      const next = typeof payload.domainId === 'string' ? await s.domains.runScheduledCheck(payload.domainId) : null;
      return next ? { retryAt: next } : undefined;
    },
    // every automation step and side task leaves a finished job; without this the table only grows
    'maintenance.prune-finished-jobs': async () => {
      const { more } = await pruneFinishedJobs(s.database.db, { before: new Date(Date.now() - FINISHED_JOBS_KEPT_MS), ...PRUNE });
      // a backlog (the first run on an old installation) goes on in a minute rather than in one long run
      return { retryAt: new Date(Date.now() + (more ? MINUTE : HOUR)) };
    },
    // uploads cut off by a crash of the process receiving them: their stored pieces go
    'maintenance.expire-abandoned-imports': async () => {
      await s.contactImports.expireAbandoned();
      return { retryAt: new Date(Date.now() + HOUR) };
    },
    // one job per CSV import; a retried or resumed job goes on from the import's last written batch
    [IMPORT_QUEUE]: async (payload, ctx) => {
      if (typeof payload.importId === 'string') await s.contactImports.runJob(payload.importId, ctx.attempt);
    },
    // automation triggers that start enrollments by themselves (README, "Automation triggers"): one job per
    // statement of new audience members (migration 013), one per fixed-time automation, one recurring scan per
    // date-field automation
    [AUDIENCE_TRIGGER_QUEUE]: async (payload) => {
      await runAudienceTrigger(s.database.db, s.signal, payload);
    },
    [DATE_AT_QUEUE]: async (payload) => {
      const { retryAt } = await runFixedAt(s.database.db, s.signal, payload);
      return retryAt ? { retryAt } : undefined;
    },
    [ENSURE_DATE_SCANS_QUEUE]: async () => {
      await ensureDateScans(s.database.db, s.signal);
      return { retryAt: new Date(Date.now() + HOUR) };
    },
    [DATE_SCAN_QUEUE]: async (payload, ctx) => {
      const { retryAt } = await runDateScan(s.database.db, s.signal, payload, ctx.jobId);
      return retryAt ? { retryAt } : undefined;
    },
  };
}
