import os from 'node:os';
import type { Config } from '../../config/config.js';
import { randomHex } from '../../platform/crypto.js';
import { inTransaction, type Db } from '../../platform/db/database.js';
import type { Resolver } from '../../platform/dns/resolver.js';
import { uuidv7 } from '../../platform/ids.js';
import type { Logger } from '../../platform/logger.js';
import { guardedPost } from '../../platform/net/guarded-post.js';
import { ClaimLoop } from '../../platform/queue/claim-loop.js';
import { GroupCommitter } from '../../platform/queue/group-commit.js';
import { ANY_TOPIC, type QueueSignal } from '../../platform/queue/signal.js';
import type { SecretBox } from '../../platform/secret-box.js';
import { settleWithin } from '../../platform/settle-within.js';
import { EmailFirstGate, IDLE_AFTER_MS, type WebhookPace } from './email-first.js';
import { subscribes, webhookEventsOf } from './event-map.js';
import { contactPayload, domainPayload, emailPayload, type WebhookPayload } from './payload.js';
import { EXCERPT_BYTES, sealContext, WEBHOOKS_TOPIC } from './service.js';
import { signatureHeaders } from './signing.js';
import * as store from './store.js';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

/** Waits after each failed attempt (issue 11), scaled by WEBHOOK_RETRY_SCALE; after the last the delivery is `failed`. */
export const RETRY_SCHEDULE_MS = [5 * SECOND, 30 * SECOND, 2 * MINUTE, 10 * MINUTE, 30 * MINUTE, HOUR, 2 * HOUR, 4 * HOUR, 8 * HOUR, 24 * HOUR] as const;
/** How long an endpoint fails everything before it is marked `failing` (also scaled). */
export const FAILING_AFTER_MS = 24 * HOUR;
/** Events fanned out per transaction (an outbox row holds up to 500: the pass takes whole rows, at least one). */
const FANOUT_EVENTS = 500;
/** Outbox rows locked per pass; those past FANOUT_EVENTS are left for the next one. */
const FANOUT_ROWS = 100;

/** When the delivery that just failed its `attempts`-th attempt goes next, or null when it has had them all. */
export function nextRetryAt(attempts: number, scale: number, now = Date.now()): Date | null {
  const wait = RETRY_SCHEDULE_MS[attempts - 1];
  return wait === undefined ? null : new Date(now + wait * scale);
}

/** The first outbox rows that together hold about `events` events (at least one row). */
function takeRows(rows: store.OutboxRow[], events: number): store.OutboxRow[] {
  let n = 0;
  let taken = 0;
  while (taken < rows.length && (taken === 0 || n + rows[taken]!.event_ids.length <= events)) n += rows[taken++]!.event_ids.length;
  return rows.slice(0, taken);
}

/**
 * Moves outbox rows to deliveries in one transaction: reads the events they point to, maps each to its webhook
 * events (event-map.ts), adds one delivery per subscribed endpoint and deletes the rows. Several processes may
 * run it at once (SKIP LOCKED). Returns the outbox rows and events handled, and whether more may be waiting.
 */
export async function fanOut(db: Db, events = FANOUT_EVENTS): Promise<{ rows: number; events: number; deliveries: number; more: boolean }> {
  return inTransaction(db, async (trx) => {
    const locked = await store.lockOutbox(trx, FANOUT_ROWS);
    if (locked.length === 0) return { rows: 0, events: 0, deliveries: 0, more: false };
    const rows = takeRows(locked, events);
    const more = locked.length === FANOUT_ROWS || rows.length < locked.length;
    const ids = (source: store.OutboxRow['source']) => rows.filter((r) => r.source === source).flatMap((r) => r.event_ids);
    const [endpoints, emails, domains, contacts] = await Promise.all([
      store.endpointsOf(trx, [...new Set(rows.map((r) => r.workspace_id))]),
      store.emailEvents(trx, ids('message')),
      store.domainEvents(trx, ids('domain')),
      store.contactEvents(trx, ids('contact')),
    ]);
    const byWorkspace = new Map<string, store.SubscribedEndpoint[]>();
    for (const e of endpoints) byWorkspace.set(e.workspace_id, [...(byWorkspace.get(e.workspace_id) ?? []), e]);
    const facts = new Map<string, (id: string, event: string) => WebhookPayload>();
    const kinds = new Map<string, { type: string; detail: Record<string, unknown> | null }>();
    for (const e of emails) {
      facts.set(`message:${e.id}`, (id, event) => emailPayload(id, event, e));
      kinds.set(`message:${e.id}`, { type: e.type, detail: e.detail });
    }
    for (const e of domains) {
      facts.set(`domain:${e.id}`, (id, event) => domainPayload(id, event, e));
      kinds.set(`domain:${e.id}`, { type: e.type, detail: e.detail });
    }
    for (const e of contacts) {
      facts.set(`contact:${e.id}`, (id, event) => contactPayload(id, event, e));
      kinds.set(`contact:${e.id}`, { type: e.type, detail: e.data });
    }
    const deliveries: store.NewDelivery[] = [];
    // outbox order, so deliveries of one email are created in the order its events happened
    let eventCount = 0;
    for (const row of rows) {
      for (const eventId of row.event_ids) {
        eventCount++;
        const key = `${row.source}:${eventId}`;
        const kind = kinds.get(key);
        const build = facts.get(key);
        // an event whose email, domain or contact is gone with its workspace: nothing to tell anyone
        if (!kind || !build) continue;
        for (const event of webhookEventsOf(row.source, kind.type, kind.detail)) {
          for (const endpoint of byWorkspace.get(row.workspace_id) ?? []) {
            if (!subscribes(endpoint.events, event)) continue;
            const id = uuidv7();
            deliveries.push({ id, endpointId: endpoint.id, workspaceId: row.workspace_id, event, payload: JSON.stringify(build(id, event)) });
          }
        }
      }
    }
    await store.insertDeliveries(trx, deliveries);
    await store.deleteOutbox(
      trx,
      rows.map((r) => r.id),
    );
    return { rows: rows.length, events: eventCount, deliveries: deliveries.length, more };
  });
}

