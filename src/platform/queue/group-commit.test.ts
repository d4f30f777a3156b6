import { describe, expect, it } from 'vitest';
import { GroupCommitter } from './group-commit.js';

describe('GroupCommitter', () => {
  it('writes items that arrive together in one batch', async () => {
    const batches: number[][] = [];
    const gc = new GroupCommitter<number, number>(async (items) => {
      batches.push(items);
      return items.map((i) => i * 2);
    }, { maxConcurrent: 1, maxBatch: (items) => items.length });
    const results = await Promise.all([1, 2, 3, 4].map((n) => gc.submit(n)));
    expect(results).toEqual([2, 4, 6, 8]);
    expect(batches).toEqual([[1, 2, 3, 4]]);
  });

  it('respects the batch size and keeps going until the backlog is written', async () => {
    const batches: number[][] = [];
    const gc = new GroupCommitter<number, void>(async (items) => {
      batches.push(items);
      return items.map(() => undefined);
    }, { maxConcurrent: 1, maxBatch: () => 2 });
    await Promise.all([1, 2, 3, 4, 5].map((n) => gc.submit(n)));
    expect(batches).toEqual([[1, 2], [3, 4], [5]]);
  });

  it('isolates a bad item: its neighbours are written on their own and succeed', async () => {
    const gc = new GroupCommitter<number, number>(async (items) => {
      if (items.includes(3)) throw new Error('bad item');
      return items;
    }, { maxConcurrent: 1, maxBatch: (items) => items.length });
    const results = await Promise.allSettled([1, 2, 3, 4].map((n) => gc.submit(n)));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
  });
});
