/**
 * A budget of bytes shared by everything in one process, handed out first come, first served. A request
 * that does not fit waits in line, at most `waitMs`; larger than the whole budget, it waits for the budget
 * to empty and then holds all of it.
 */
export class ByteBudget {
  private used = 0;
  private readonly queue: { bytes: number; grant: () => void }[] = [];

  constructor(readonly capacity: number) {}

  get inUse(): number {
    return this.used;
  }

  get waiting(): number {
    return this.queue.length;
  }

  /** A release function once `bytes` are granted, or null when they were not within `waitMs`. */
  acquire(bytes: number, waitMs: number): Promise<(() => void) | null> {
    const amount = Math.min(Math.max(0, bytes), this.capacity);
    if (this.queue.length === 0 && this.used + amount <= this.capacity) return Promise.resolve(this.take(amount));
    return new Promise((resolve) => {
      const entry = {
        bytes: amount,
        grant: () => {
          clearTimeout(timer);
          resolve(this.take(amount));
        },
      };
      const timer = setTimeout(() => {
        this.queue.splice(this.queue.indexOf(entry), 1);
        resolve(null);
        this.grantWaiting(); // the next in line may fit now that this one left
      }, waitMs);
      this.queue.push(entry);
    });
  }

  /** Takes `bytes` at once if they fit and no one is waiting; never waits. */
  tryTake(bytes: number): boolean {
    if (this.queue.length > 0 || this.used + bytes > this.capacity) return false;
    this.used += bytes;
    return true;
  }

  /** Gives back what `tryTake` took. */
  give(bytes: number): void {
    this.used = Math.max(0, this.used - bytes);
    this.grantWaiting();
  }

  private take(amount: number): () => void {
    this.used += amount;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.used -= amount;
      this.grantWaiting();
    };
  }

  private grantWaiting(): void {
    while (this.queue.length > 0 && this.used + this.queue[0]!.bytes <= this.capacity) this.queue.shift()!.grant();
  }
}
