import { describe, expect, it } from 'vitest';
import { LruMap } from './lru-map.js';

describe('LruMap', () => {
  it('forgets the least recently used entry, where reading counts as use', () => {
    const m = new LruMap<string, number>(3);
    m.set('a', 1).set('b', 2).set('c', 3);
    expect(m.get('a')).toBe(1); // a is now the most recent; b the oldest
    m.set('d', 4);
    expect(m.size).toBe(3);
    expect(m.get('b')).toBeUndefined();
    expect([m.get('a'), m.get('c'), m.get('d')]).toEqual([1, 3, 4]);
    m.set('c', 30); // rewriting counts as use too
    m.set('e', 5);
    expect(m.get('a')).toBeUndefined();
    expect(m.get('c')).toBe(30);
  });

  it('stays bounded under a flood of new keys and keeps an entry in steady use', () => {
    const m = new LruMap<number, string>(100);
    m.set(-1, 'kept');
    for (let i = 0; i < 100_000; i++) {
      m.set(i, 'flood');
      if (i % 50 === 0) expect(m.get(-1)).toBe('kept');
    }
    expect(m.size).toBe(100);
    expect(m.get(-1)).toBe('kept');
    expect(m.get(0)).toBeUndefined();
  });

  it('keeps null values apart from absent ones, and refuses a capacity below one', () => {
    const m = new LruMap<string, string | null>(2);
    m.set('none', null);
    expect(m.get('none')).toBeNull();
    expect(m.get('missing')).toBeUndefined();
    expect(m.delete('none')).toBe(true);
    expect(m.size).toBe(0);
    expect(() => new LruMap(0)).toThrow(RangeError);
  });

  it('keeps the total weight within its limit, forgetting the oldest first but never the entry just set', () => {
    const m = new LruMap<string, string>(100, 10);
    m.set('a', 'x', 4).set('b', 'x', 4);
    m.set('c', 'x', 4); // 12 > 10: a goes
    expect([m.get('a'), m.get('b'), m.get('c')]).toEqual([undefined, 'x', 'x']);
    m.set('huge', 'x', 50); // alone over the limit: everything else goes, it stays
    expect([m.size, m.get('huge')]).toEqual([1, 'x']);
    m.set('huge', 'y', 1); // replacing gives its weight back
    m.set('d', 'x', 9);
    expect([m.size, m.get('huge'), m.get('d')]).toEqual([2, 'y', 'x']);
  });
});
