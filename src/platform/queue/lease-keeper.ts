import type { Logger } from '../logger.js';

/** A claimed row as its lease fence knows it: the claim's attempt number goes with the id. */
export interface HeldLease {
  id: string;
  attempts: number;
}

export interface LeaseKeeperOptions {
  leaseMs: number;
  /**
   * Pushes the leases of these rows forward by leaseMs in one statement, fenced by (locked_by, attempts) so
   * a row that was lost to another worker is left alone.
   */
  renew: (held: HeldLease[]) => Promise<void>;
  log: Logger;
  /** what is leased, for the log ("messages", "jobs") */
  what: string;
}

/**
 * Keeps the leases of a worker's in-flight rows alive for as long as it works on them, so a slow attempt
 * (a relay that answers DATA late, direct delivery trying several MX hosts, a long DNS check) is never
 * claimed a second time while it still runs. All leases are renewed together every leaseMs / 3: one
 * statement per worker, whatever the number of rows, and two renewals can fail in a row before a lease
 * lapses. A worker that dies stops renewing, so its leases still expire and its rows come back.
 */
export class LeaseKeeper {
  private readonly held = new Map<string, number>();
  private timer: NodeJS.Timeout | null = null;
  private renewing = false;
  private failing = false;

  constructor(private readonly o: LeaseKeeperOptions) {}

  start(): void {
    this.timer ??= setInterval(() => void this.renewAll(), Math.max(50, Math.floor(this.o.leaseMs / 3)));
    this.timer.unref();
  }

  /** From its claim until its result is recorded. */
  hold(lease: HeldLease): void {
    this.held.set(lease.id, lease.attempts);
  }

  /**
   * Once its result is recorded, or could not be: then the lease lapses and the row is tried again. Only
   * this attempt's hold goes: the same row may have been claimed again since, after its lease lapsed.
   */
  release(lease: HeldLease): void {
    if (this.held.get(lease.id) === lease.attempts) this.held.delete(lease.id);
  }

  get size(): number {
    return this.held.size;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private async renewAll(): Promise<void> {
    if (this.renewing || this.held.size === 0) return;
    this.renewing = true;
    try {
      await this.o.renew([...this.held].map(([id, attempts]) => ({ id, attempts })));
      if (this.failing) this.o.log.info({ what: this.o.what }, 'lease renewal works again');
      this.failing = false;
    } catch (err) {
      // the database is away: nothing to do but try again; if it stays away longer than the lease, the rows
      // are claimed again elsewhere and this worker's late results are fenced out (at-least-once)
      if (!this.failing) this.o.log.warn({ err, what: this.o.what, held: this.held.size }, 'could not renew leases; retrying');
      this.failing = true;
    } finally {
      this.renewing = false;
    }
  }
}
