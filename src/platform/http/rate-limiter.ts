/** Reported as the limit when a plan sets none: large enough never to bind, still an integer clients can parse. */
export const UNLIMITED_REPORTED = 1_000_000;

export interface RateDecision {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Unix epoch seconds when the window resets */
  reset: number;
  retryAfterSeconds: number;
}

/**
 * Fixed one-second windows per subject (key id or client address), counted in this process. Several API
 * processes each allow the full rate; the operator sizes the limit with that in mind (see README).
 */
export class RateLimiter {
  private readonly windows = new Map<string, { start: number; count: number }>();

  check(subject: string, limitPerSecond: number | null, now = Date.now()): RateDecision {
    const start = now - (now % 1000);
    let w = this.windows.get(subject);
    if (!w || w.start !== start) {
      if (this.windows.size > 50_000) this.sweep(start);
      w = { start, count: 0 };
      this.windows.set(subject, w);
    }
    w.count++;
    const limit = limitPerSecond ?? UNLIMITED_REPORTED;
    const allowed = limitPerSecond === null || w.count <= limitPerSecond;
    return { allowed, limit, remaining: Math.max(0, limit - w.count), reset: Math.ceil((start + 1000) / 1000), retryAfterSeconds: 1 };
  }

  private sweep(current: number): void {
    for (const [k, w] of this.windows) if (w.start !== current) this.windows.delete(k);
  }
}
