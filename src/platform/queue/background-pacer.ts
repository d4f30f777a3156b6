/** Time as the pacer sees it: a seam for its tests, which cannot wait for real rests. */
export interface PacerClock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

const realClock: PacerClock = {
  now: () => performance.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

export interface BackgroundPacerOptions {
  /** the part of the time background work may take while instant mail flows: 1 turns pacing off */
  share: number;
  /** how long after the last instant email background work stays paced */
  windowMs: number;
  /** the longest rest after one unit, so a long unit never parks the background for long */
  maxRestMs: number;
  clock?: PacerClock;
}

/**
 * Background work gives way to instant mail (README, "Priority tiers and the queue"). On a machine with few
 * cores the database and the CPU are shared by everything, and no database has priorities: an instant email's
 * transactions queue with whatever else runs. So while instant mail is being accepted, the units of background
 * work of this process (automation step batches, enrollment commits) run one at a time, and each is followed by
 * a rest long enough that the background takes at most `share` of the time. The rest of the time the database
 * and the cores are free for instant mail. Without instant mail the units run at once, side by side.
 */
export class BackgroundPacer {
  private lastInstantAt = Number.NEGATIVE_INFINITY;
  private restUntil = 0;
  private tail: Promise<void> = Promise.resolve();
  private readonly clock: PacerClock;
  private paced = 0;

  constructor(private readonly opts: BackgroundPacerOptions) {
    if (!(opts.share > 0 && opts.share <= 1)) throw new RangeError(`share must be in (0, 1], got ${opts.share}`);
    this.clock = opts.clock ?? realClock;
  }

  /** Instant mail was accepted (in any process: the queue signal carries it). */
  noteInstant(): void {
    this.lastInstantAt = this.clock.now();
  }

  /** Units that have run in turn, paced, since start. */
  get unitsPaced(): number {
    return this.paced;
  }

  /** Whether background work is paced now. */
  get pacing(): boolean {
    return this.opts.share < 1 && this.clock.now() - this.lastInstantAt < this.opts.windowMs;
  }

  /** Runs one unit of background work: at once when there is no instant mail, else in turn and after its rest. */
  async run<T>(work: () => Promise<T>): Promise<T> {
    if (!this.pacing) return work();
    const previous = this.tail;
    let release!: () => void;
    this.tail = new Promise<void>((resolve) => (release = resolve));
    try {
      await previous;
      await this.rest();
      this.paced++;
      const started = this.clock.now();
      try {
        return await work();
      } finally {
        const ended = this.clock.now();
        const rest = ((ended - started) * (1 - this.opts.share)) / this.opts.share;
        this.restUntil = ended + Math.min(rest, this.opts.maxRestMs);
      }
    } finally {
      release();
    }
  }

  /** Waits out the last unit's rest, in short naps so that the end of the instant mail ends the rest too. */
  private async rest(): Promise<void> {
    for (;;) {
      const left = this.restUntil - this.clock.now();
      if (left <= 0 || !this.pacing) return;
      await this.clock.sleep(Math.min(left, 50));
    }
  }
}
