import os from 'node:os';
import type { Db } from '../platform/db/database.js';
import type { EmailEventType } from '../platform/lifecycle.js';
import { randomHex } from '../platform/crypto.js';
import { unredactedLogger, type Logger } from '../platform/logger.js';
import type { Metrics } from '../platform/metrics.js';
import { composeMessage } from '../platform/mail/compose.js';
import type { MailContent, RecipientOutcome, Transport } from '../platform/mail/types.js';
import { ClaimLoop } from '../platform/queue/claim-loop.js';
import { GroupCommitter } from '../platform/queue/group-commit.js';
import { LeaseKeeper } from '../platform/queue/lease-keeper.js';
import { settleWithin } from '../platform/settle-within.js';
import { ANY_TOPIC, type QueueSignal } from '../platform/queue/signal.js';
import { simulatedComplaint, simulatedSuppression } from '../platform/mail/simulator.js';
import {
  toMailContent,
  decideCompletion,
  claimMessages,
  completeAttempts,
  completionsThatFit,
  recordAsyncOutcome,
  renewMessageLeases,
  type AttemptCompletion,
  type ClaimedMessage,
} from '../modules/delivery/index.js';

export interface LaneOptions {
  name: string;
  /** highest priority number this lane takes: 0 = instant only, 3 = every tier (in priority order) */
  maxPriority: number;
  concurrency: number;
  /** each lane has its own transport so its mail never queues behind another lane's connections */
  transport: Transport;
  /** custom-domain regions that deliver differently from `transport` (their own relay or direct delivery) */
  regionTransports?: ReadonlyMap<string, Transport>;
}

/** What happens to one composed message before it is sent: custom domains sign it and pick its envelope and region. */
export interface OutgoingMessage {
  raw: Buffer;
  envelopeFrom: string;
  /** the region whose transport sends it; null = the lane's own */
  region: string | null;
  /** timeline entries recorded with the attempt */
  events: { type: EmailEventType; detail: Record<string, unknown> }[];
}
export type PrepareOutgoing = (message: ClaimedMessage, raw: Buffer) => Promise<OutgoingMessage>;

export interface DeliveryWorkerOptions {
  db: Db;
  signal: QueueSignal;
  log: Logger;
  lanes: LaneOptions[];
  leaseMs: number;
  retryBaseMs: number;
  /** a scheduled email that fires later than this after its time is marked late */
  lateAfterMs: number;
  pollMs?: number;
  /** custom domains (DKIM signing, return path, region); without it mail goes out as composed */
  prepareOutgoing?: PrepareOutgoing;
  /** work composing would do on this thread but is too heavy for it: the text part of large HTML-only mail */
  completeContent?: (content: MailContent) => Promise<MailContent>;
  /** outcome counters and the delivery latency histogram */
  metrics?: Pick<Metrics, 'deliveries' | 'deliveryDuration'>;
  /**
   * The queue signal's topics that announce email, each with the priority of the email it announces (a tier's
   * name and its priority): a lane wakes only for email it takes, not for every job or webhook committed
   */
  topicPriority: Readonly<Record<string, number>>;
  /**
   * Bulk mail is background work (its tier's promise: when the queue is idle). While `paced()` says instant mail
   * flows, a lane delivers at most `slots` emails of `priority` (bulk's) or lower at once, claimed together once
   * the previous ones are done; the other tiers keep every slot. Without it bulk takes every slot at all times.
   */
  bulkPacing?: BulkPacing;
}

export interface BulkPacing {
  /** whether background work gives way now (the BackgroundPacer's window after an instant email) */
  paced: () => boolean;
  /** bulk emails in delivery at once per lane while paced */
  slots: number;
  /** the priority of bulk mail: emails of this priority number or higher are bulk */
  priority: number;
}

/** What a recipient's attempt ended as, in the words of its status: a permanent refusal bounced, retries running out failed. */
const domainOf = (address: string): string => address.slice(address.lastIndexOf('@') + 1);

/**
 * Claims due messages in batches and delivers them. Lanes keep tiers' promises: a lane reserved for instant
 * mail is never busy with bulk, and the shared lane always claims the highest tier first.
 */
