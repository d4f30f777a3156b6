/**
 * The loop every queue consumer shares: claim work while slots are free, process each item in its own slot,
 * claim again as slots free up. Triggers that arrive while a claim runs (wake signals, pollers, finished
 * items) are coalesced into one more pass instead of parallel claims.
 */
export class ClaimLoop<T> {
  private active = 0;
  private pumping = false;
  private again = false;
  private readonly inflight = new Set<Promise<void>>();
  private running: Promise<void> | null = null;

  constructor(
    private readonly o: {
      concurrency: number;
      /** free slots needed before claiming while busy: a claim per freed slot would cost a query per item */
      minClaim?: number;
      /** most items per claim */
      maxBatch?: number;
      claim: (limit: number) => Promise<T[]>;
      process: (item: T) => Promise<void>;
      stopped: () => boolean;
    },
  ) {}

  pump(): void {
    if (this.pumping) {
      this.again = true;
      return;
    }
    this.pumping = true;
    const run = this.run().finally(() => {
      this.pumping = false;
      this.running = null;
    });
    this.running = run;
  }

  private async run(): Promise<void> {
    const { concurrency } = this.o;
    do {
      this.again = false;
      const minClaim = this.active === 0 ? 1 : (this.o.minClaim ?? 1);
      while (!this.o.stopped() && concurrency - this.active >= minClaim) {
        let items: T[];
        try {
          items = await this.o.claim(Math.min(this.o.maxBatch ?? concurrency, concurrency - this.active));
        } catch {
          return; // database unavailable; the next trigger (at the latest the poller) tries again
        }
        if (items.length === 0) break;
        for (const item of items) {
          this.active++;
          const p = this.o.process(item).finally(() => {
            this.active--;
            this.inflight.delete(p);
            this.pump();
          });
          this.inflight.add(p);
        }
      }
    } while (this.again && !this.o.stopped());
  }

  /** Waits for every item in flight, including those of a claim that was still running when the loop was stopped. */
  async drain(): Promise<void> {
    while (this.running || this.inflight.size > 0) await Promise.allSettled([this.running, ...this.inflight]);
  }
}
