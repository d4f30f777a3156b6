import type { DomainStatus } from '../../platform/db/schema.js';
import type { RecordCheck } from './verification.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/** Like SES: a domain not verified within 72 hours of being added (or re-checked by hand) is marked failed. */
export const VERIFICATION_WINDOW_MS = 72 * HOUR;
/** Verified domains are re-checked daily, so records that disappear are noticed. */
export const RECHECK_VERIFIED_MS = 24 * HOUR;
const FIRST_CHECK_MS = MINUTE;
const MAX_BACKOFF_MS = HOUR;

/**
 * The status a check leads to. A DNS failure (timeout, SERVFAIL) never un-verifies a domain and never fails a
 * pending one; records that are really gone from a verified domain mark it failed at once.
 */
export function decideStatus(previous: DomainStatus, checks: RecordCheck[], windowExpired: boolean): DomainStatus {
  if (checks.length > 0 && checks.every((c) => c.status === 'verified')) return 'verified';
  const definite = checks.some((c) => c.status === 'failed');
  if (previous === 'verified') return definite ? 'failed' : 'verified';
  if (previous === 'failed' || windowExpired) return 'failed';
  return definite ? 'pending' : 'temporary_failure';
}

/**
 * When to check again: soon after a change, then less and less often (a quarter of the time since the
 * window opened, from one minute up to one hour) until the window closes; daily once verified.
 */
export function nextCheckAt(o: {
  verificationStatus: DomainStatus;
  mailFromStatus: DomainStatus;
  windowStartedAt: Date;
  /** when a DKIM rotation started that is still waiting for its record */
  rotationStartedAt: Date | null;
  now: Date;
}): Date | null {
  const now = o.now.getTime();
  const backoff = (start: Date): number | null => {
    const elapsed = now - start.getTime();
    if (elapsed >= VERIFICATION_WINDOW_MS) return null;
    const delay = Math.min(MAX_BACKOFF_MS, Math.max(FIRST_CHECK_MS, elapsed / 4));
    return Math.min(now + delay, start.getTime() + VERIFICATION_WINDOW_MS);
  };
  const candidates: (number | null)[] = [];
  if (o.verificationStatus !== 'verified' || o.mailFromStatus !== 'verified') candidates.push(backoff(o.windowStartedAt));
  if (o.rotationStartedAt) candidates.push(backoff(o.rotationStartedAt));
  if (o.verificationStatus === 'verified' || o.mailFromStatus === 'verified') candidates.push(now + RECHECK_VERIFIED_MS);
  const due = candidates.filter((c): c is number => c !== null);
  return due.length > 0 ? new Date(Math.min(...due)) : null;
}

/** The first background check after a domain is added: time to publish the records. */
export const firstCheckAt = (now: Date): Date => new Date(now.getTime() + FIRST_CHECK_MS);