export class DeliveryWorker {
  readonly workerId = `${os.hostname()}:${process.pid}:${randomHex(4)}`;
  private readonly lanes: Lane[];
  private readonly completions: GroupCommitter<AttemptCompletion, void>;
  private stopWake: (() => void) | null = null;
  private poller: NodeJS.Timeout | null = null;
  private stopped = false;
  private readonly recording = new Set<Promise<void>>();
  /** every message from its claim until its result is recorded: a slow attempt keeps its lease (README: "Priority tiers and the queue") */
  private readonly leases: LeaseKeeper;
  /** the attempt lines: fields chosen in report(), none secret */
  private readonly attemptLog: Logger;

  constructor(private readonly opts: DeliveryWorkerOptions) {
    this.attemptLog = unredactedLogger(opts.log);
    this.leases = new LeaseKeeper({
      leaseMs: opts.leaseMs,
      renew: (held) => renewMessageLeases(opts.db, { workerId: this.workerId, held, leaseMs: opts.leaseMs }),
      log: opts.log,
      what: 'messages',
    });
    this.completions = new GroupCommitter<AttemptCompletion, void>(
      async (batch) => {
        await completeAttempts(opts.db, batch);
        return batch.map(() => undefined);
      },
      { maxConcurrent: 1, maxBatch: completionsThatFit, lingerMs: 10 },
    );
    this.lanes = opts.lanes.map((l) => new Lane(l, this));
  }

  start(): void {
    this.leases.start();
    this.stopWake = this.opts.signal.onWake((topic) => this.wake(topic));
    this.poller = setInterval(() => this.kick(), this.opts.pollMs ?? 500);
    this.kick();
  }

  kick(): void {
    if (this.stopped) return;
    for (const lane of this.lanes) lane.pump();
  }

  /** A claim costs a query: only the lanes that take the email a topic announces look (all of them after a lost signal). */
  private wake(topic: string): void {
    if (topic === ANY_TOPIC) return this.kick();
    const priority = this.opts.topicPriority[topic];
    if (this.stopped || priority === undefined) return;
    for (const lane of this.lanes) if (priority <= lane.options.maxPriority) lane.pump(priority, this.opts.bulkPacing?.priority);
  }

  /**
   * Stops claiming, waits for in-flight deliveries to finish and for their results to be recorded (results
   * are written in the background, so a stop between a send and its record would otherwise let a restart
   * send it again), then closes the transports. Waits no later than `deadline` (epoch ms): what is still
   * unrecorded then keeps its lease until it lapses, and is retried.
   */
  async stop(opts: { deadline?: number } = {}): Promise<void> {
    this.stopped = true;
    this.stopWake?.();
    if (this.poller) clearInterval(this.poller);
    const left = () => (opts.deadline ?? Infinity) - Date.now();
    const drained = await settleWithin(Promise.all(this.lanes.map((l) => l.loop.drain())), left());
    const recorded = drained && (await settleWithin(this.recordingSettled(), left()));
    if (!recorded) this.opts.log.warn({ unrecorded: this.leases.size }, 'stopped before every delivery was recorded; those emails are retried once their leases lapse');
    this.leases.stop();
    const transports = this.lanes.flatMap((l) => [l.options.transport, ...(l.options.regionTransports?.values() ?? [])]);
    await settleWithin(Promise.all(transports.map((t) => t.close())), left());
  }

  /**
   * One log line per recipient of the attempt (the recipient's domain only: addresses are personal data) and
   * the metrics: an outcome per recipient, and for an email now settled the time since it was accepted or due.
   */
  private report(message: ClaimedMessage, transport: Transport['kind'], outcomes: RecipientOutcome[], completion: AttemptCompletion, ms: number): void {
    const { metrics } = this.opts;
    const log = this.attemptLog;
    const tier = message.tier;
    const durationMs = Math.round(ms);
    for (const r of completion.recipients) {
      // the recorded status is already the outcome's word (platform/lifecycle.ts): sent, delivered, deferred, bounced, failed
      const outcome = r.status;
      metrics?.deliveries.inc({ tier, outcome });
      log.info({ emailId: message.id, tier, attempt: message.attempts, recipientDomain: domainOf(r.email), outcome, smtpCode: r.code, host: r.host, transport, durationMs }, 'delivery attempt');
    }
    if (metrics && completion.status !== 'deferred') {
      const since = (message.scheduled_at ?? message.created_at).getTime();
      metrics.deliveryDuration.observe({ tier, outcome: completion.status }, Math.max(0, Date.now() - since) / 1000);
    }
  }

