import { spanMs, type DelayStep } from '../graph.js';

/**
 * When the step after a delay is due. A span counts from the delay step's own due time, not from when it ran: a
 * late run (a busy or restarted worker) then does not push every later step back, so lag never accumulates along
 * the graph (README, "The automation engine"). `until` waits for that time; once it has passed, nothing is waited.
 */
export function delayDueAt(step: DelayStep, dueAt: Date): Date {
  if (step.until !== undefined) {
    const until = new Date(step.until);
    return until > dueAt ? until : dueAt;
  }
  return new Date(dueAt.getTime() + spanMs({ amount: step.amount!, unit: step.unit! }));
}
