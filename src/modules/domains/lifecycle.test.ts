import { describe, expect, it } from 'vitest';
import { decideStatus, nextCheckAt, VERIFICATION_WINDOW_MS } from './lifecycle.js';
import type { RecordCheck } from './verification.js';

const check = (status: RecordCheck['status']): RecordCheck => ({ purpose: 'spf', type: 'TXT', name: 'x.test', status, expected: '', found: [], reason: null, checked_at: '' });

describe('domain verification lifecycle', () => {
  it('decides statuses: a DNS hiccup never un-verifies, gone records fail a verified domain at once', () => {
    expect(decideStatus('pending', [check('verified'), check('verified')], false)).toBe('verified');
    expect(decideStatus('pending', [check('verified'), check('failed')], false)).toBe('pending');
    expect(decideStatus('pending', [check('temporary_failure')], false)).toBe('temporary_failure');
    expect(decideStatus('pending', [check('failed')], true)).toBe('failed');
    expect(decideStatus('temporary_failure', [check('temporary_failure')], true)).toBe('failed');
    expect(decideStatus('verified', [check('temporary_failure')], false)).toBe('verified');
    expect(decideStatus('verified', [check('failed')], false)).toBe('failed');
    expect(decideStatus('failed', [check('failed')], false)).toBe('failed');
    expect(decideStatus('failed', [check('verified')], false)).toBe('verified');
  });

  it('backs off while pending, stops after 72 hours, and re-checks verified domains daily', () => {
    const start = new Date('2026-01-01T00:00:00Z');
    const at = (ms: number) => new Date(start.getTime() + ms);
    const next = (now: Date, verificationStatus: 'pending' | 'verified' = 'pending', rotationStartedAt: Date | null = null) =>
      nextCheckAt({ verificationStatus, mailFromStatus: verificationStatus, windowStartedAt: start, rotationStartedAt, now })!.getTime() - now.getTime();
    expect(next(at(0))).toBe(60_000);
    expect(next(at(20 * 60_000))).toBe(5 * 60_000);
    expect(next(at(10 * 3600_000))).toBe(3600_000);
    expect(nextCheckAt({ verificationStatus: 'pending', mailFromStatus: 'pending', windowStartedAt: start, rotationStartedAt: null, now: at(VERIFICATION_WINDOW_MS) })).toBeNull();
    expect(next(at(VERIFICATION_WINDOW_MS * 2), 'verified')).toBe(24 * 3600_000);
    expect(next(at(VERIFICATION_WINDOW_MS * 2), 'verified', at(VERIFICATION_WINDOW_MS * 2))).toBe(60_000); // a rotation waiting
  });
});