  /** complained@simulator.invalid: a complaint arrives once its delivery is recorded, as a feedback report would. */
  private async simulateComplaints(completion: AttemptCompletion): Promise<void> {
    for (const r of completion.recipients) {
      if ((r.status !== 'sent' && r.status !== 'delivered') || !simulatedComplaint(r.email)) continue;
      await recordAsyncOutcome(this.opts.db, { emailId: completion.messageId, recipient: r.email, kind: 'complained', bounceClass: null, reason: 'abuse (simulated)' }).catch((err: unknown) => {
        this.opts.log.error({ err, messageId: completion.messageId }, 'could not record the simulated complaint');
      });
    }
  }

  private async recordingSettled(): Promise<void> {
    while (this.recording.size > 0) await Promise.all([...this.recording]);
  }

  /** Emails claimed and not yet recorded: side work in this process (webhooks) holds back while there are any. */
  get busy(): boolean {
    return this.leases.size > 0;
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  /** Whether an email is bulk for bulkPacing (only bulk gives way to instant mail). */
  isBulk(message: ClaimedMessage): boolean {
    const pacing = this.opts.bulkPacing;
    return pacing !== undefined && message.priority >= pacing.priority;
  }

  /**
   * Up to `limit` due emails for the lane, highest tier first. While bulk is paced (bulkPacing) the lane's bulk
   * goes in rounds: the other tiers are claimed first, and bulk only when none of the lane's is in delivery, at
   * most `slots` of it. The other tiers are looked for only when some may have come (lane.otherTiersMayWait), so
   * a bulk email's freed slot costs no query; the unpaced claim stays one statement.
   */
  async claim(lane: Lane, limit: number): Promise<ClaimedMessage[]> {
    const pacing = this.opts.bulkPacing;
    const { maxPriority } = lane.options;
    let claimed: ClaimedMessage[] = [];
    if (!pacing || maxPriority < pacing.priority || !pacing.paced()) {
      lane.otherTiersMayWait = true;
      claimed = await this.claimUpTo(maxPriority, limit);
    } else {
      if (lane.otherTiersMayWait) {
        // cleared before the query, so a wake that comes while it runs is kept for the next pass
        lane.otherTiersMayWait = false;
        claimed = await this.claimUpTo(pacing.priority - 1, limit);
        if (claimed.length === limit) lane.otherTiersMayWait = true;
      }
      const room = lane.bulkInDelivery === 0 ? Math.min(pacing.slots, limit - claimed.length) : 0;
      if (room > 0) claimed = claimed.concat(await this.claimUpTo(maxPriority, room));
    }
    for (const m of claimed) this.leases.hold({ id: m.id, attempts: m.attempts });
    return claimed;
  }

  private claimUpTo(maxPriority: number, limit: number): Promise<ClaimedMessage[]> {
    return claimMessages(this.opts.db, { workerId: this.workerId, limit, maxPriority, leaseMs: this.opts.leaseMs });
  }

  /** One message in its lane's slot; a delivery that failed before its result was submitted lets its lease lapse. */
  async process(lane: LaneOptions, message: ClaimedMessage): Promise<void> {
    try {
      await this.deliverOne(lane, message);
    } catch (err) {
      this.leases.release({ id: message.id, attempts: message.attempts });
      this.opts.log.error({ err, messageId: message.id }, 'delivery failed before its result was recorded');
    }
  }

  async deliverOne(lane: LaneOptions, message: ClaimedMessage): Promise<void> {
    const started = performance.now();
    const recipients = message.recipients;
    const waiting = recipients.filter((r) => r.status === 'pending' || r.status === 'deferred');
    // a suppressed address is not attempted; the others of the same email go out (README, "Unsubscribe and the suppression list")
    // suppressed@simulator.invalid behaves as listed (platform/mail/simulator.ts)
    const reasonOf = (r: ClaimedMessage['recipients'][number]) => r.suppressed ?? (simulatedSuppression(r.email) ? 'simulated' : null);
    const suppressed = waiting.flatMap((r) => {
      const reason = reasonOf(r);
      return reason !== null ? [{ position: r.position, email: r.email, reason }] : [];
    });
    const pending = waiting.filter((r) => reasonOf(r) === null);
    let outcomes: (RecipientOutcome & { position: number })[] = [];
    let transport = lane.transport;
    const notes: OutgoingMessage['events'] = [];
    if (pending.length === 0) {
      // nothing to attempt: every recipient still waiting is suppressed
    } else if (message.attempts > message.max_attempts) {
      // claimed again after crashes used up its attempts: settle it instead of trying forever
      outcomes = pending.map((r) => ({ position: r.position, recipient: r.email, status: 'deferred', code: null, response: 'delivery interrupted repeatedly', host: null }));
    } else {
      try {
        const content = toMailContent(message, recipients);
        const composed = await composeMessage(this.opts.completeContent ? await this.opts.completeContent(content) : content);
        const out = this.opts.prepareOutgoing ? await this.opts.prepareOutgoing(message, composed) : { raw: composed, envelopeFrom: message.from_email, region: null, events: [] };
        transport = (out.region !== null ? lane.regionTransports?.get(out.region) : undefined) ?? lane.transport;
        notes.push(...out.events);
        const result = await transport.send({ from: out.envelopeFrom, to: pending.map((r) => r.email) }, out.raw, { messageId: message.id, workspaceId: message.workspace_id, subject: message.subject });
        outcomes = pending.map((r, i) => ({ ...result[i]!, position: r.position }));
      } catch (err) {
        this.opts.log.error({ err, messageId: message.id }, 'delivery attempt crashed');
        outcomes = pending.map((r) => ({ position: r.position, recipient: r.email, status: 'deferred', code: null, response: `internal error: ${(err as Error).message}`, host: null }));
      }
    }
    const completion = decideCompletion({
      message,
      workerId: this.workerId,
      transport: transport.kind,
      outcomes,
      suppressed,
      earlier: recipients.filter((r) => r.status !== 'pending' && r.status !== 'deferred').map((r) => r.status),
      previouslyDelivered: recipients.filter((r) => r.status === 'delivered' || r.status === 'sent').length,
      retryBaseMs: this.opts.retryBaseMs,
    });
    completion.events.push(...notes);
    this.report(message, transport.kind, outcomes, completion, performance.now() - started);
    const lateBy = message.scheduled_at && message.attempts === 1 ? Date.now() - message.scheduled_at.getTime() : 0;
    if (lateBy > this.opts.lateAfterMs) {
      // fired after downtime: sent on recovery, and said so on the timeline
      completion.events.push({ type: 'late', detail: { scheduled_at: message.scheduled_at!.toISOString(), late_by_seconds: Math.round(lateBy / 1000) } });
    }
    // The slot is freed without waiting for the result to be written: results are grouped into few commits,
    // and the message's lease keeps it from being claimed again meanwhile.
    const recording = this.completions
      .submit(completion)
      .then(() => this.simulateComplaints(completion))
      .catch((err: unknown) => {
        // the lease will expire and the message be retried: at-least-once, never lost
        this.opts.log.error({ err, messageId: message.id }, 'could not record delivery attempt');
      });
    this.recording.add(recording);
    void recording.finally(() => {
      this.recording.delete(recording);
      this.leases.release({ id: message.id, attempts: message.attempts });
    });
  }
}

/** A lane: its options, the claim loop that feeds it, and what paced bulk delivery needs to know of it. */
class Lane {
  readonly loop: ClaimLoop<ClaimedMessage>;
  /** bulk emails of this lane from their claim until their slot is free (bulkPacing) */
  bulkInDelivery = 0;
  /** whether emails of the tiers above bulk may be due: set by their wakes and the poller, cleared by a claim that found all there were */
  otherTiersMayWait = true;

  constructor(
    readonly options: LaneOptions,
    worker: DeliveryWorker,
  ) {
    this.loop = new ClaimLoop({
      concurrency: options.concurrency,
      minClaim: Math.max(1, Math.floor(options.concurrency / 2)),
      maxBatch: 50,
      claim: async (limit) => {
        const claimed = await worker.claim(this, limit);
        for (const m of claimed) if (worker.isBulk(m)) this.bulkInDelivery++;
        return claimed;
      },
      process: async (message) => {
        try {
          await worker.process(options, message);
        } finally {
          if (worker.isBulk(message)) this.bulkInDelivery--;
        }
      },
      stopped: () => worker.isStopped,
    });
  }

  /** Something for this lane may be due: `priority` is the email's, undefined when unknown (the poller, a lost signal). */
  pump(priority?: number, bulkPriority = Number.POSITIVE_INFINITY): void {
    if (priority === undefined || priority < bulkPriority) this.otherTiersMayWait = true;
    this.loop.pump();
  }
}
