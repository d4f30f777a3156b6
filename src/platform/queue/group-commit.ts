/**
 * Collects items that arrive concurrently and writes them in one commit. A commit per request is bound by
 * the commit latency; grouping makes the cost per request shrink as load grows, without adding latency when
 * idle (a lone item is flushed on the next tick).
 */
export class GroupCommitter<T, R> {
  private pending: { item: T; resolve: (r: R) => void; reject: (e: unknown) => void }[] = [];
  private inflight = 0;
  private scheduled = false;

  constructor(
    private readonly write: (items: T[]) => Promise<R[]>,
    /**
     * lingerMs: how long a first item waits for company before a flush. 0 suits request paths (no added
     * latency); background writers such as delivery results trade a few ms for far fewer commits.
     */
    private readonly opts: { maxConcurrent: number; maxBatch: (items: T[]) => number; lingerMs?: number },
  ) {}

  submit(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.inflight >= this.opts.maxConcurrent || this.pending.length === 0) return;
    this.scheduled = true;
    const run = () => {
      this.scheduled = false;
      void this.flush();
    };
    if (this.opts.lingerMs) setTimeout(run, this.opts.lingerMs);
    else setImmediate(run);
  }

  private async flush(): Promise<void> {
    if (this.inflight >= this.opts.maxConcurrent || this.pending.length === 0) return;
    const size = Math.max(1, this.opts.maxBatch(this.pending.map((p) => p.item)));
    const batch = this.pending.splice(0, size);
    this.inflight++;
    try {
      const results = await this.write(batch.map((b) => b.item));
      batch.forEach((b, i) => b.resolve(results[i]!));
    } catch (err) {
      if (batch.length === 1) batch[0]!.reject(err);
      else {
        // one bad item must not fail its neighbours: write each on its own
        await Promise.all(
          batch.map(async (b) => {
            try {
              const [r] = await this.write([b.item]);
              b.resolve(r!);
            } catch (e) {
              b.reject(e);
            }
          }),
        );
      }
    } finally {
      this.inflight--;
      this.schedule();
    }
  }
}