export interface DispatcherOptions {
  db: Db;
  signal: QueueSignal;
  log: Logger;
  resolver: Resolver;
  secrets: () => Promise<SecretBox>;
  settings: Config['webhooks'];
  /** true while this process delivers email, which goes first (email-first.ts) */
  yieldTo?: () => boolean;
}

/** Share of WEBHOOK_CONCURRENCY used while email has gone out for longer than WEBHOOK_MAX_DEFER_MS (at least 2 requests). */
const YIELDING_SHARE = 1 / 32;
/** Meanwhile the outbox is fanned out at most this often, one batch at a time. */
const YIELDING_FANOUT_MS = 1000;

/**
 * The webhook worker of a process: fans the outbox out and POSTs due deliveries, woken by the outbox triggers'
 * NOTIFY (PostgreSQL), by the API in this process, and by polling. Its requests have their own concurrency
 * (WEBHOOK_CONCURRENCY, at most WEBHOOK_ENDPOINT_CONCURRENCY per endpoint), apart from email delivery and the
 * jobs worker, so slow endpoints delay neither. Email goes first (email-first.ts): while the process delivers
 * email, webhooks wait up to WEBHOOK_MAX_DEFER_MS, then use a 32nd of their slots and fan the outbox out a batch
 * a second until email is done.
 */
export class WebhookDispatcher {
  readonly workerId = `${os.hostname()}:${process.pid}:webhooks:${randomHex(4)}`;
  private stopped = false;
  private poller: NodeJS.Timeout | null = null;
  private stopWake: (() => void) | null = null;
  private readonly loop: ClaimLoop<store.ClaimedDelivery>;
  /** requests in flight per endpoint */
  private readonly busy = new Map<string, number>();
  private fanning: Promise<void> | null = null;
  private fanAgain = false;
  private lastFanOut = 0;
  private pace: WebhookPace = 'full';
  private readonly gate: EmailFirstGate | null;
  private sampler: NodeJS.Timeout | null = null;
  private readonly leaseMs: number;
  /** attempts that finish together are recorded in one statement */
  private readonly results: GroupCommitter<store.AttemptRecord, true>;

  constructor(private readonly o: DispatcherOptions) {
    // a request cannot outlast its timeout, so a lease well past it never lapses under a live worker, and a dead
    // worker's deliveries come back soon after
    this.leaseMs = o.settings.timeoutMs * 2 + 5000;
    this.gate = o.yieldTo ? new EmailFirstGate(o.yieldTo, o.settings.maxDeferMs) : null;
    this.results = new GroupCommitter(
      async (items) => {
        const failing = await store.recordAttempts(o.db, items, FAILING_AFTER_MS * o.settings.retryScale);
        for (const endpointId of failing) {
          const last = items.filter((a) => a.delivery.endpointId === endpointId).at(-1);
          o.log.warn({ endpointId, error: last?.error }, 'webhook endpoint marked failing: every delivery to it failed for 24 hours (scaled by WEBHOOK_RETRY_SCALE)');
        }
        return items.map(() => true as const);
      },
      // a few ms of company for each result: far fewer commits under load, little delay for a lone one
      { maxConcurrent: 2, maxBatch: (items) => Math.min(items.length, store.MAX_ATTEMPTS_PER_STATEMENT), lingerMs: 5 },
    );
    this.loop = new ClaimLoop({
      concurrency: o.settings.concurrency,
      minClaim: Math.min(8, o.settings.concurrency),
      claim: async (slots) => {
        const inFlight = [...this.busy.values()].reduce((a, b) => a + b, 0);
        const pace = this.samplePace();
        if (pace === 'defer') return [];
        const yielding = pace === 'share';
        const cap = yielding ? Math.max(2, Math.floor(o.settings.concurrency * YIELDING_SHARE)) : o.settings.concurrency;
        // fewer slots, so fewer per endpoint too: one slow endpoint must not take them all
        const perEndpoint = yielding ? Math.max(1, Math.min(o.settings.endpointConcurrency, Math.floor(cap / 4))) : o.settings.endpointConcurrency;
        const limit = Math.min(slots, cap - inFlight);
        if (limit <= 0) return [];
        const items = await store.claimDeliveries(o.db, { workerId: this.workerId, limit, perEndpoint, busy: this.busy, leaseMs: this.leaseMs });
        for (const item of items) this.busy.set(item.endpoint_id, (this.busy.get(item.endpoint_id) ?? 0) + 1);
        return items;
      },
      process: (item) => this.deliver(item),
      stopped: () => this.stopped,
    });
  }

