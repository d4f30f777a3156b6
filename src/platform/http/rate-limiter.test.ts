import { describe, expect, it } from 'vitest';
import { RateLimiter, UNLIMITED_REPORTED } from './rate-limiter.js';

describe('RateLimiter', () => {
  it('counts per subject in one-second windows by default', () => {
    const l = new RateLimiter();
    const t0 = 1_700_000_000_000;
    expect([1, 2, 3].map(() => l.check('a', 2, t0 + 100).allowed)).toEqual([true, true, false]);
    expect(l.check('b', 2, t0 + 100).allowed).toBe(true);
    const next = l.check('a', 2, t0 + 1000);
    expect(next).toMatchObject({ allowed: true, remaining: 1, retryAfterSeconds: 1, reset: (t0 + 2000) / 1000 });
  });

  it('takes a longer window: Retry-After is the time left in it', () => {
    const l = new RateLimiter(60_000);
    const start = 1_700_000_040_000; // a multiple of 60 s
    for (let i = 0; i < 3; i++) expect(l.check('ip', 3, start + 15_000).allowed).toBe(true);
    expect(l.check('ip', 3, start + 15_000)).toMatchObject({ allowed: false, remaining: 0, retryAfterSeconds: 45, reset: (start + 60_000) / 1000 });
    expect(l.check('ip', 3, start + 59_999).retryAfterSeconds).toBe(1);
    expect(l.check('ip', 3, start + 60_000).allowed).toBe(true);
  });

  it('reports a large limit when there is none', () => {
    expect(new RateLimiter().check('x', null)).toMatchObject({ allowed: true, limit: UNLIMITED_REPORTED });
  });
});
