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
 * Fixed windows (one second unless told) per subject (key id or client address), counted in this process.
 * Several API processes each allow the full rate; the operator sizes the limit with that in mind (see README).
 */
export class RateLimiter {
  private readonly windows = new Map<string, { start: number; count: number }>();

  constructor(private readonly windowMs = 1000) {}

  /** `limit` is per window (per second by default); null means no limit. */
  check(subject: string, limit: number | null, now = Date.now()): RateDecision {
    const start = now - (now % this.windowMs);
    let w = this.windows.get(subject);
    if (!w || w.start !== start) {
      if (this.windows.size > 50_000) this.sweep(start);
      w = { start, count: 0 };
      this.windows.set(subject, w);
    }
    w.count++;
    const reported = limit ?? UNLIMITED_REPORTED;
    const allowed = limit === null || w.count <= limit;
    const end = start + this.windowMs;
    return { allowed, limit: reported, remaining: Math.max(0, reported - w.count), reset: Math.ceil(end / 1000), retryAfterSeconds: Math.max(1, Math.ceil((end - now) / 1000)) };
  }

  private sweep(current: number): void {
    for (const [k, w] of this.windows) if (w.start !== current) this.windows.delete(k);
  }
}
