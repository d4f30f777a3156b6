import { describe, expect, it } from 'vitest';
import { ByteBudget } from './byte-budget.js';

describe('ByteBudget', () => {
  it('grants what fits at once and makes the rest wait, first come first served', async () => {
    const budget = new ByteBudget(100);
    const a = (await budget.acquire(60, 1_000))!;
    const order: string[] = [];
    const b = budget.acquire(50, 1_000).then((r) => (order.push('b'), r));
    const c = budget.acquire(10, 1_000).then((r) => (order.push('c'), r)); // fits, but waits behind b
    await new Promise((r) => setTimeout(r, 20));
    expect([budget.inUse, budget.waiting, order]).toEqual([60, 2, []]);
    a();
    a(); // a second release changes nothing
    const [rb, rc] = await Promise.all([b, c]);
    expect(order).toEqual(['b', 'c']);
    expect(budget.inUse).toBe(60);
    rb!();
    rc!();
    expect(budget.inUse).toBe(0);
  });

  it('gives up after the wait and lets the next in line through', async () => {
    const budget = new ByteBudget(100);
    const hold = (await budget.acquire(90, 0))!;
    const big = budget.acquire(50, 50);
    const small = budget.acquire(10, 1_000);
    expect(await big).toBeNull();
    const granted = await small;
    expect(granted).not.toBeNull();
    expect(budget.inUse).toBe(100);
    hold();
    granted!();
    expect([budget.inUse, budget.waiting]).toEqual([0, 0]);
  });

  it('a request larger than the budget waits for all of it', async () => {
    const budget = new ByteBudget(100);
    const small = (await budget.acquire(1, 0))!;
    const huge = budget.acquire(1_000, 1_000);
    small();
    const release = (await huge)!;
    expect(budget.inUse).toBe(100);
    release();
  });
});
