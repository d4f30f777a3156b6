import { describe, expect, it } from 'vitest';
import { createJobHandlers, RECURRING_JOBS } from './job-handlers.js';
import type { Services } from './services.js';

describe('recurring jobs', () => {
  it('each has a handler, finished jobs are pruned among them', () => {
    // the handlers are only looked up here, never run, so no service is needed
    const handlers = createJobHandlers({} as Services);
    for (const job of RECURRING_JOBS) expect(handlers[job.queue], job.queue).toBeTypeOf('function');
    expect(RECURRING_JOBS.map((j) => j.queue)).toContain('maintenance.prune-finished-jobs');
  });
});
