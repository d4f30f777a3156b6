import { describe, expect, it } from 'vitest';
import { settleWithin } from './settle-within.js';

const after = (ms: number, fail = false) => new Promise<void>((resolve, reject) => setTimeout(() => (fail ? reject(new Error('late failure')) : resolve()), ms));

describe('settleWithin', () => {
  it('is true when the promise settles in time, resolved or rejected', async () => {
    expect(await settleWithin(after(5), 1000)).toBe(true);
    expect(await settleWithin(after(5, true), 1000)).toBe(true);
  });

  it('is false once the bound passes, and false at once for a bound already spent', async () => {
    expect(await settleWithin(after(200), 20)).toBe(false);
    expect(await settleWithin(after(5), 0)).toBe(false);
  });

  it('waits as long as it takes without a bound (a timer of Infinity would fire after 1 ms)', async () => {
    expect(await settleWithin(after(50), Infinity)).toBe(true);
  });
});
