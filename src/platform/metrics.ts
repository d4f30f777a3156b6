import type { RecipientStatus } from './lifecycle.js';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** What a recipient's attempt ended as; `sent` is a relay's acceptance, `delivered` the recipient's own server's. */
export type DeliveryOutcome = Exclude<RecipientStatus, 'pending'>;

/** Connections of the database pool at scrape time. */
export interface PoolStats {
  total: number;
  idle: number;
  waiting: number;
}

/** Per tier: messages due and waiting for a worker, and how long the oldest of them has waited past its time. */
export interface QueueStats {
  tier: string;
  depth: number;
  oldestAgeSeconds: number;
}

// from 1 ms to a minute: an accepted email is answered in milliseconds; a DKIM signature takes about one
const FAST_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
// from 50 ms to a day: first-attempt deliveries take under a second, retried ones hours
const DELIVERY_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600, 24 * 3600];

/**
 * The metrics one process exposes at GET /metrics (README, "Logs and metrics"). Counters and histograms count
 * what this process did since it started; the queue gauges are read from the database at scrape time and are
 * the same from every process. Each app has its own registry, so several apps in one process (tests) do not mix.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly accepted: Counter<'tier'>;
  readonly deliveries: Counter<'tier' | 'outcome'>;
  readonly deliveryDuration: Histogram<'tier' | 'outcome'>;
  readonly acceptDuration: Histogram;
  readonly dkimSignDuration: Histogram;
  private readonly queueDepth: Gauge<'tier'>;
  private readonly queueOldest: Gauge<'tier'>;
  private readonly queueUp: Gauge;

  constructor(opts: { poolStats?: () => PoolStats | null; defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    this.accepted = new Counter({ name: 'keplars_emails_accepted_total', help: 'Emails accepted by the send routes, per tier', labelNames: ['tier'], registers });
    this.deliveries = new Counter({
      name: 'keplars_delivery_outcomes_total',
      help: 'Recipient outcomes of delivery attempts, per tier: sent (relay accepted), delivered (recipient server accepted), deferred (will retry), bounced (refused), failed (retries ran out), suppressed (not attempted: on the suppression list)',
      labelNames: ['tier', 'outcome'],
      registers,
    });
    this.deliveryDuration = new Histogram({
      name: 'keplars_delivery_duration_seconds',
      help: 'From acceptance (or the scheduled time) to the final outcome of an email, per tier and outcome',
      labelNames: ['tier', 'outcome'],
      buckets: DELIVERY_BUCKETS,
      registers,
    });
    this.acceptDuration = new Histogram({ name: 'keplars_accept_duration_seconds', help: 'Duration of send requests (POST …/send-email/*), answered with any status', buckets: FAST_BUCKETS, registers });
    this.dkimSignDuration = new Histogram({ name: 'keplars_dkim_sign_duration_seconds', help: 'Time to DKIM-sign one message, including the wait for a signing thread', buckets: FAST_BUCKETS, registers });
    this.queueDepth = new Gauge({ name: 'keplars_queue_depth', help: 'Messages due and waiting for a delivery worker, per tier (database-wide; counted up to 100000 per tier)', labelNames: ['tier'], registers });
    this.queueOldest = new Gauge({ name: 'keplars_queue_oldest_age_seconds', help: 'How long the oldest due message of each tier has waited past its time (database-wide)', labelNames: ['tier'], registers });
    this.queueUp = new Gauge({ name: 'keplars_queue_stats_up', help: '1 when the queue gauges were read at this scrape, 0 when the database did not answer in time', registers });
    const poolStats = opts.poolStats;
    if (poolStats) {
      new Gauge({
        name: 'keplars_db_pool_connections',
        help: 'Connections of the database pool: total open and idle (the embedded database has one)',
        labelNames: ['state'],
        registers,
        collect() {
          const s = poolStats();
          if (!s) return;
          this.set({ state: 'total' }, s.total);
          this.set({ state: 'idle' }, s.idle);
        },
      });
      new Gauge({
        name: 'keplars_db_pool_waiting',
        help: 'Queries waiting for a database connection',
        registers,
        collect() {
          const s = poolStats();
          if (s) this.set(s.waiting);
        },
      });
    }
    if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix: 'keplars_' });
  }

  /** The queue gauges of this scrape; null when the database did not answer (they are left out, and stats_up says 0). */
  setQueue(stats: QueueStats[] | null): void {
    this.queueDepth.reset();
    this.queueOldest.reset();
    this.queueUp.set(stats ? 1 : 0);
    for (const s of stats ?? []) {
      this.queueDepth.set({ tier: s.tier }, s.depth);
      this.queueOldest.set({ tier: s.tier }, s.oldestAgeSeconds);
    }
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
