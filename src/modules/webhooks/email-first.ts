/**
 * How much webhook work a worker process does while it delivers email (README, "Webhooks"): email goes first.
 *
 * - `full`: no email in flight for a moment (IDLE_AFTER_MS): webhooks use all their slots.
 * - `defer`: email has been going out for less than WEBHOOK_MAX_DEFER_MS: webhooks wait. Their events are safe in
 *   the outbox and in pending deliveries, and a burst of email (the usual shape of sending) finishes first.
 * - `share`: email has been going out for longer: webhooks must not wait without end, so they run with a small
 *   share of their slots (the dispatcher's YIELDING_SHARE) and a fan-out batch a second.
 *
 * "Busy" flickers between the delivery worker's claims, so the process counts as idle only after IDLE_AFTER_MS
 * without email in flight; the sampler sees it at least that often.
 */
export type WebhookPace = 'full' | 'defer' | 'share';

export const IDLE_AFTER_MS = 250;

export class EmailFirstGate {
  private busySince: number | null = null;
  private lastBusyAt = -Infinity;

  constructor(
    private readonly deliveringEmail: () => boolean,
    private readonly maxDeferMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Looks at the delivery worker; call often (the dispatcher does every IDLE_AFTER_MS / 2). Returns the pace. */
  sample(): WebhookPace {
    const now = this.now();
    if (this.deliveringEmail()) {
      this.lastBusyAt = now;
      this.busySince ??= now;
    } else if (now - this.lastBusyAt >= IDLE_AFTER_MS) {
      this.busySince = null;
    }
    if (this.busySince === null) return 'full';
    return now - this.busySince < this.maxDeferMs ? 'defer' : 'share';
  }
}
