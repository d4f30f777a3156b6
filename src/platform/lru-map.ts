/**
 * A map of at most `capacity` entries, and optionally at most `maxWeight` in total (e.g. characters of
 * template source, so a few very large entries cannot fill memory), that forgets the least recently used
 * entries to make room. A Map iterates in insertion order, so reading an entry moves it to the end and the
 * first key is always the oldest. The entry just set is never the one forgotten.
 */
export class LruMap<K, V> {
  private readonly entries = new Map<K, { value: V; weight: number }>();
  private weight = 0;

  constructor(
    readonly capacity: number,
    private readonly maxWeight = Infinity,
  ) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`an LRU map holds at least one entry, not ${capacity}`);
  }

  get size(): number {
    return this.entries.size;
  }

  /** The value, now the most recently used; undefined when absent. */
  get(key: K): V | undefined {
    const hit = this.entries.get(key);
    if (!hit) return undefined;
    this.entries.delete(key);
    this.entries.set(key, hit);
    return hit.value;
  }

  set(key: K, value: V, weight = 1): this {
    this.delete(key);
    this.entries.set(key, { value, weight });
    this.weight += weight;
    for (const [oldest, entry] of this.entries) {
      if (this.entries.size <= this.capacity && this.weight <= this.maxWeight) break;
      if (oldest === key) continue;
      this.entries.delete(oldest);
      this.weight -= entry.weight;
    }
    return this;
  }

  delete(key: K): boolean {
    const hit = this.entries.get(key);
    if (!hit) return false;
    this.entries.delete(key);
    this.weight -= hit.weight;
    return true;
  }

  clear(): void {
    this.entries.clear();
    this.weight = 0;
  }
}