  start(): void {
    this.stopWake = this.o.signal.onWake((topic) => {
      if (topic === WEBHOOKS_TOPIC || topic === ANY_TOPIC) this.kick();
    });
    this.poller = setInterval(() => this.kick(), this.o.settings.pollMs);
    if (this.gate) {
      // sees the end of a burst of email soon, and lets the waiting webhooks go at once
      this.sampler = setInterval(() => {
        const before = this.pace;
        if (this.samplePace() === 'full' && before !== 'full') this.kick();
      }, IDLE_AFTER_MS / 2);
      this.sampler.unref();
    }
    this.kick();
  }

  private samplePace(): WebhookPace {
    this.pace = this.gate?.sample() ?? 'full';
    return this.pace;
  }

  /** Stops claiming and waits for requests in flight, no later than `deadline`; unfinished ones come back when their leases lapse. */
  async stop(opts: { deadline?: number } = {}): Promise<void> {
    this.stopped = true;
    this.stopWake?.();
    if (this.poller) clearInterval(this.poller);
    if (this.sampler) clearInterval(this.sampler);
    await settleWithin(Promise.all([this.fanning, this.loop.drain()]), (opts.deadline ?? Infinity) - Date.now());
  }

  kick(): void {
    if (this.stopped) return;
    // while email goes out, the events wait in the outbox (they are safe there), then come out a batch a second
    const pace = this.samplePace();
    if (pace === 'full' || (pace === 'share' && Date.now() - this.lastFanOut >= YIELDING_FANOUT_MS)) this.fanOutSoon();
    this.loop.pump();
  }

  private yielding(): boolean {
    return this.samplePace() !== 'full';
  }

  /** One fan-out pass at a time; a kick during a pass asks for another. */
  private fanOutSoon(): void {
    if (this.fanning) {
      this.fanAgain = true;
      return;
    }
    this.fanning = (async () => {
      do {
        this.fanAgain = false;
        try {
          this.lastFanOut = Date.now();
          if (await store.outboxIsEmpty(this.o.db)) continue;
          for (;;) {
            const done = await fanOut(this.o.db);
            if (done.deliveries > 0) this.loop.pump();
            if (!done.more || this.stopped || this.yielding()) break;
          }
        } catch (err) {
          this.o.log.warn({ err }, 'webhook fan-out failed; the outbox keeps the events for the next pass');
        }
      } while (this.fanAgain && !this.stopped);
    })().finally(() => {
      this.fanning = null;
    });
  }

  private async deliver(item: store.ClaimedDelivery): Promise<void> {
    try {
      const { settings } = this.o;
      let result: Awaited<ReturnType<typeof guardedPost>>;
      try {
        const secret = (await this.o.secrets()).open(item.secret_sealed, sealContext(item.endpoint_id));
        const headers = signatureHeaders({ secret, scheme: item.signature_scheme, deliveryId: item.id, event: item.event, body: item.payload, timestamp: Math.floor(Date.now() / 1000) });
        result = await guardedPost(item.url, item.payload, headers, { resolver: this.o.resolver, allowPrivate: settings.allowPrivateTargets, timeoutMs: settings.timeoutMs, excerptBytes: EXCERPT_BYTES });
      } catch (err) {
        // the server key cannot open the secret (SECRET_KEY missing or changed): an attempt that failed
        result = { statusCode: null, latencyMs: 0, bodyExcerpt: null, error: (err as Error).message };
      }
      const ok = result.statusCode !== null && result.statusCode >= 200 && result.statusCode < 300;
      const next = ok ? null : nextRetryAt(item.attempts, settings.retryScale);
      const error = ok ? null : (result.error ?? `answered ${result.statusCode}${result.statusCode !== null && result.statusCode >= 300 && result.statusCode < 400 ? ' (redirects are not followed)' : ''}`);
      await this.results.submit({
        delivery: { id: item.id, endpointId: item.endpoint_id, attempts: item.attempts },
        workerId: this.workerId,
        statusCode: result.statusCode,
        latencyMs: result.latencyMs,
        bodyExcerpt: result.bodyExcerpt,
        error,
        status: ok ? 'delivered' : next ? 'pending' : 'failed',
        nextAttemptAt: next,
      });
    } catch (err) {
      this.o.log.error({ err, deliveryId: item.id }, 'could not record a webhook attempt; its lease will bring it back');
    } finally {
      const n = (this.busy.get(item.endpoint_id) ?? 1) - 1;
      if (n <= 0) this.busy.delete(item.endpoint_id);
      else this.busy.set(item.endpoint_id, n);
    }
  }
}
