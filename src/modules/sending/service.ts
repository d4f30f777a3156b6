import type { Config } from '../../config/config.js';
import type { Tier } from '../../platform/lifecycle.js';
import { canonicalJson } from '../../platform/canonical-json.js';
import { sha256Hex } from '../../platform/crypto.js';
import type { Db, Tx } from '../../platform/db/database.js';
import type { TemplateVersionRow } from '../../platform/db/schema.js';
import type { Cursor } from '../../platform/http/cursor.js';
import { ApiError } from '../../platform/http/errors.js';
import { newEmailId, newScheduledEmailId } from '../../platform/ids.js';
import { GroupCommitter } from '../../platform/queue/group-commit.js';
import type { QueueSignal } from '../../platform/queue/signal.js';
import type { TokenSigner } from '../../platform/tokens.js';
import type { AuthenticatedKey } from '../keys/index.js';
import type { PlanService } from '../plans/index.js';
import type { TemplateService } from '../templates/index.js';
import { sendResponse } from './response.js';
import type { SendResponse } from './schemas.js';
import { checkWindow, type ScheduleTime } from './schedule-time.js';
import type { NormalizedEmail, ScheduleRequest, SendRequest } from './send-schema.js';
import * as store from './store.js';
import { TIER_POLICIES } from './tiers.js';

export interface AcceptOptions {
  key: AuthenticatedKey;
  tier: Tier;
  request: SendRequest;
  idempotencyKey?: string;
}

/** Rewrites an email's HTML for open and click tracking (modules/tracking); the links it rewrote, by index. */
export interface LinkTracker {
  apply(emailId: string, html: string, choice: { opens: boolean; clicks: boolean }): Promise<{ html: string; links: string[] }>;
}

/** Decides whether a key may send from an address (custom domains); throws an ApiError when not. */
export interface SenderPolicy {
  check(key: AuthenticatedKey, fromEmail: string): Promise<void>;
}

export interface SendingDeps {
  db: Db;
  signal: QueueSignal;
  config: Pick<Config, 'messageIdDomain' | 'defaultFrom' | 'publicUrl' | 'scheduleMinSeconds' | 'scheduleMaxDays'>;
  templates: TemplateService;
  plans: PlanService;
  tokens: TokenSigner;
  senderPolicy?: SenderPolicy;
  /** without it nothing is tracked */
  tracker?: LinkTracker;
  maxConcurrentCommits: number;
  /** hears each email committed by this process (metrics); not replays of an idempotent request */
  onAccepted?: (tier: string) => void;
}

/** What an automation's send_email step asks for (prepareAutomationEmail). */
export interface AutomationEmail {
  workspaceId: string;
  tier: Tier;
  to: { email: string; name?: string };
  from: { email: string; name?: string };
  templateId: string;
  /** Handlebars; the template's subject when absent */
  subject?: string;
  /** the template's variables */
  params: Record<string, unknown>;
  tracking: { opens: boolean; clicks: boolean };
  tags: string[];
  metadata: Record<string, unknown>;
}

/** An email prepared for writing in someone else's transaction (SendingService.insertPrepared). */
export type PreparedEmail = store.QueuedEmail;

interface Prepared {
  item: store.QueuedEmail;
  response: SendResponse;
}

/**
 * Hosted URLs every email can link to; the tokens are signed so they cannot be guessed or forged. The
 * unsubscribe token names the email, and the recipient (by position) when the email has exactly one: then an
 * unsubscribe knows whom to suppress (README, "Unsubscribe and the suppression list").
 */
export function hostedUrls(publicUrl: string, tokens: TokenSigner, emailId: string, recipientPosition: number | null = null) {
  return {
    unsubscribeUrl: `${publicUrl}/u/${tokens.sign(UNSUBSCRIBE_TOKEN_PURPOSE, recipientPosition === null ? emailId : `${emailId}/${recipientPosition}`)}`,
    viewInBrowserUrl: `${publicUrl}/v/${tokens.sign('view', emailId)}`,
  };
}

/** The purpose unsubscribe links are signed for (platform/tokens.ts). */
export const UNSUBSCRIBE_TOKEN_PURPOSE = 'unsubscribe';
const ONE_CLICK = 'List-Unsubscribe=One-Click';

/**
 * RFC 2369 / RFC 8058 headers for mail people can unsubscribe from: every `bulk` email, and every email whose
 * template put the unsubscribe link in it. A sender's own List-Unsubscribe is kept as it is (they run their own
 * list; header-policy.ts checks it), and then ours is not added.
 */
function withListUnsubscribe(headers: Record<string, string>, unsubscribeUrl: string): Record<string, string> {
  if (Object.keys(headers).some((k) => k.toLowerCase() === 'list-unsubscribe')) return headers;
  return { ...headers, 'List-Unsubscribe': `<${unsubscribeUrl}>`, 'List-Unsubscribe-Post': ONE_CLICK };
}

export class SendingService {
  private readonly committer: GroupCommitter<store.QueuedEmail, void>;

  constructor(private readonly deps: SendingDeps) {
    this.committer = new GroupCommitter<store.QueuedEmail, void>(
      async (items) => {
        await store.writeAcceptedBatch(deps.db, deps.signal, items);
        return items.map(() => undefined);
      },
      { maxConcurrent: deps.maxConcurrentCommits, maxBatch: store.batchSizeFor },
    );
  }

  /** Commits the email before answering: once this resolves the email cannot be lost. */
  async accept(opts: AcceptOptions): Promise<SendResponse> {
    requireRegularKey(opts.key);
    // A time on a plain send is scheduled in the endpoint's tier, never dropped (README, Scheduled sending).
    const { email, when } = opts.request;
    if (when) this.checkScheduling(opts.key, when);
    return this.commit(opts.key, `send:${opts.tier}`, opts.request, opts.idempotencyKey, () => this.prepare(opts.key, opts.tier, email, when));
  }

  /** POST /send-email/schedule, its body read by scheduleEmailBody (nested or flat, any time field). */
  async schedule(opts: { key: AuthenticatedKey; request: ScheduleRequest; idempotencyKey?: string }): Promise<SendResponse> {
    requireRegularKey(opts.key);
    const { email, when, tier } = opts.request;
    this.checkScheduling(opts.key, when);
    return this.commit(opts.key, 'schedule', opts.request, opts.idempotencyKey, () => this.prepare(opts.key, tier, email, when));
  }

  /** The plan allows scheduling and the time is inside the window. */
  private checkScheduling(key: AuthenticatedKey, when: ScheduleTime): void {
    this.deps.plans.requireScheduling(key);
    checkWindow(when.at, new Date(), this.deps.config.scheduleMinSeconds, this.deps.config.scheduleMaxDays);
  }

  private async commit(
    key: AuthenticatedKey,
    scope: string,
    request: SendRequest | ScheduleRequest,
    idempotencyKey: string | undefined,
    prepare: () => Promise<Prepared>,
  ): Promise<SendResponse> {
    let idem: { key: string; requestHash: string } | null = null;
    if (idempotencyKey !== undefined) {
      idem = { key: validateIdempotencyKey(idempotencyKey), requestHash: requestHash(scope, request) };
      const previous = await store.findIdempotencyRecord(this.deps.db, key.workspaceId, idem.key);
      if (previous) return replay(previous, idem.requestHash);
    }
    const { item, response } = await prepare();
    const reservation = await this.deps.plans.reserve(key.workspaceId, key.plan, item.recipients.length);
    try {
      if (!idem) {
        await this.committer.submit(item);
        this.deps.onAccepted?.(item.message.tier);
        return response;
      }
      const winner = await store.writeIdempotentEmail(this.deps.db, this.deps.signal, item, { workspaceId: key.workspaceId, key: idem.key, requestHash: idem.requestHash, response });
      if (!winner) {
        this.deps.onAccepted?.(item.message.tier);
        return response;
      }
      await reservation.release(); // a concurrent retry won; this request sent nothing
      return replay(winner, idem.requestHash);
    } catch (err) {
      await reservation.release();
      throw err;
    }
  }

  private async prepare(key: AuthenticatedKey, tier: Tier, email: NormalizedEmail, when: ScheduleTime | null): Promise<Prepared> {
    const from = email.from ?? { email: this.deps.config.defaultFrom };
    if (this.deps.senderPolicy) await this.deps.senderPolicy.check(key, from.email);
    const now = new Date();
    const id = when ? newScheduledEmailId(now.getTime()) : newEmailId(now.getTime());
    let content = { subject: email.subject ?? '', html: email.html, text: email.text };
    let template: { id: string; version: number } | null = null;
    const recipientsCount = email.to.length + email.cc.length + email.bcc.length;
    const urls = hostedUrls(this.deps.config.publicUrl, this.deps.tokens, id, recipientsCount === 1 ? 0 : null);
    let linksUnsubscribe = false;
    if (email.templateId !== null) {
      const rendered = await this.deps.templates.renderForSend(key.workspaceId, email.templateId, email.params, urls);
      // the URL is signed for this email alone, so finding it means the template used {{unsubscribeUrl}}
      linksUnsubscribe = rendered.html.includes(urls.unsubscribeUrl) || (rendered.text?.includes(urls.unsubscribeUrl) ?? false);
      // a non-empty subject in the request overrides the template's (decisions §2)
      content = { subject: email.subject || rendered.subject, html: rendered.html, text: rendered.text };
      template = { id: rendered.templateId, version: rendered.version };
      if (!content.subject) throw new ApiError('VALIDATION_ERROR', "Field 'subject' is required: the template has no subject");
    }
    const headers = tier === 'bulk' || linksUnsubscribe ? withListUnsubscribe(email.headers, urls.unsubscribeUrl) : email.headers;
    // The HTML is final here (the request's, or the template's rendered): tracking rewrites it once, before it is
    // stored, so what delivery DKIM-signs and sends is the tracked HTML. Only HTML is tracked (README, "Tracking").
    const choice = { opens: email.tracking.opens ?? key.tracking.opens, clicks: email.tracking.clicks ?? key.tracking.clicks };
    let tracking: Tracking = NOT_TRACKED;
    if (content.html !== null && this.deps.tracker && (choice.opens || choice.clicks)) {
      const tracked = await this.deps.tracker.apply(id, content.html, choice);
      content = { ...content, html: tracked.html };
      tracking = { ...choice, links: tracked.links };
    }
    const item = buildQueuedEmail({ id, now, workspaceId: key.workspaceId, apiKeyId: key.id, tier, email: { ...email, headers }, from, content, template, tracking, when, messageIdDomain: this.deps.config.messageIdDomain });
    const response = sendResponse({
      id,
      tier,
      from: from.email,
      to: email.to.map((a) => a.email),
      subject: content.subject,
      createdAt: now,
      recipientsCount: item.recipients.length,
      ...(when ? { schedule: when } : {}),
    });
    return { item, response };
  }

  /**
   * An email the server sends on a workspace's behalf, not one its keys asked for (the subscribe form's
   * confirmation): from DEFAULT_FROM, no key, no template. It does not count against the plan's quota: anyone
   * can submit a public form, so counting it would let strangers use up a workspace's sending (README,
   * "Hosted subscribe page"); the form's rate limit bounds it instead.
   */
  async acceptSystemEmail(o: { workspaceId: string; tier: Tier; to: string; subject: string; text: string; html: string; tags: string[] }): Promise<{ id: string }> {
    const now = new Date();
    const id = newEmailId(now.getTime());
    const email: NormalizedEmail = {
      from: null,
      to: [{ email: o.to }],
      cc: [],
      bcc: [],
      replyTo: [],
      subject: o.subject,
      html: o.html,
      text: o.text,
      headers: {},
      attachments: [],
      metadata: {},
      tags: o.tags,
      templateId: null,
      params: {},
      // the server's own email (a subscription to confirm) is never tracked
      tracking: { opens: false, clicks: false },
    };
    const item = buildQueuedEmail({
      id,
      now,
      workspaceId: o.workspaceId,
      apiKeyId: null,
      tier: o.tier,
      email,
      from: { email: this.deps.config.defaultFrom },
      content: { subject: o.subject, html: o.html, text: o.text },
      template: null,
      tracking: NOT_TRACKED,
      when: null,
      messageIdDomain: this.deps.config.messageIdDomain,
    });
    await this.committer.submit(item);
    this.deps.onAccepted?.(o.tier);
    return { id };
  }

  /**
   * The emails of automations' send_email steps (modules/automations), each rendered, tracked and given its
   * List-Unsubscribe here, by the rules every email follows, but not written: the engine writes them with
   * insertPrepared in the transaction that records their steps, so a step and its email commit together. No key
   * sent them (api_key_id null); the caller checked the senders and counts the plan's quota. Each item comes back
   * as its email or as the error that stopped it.
   */
  async prepareAutomationEmails(items: readonly AutomationEmail[]): Promise<({ email: store.QueuedEmail } | { error: unknown })[]> {
    // one look-up per template, however many emails of the batch use it
    const versions = new Map<string, Promise<TemplateVersionRow>>();
    const versionOf = (o: AutomationEmail) => {
      const key = `${o.workspaceId}:${o.templateId}`;
      let v = versions.get(key);
      if (!v) {
        v = this.deps.templates.currentForSend(o.workspaceId, o.templateId);
        v.catch(() => undefined);
        versions.set(key, v);
      }
      return v;
    };
    const out: ({ email: store.QueuedEmail } | { error: unknown })[] = [];
    // a few at a time: most renders run on the event loop (templates/renderer.ts), so it yields between groups
    for (let i = 0; i < items.length; i += 16) {
      const group = await Promise.all(
        items.slice(i, i + 16).map(async (o) => {
          try {
            return { email: await this.prepareAutomationEmail(o, await versionOf(o)) };
          } catch (error) {
            return { error };
          }
        }),
      );
      out.push(...group);
      await new Promise((resolve) => setImmediate(resolve));
    }
    return out;
  }

  private async prepareAutomationEmail(o: AutomationEmail, version: TemplateVersionRow): Promise<store.QueuedEmail> {
    const now = new Date();
    const id = newEmailId(now.getTime());
    const urls = hostedUrls(this.deps.config.publicUrl, this.deps.tokens, id, 0);
    const rendered = await this.deps.templates.renderVersion(version, o.params, urls);
    const subject = o.subject ? await this.deps.templates.renderSubject(o.subject, { ...o.params, ...urls }) : rendered.subject;
    if (!subject) throw new ApiError('VALIDATION_ERROR', `The step has no subject and template ${o.templateId} has none either`);
    let content = { subject, html: rendered.html, text: rendered.text };
    let tracking: Tracking = NOT_TRACKED;
    if (this.deps.tracker && (o.tracking.opens || o.tracking.clicks)) {
      const tracked = await this.deps.tracker.apply(id, content.html, o.tracking);
      content = { ...content, html: tracked.html };
      tracking = { ...o.tracking, links: tracked.links };
    }
    const email: NormalizedEmail = {
      from: o.from,
      to: [o.to],
      cc: [],
      bcc: [],
      replyTo: [],
      subject,
      html: content.html,
      text: content.text,
      // mail a contact gets because of a list it is on: unsubscribable like bulk mail, whatever the tier
      headers: withListUnsubscribe({}, urls.unsubscribeUrl),
      attachments: [],
      metadata: o.metadata,
      tags: o.tags,
      templateId: rendered.templateId,
      params: {},
      tracking: o.tracking,
    };
    return buildQueuedEmail({
      id,
      now,
      workspaceId: o.workspaceId,
      apiKeyId: null,
      tier: o.tier,
      email,
      from: o.from,
      content,
      template: { id: rendered.templateId, version: rendered.version },
      tracking,
      when: null,
      messageIdDomain: this.deps.config.messageIdDomain,
    });
  }

  /** Writes prepared emails in the caller's transaction and wakes their tiers' workers when it commits. */
  async insertPrepared(trx: Tx, items: store.QueuedEmail[]): Promise<string[]> {
    if (items.length === 0) return [];
    for (let i = 0; i < items.length; ) {
      const n = Math.max(1, store.batchSizeFor(items.slice(i)));
      await store.insertQueuedEmails(trx, items.slice(i, i + n));
      i += n;
    }
    const tiers = [...new Set(items.map((i) => i.message.tier))];
    for (const t of tiers) await this.deps.signal.notifyInTransaction(trx, t);
    return tiers;
  }

  /** After the transaction of insertPrepared committed: wakes this process's workers at once. */
  accepted(items: store.QueuedEmail[]): void {
    for (const t of new Set(items.map((i) => i.message.tier))) this.deps.signal.wakeLocal(t);
    for (const i of items) this.deps.onAccepted?.(i.message.tier);
  }

  async listScheduled(scope: store.SenderScope, limit: number, cursor?: Cursor) {
    const rows = await store.listScheduled(this.deps.db, scope, limit + 1, cursor);
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return { emails: page, hasMore: rows.length > limit, last: last ? { createdAt: last.scheduled_at!, id: last.id } : undefined };
  }

  /** Only before hand-off to delivery; a second cancel, or one after sending, is a 409 saying what happened. */
  async cancelScheduled(scope: store.SenderScope, id: string): Promise<{ id: string; status: 'cancelled' }> {
    const cancelled = await store.cancelScheduled(this.deps.db, scope, id);
    if (cancelled) {
      await this.deps.plans.refund(scope.workspaceId, cancelled.created_at, cancelled.recipients_count);
      return { id, status: 'cancelled' };
    }
    const status = await store.statusOf(this.deps.db, scope, id);
    if (!status) throw new ApiError('NOT_FOUND', `Scheduled email ${id} not found`);
    if (status === 'cancelled') throw new ApiError('CONFLICT', `Scheduled email ${id} is already cancelled`);
    throw new ApiError('CONFLICT', `Scheduled email ${id} can no longer be cancelled: it was handed to delivery (status: ${status})`);
  }
}

/** What was decided for an email: stored with it, so get-email shows it and the click route finds the links. */
interface Tracking {
  opens: boolean;
  clicks: boolean;
  links: string[];
}

const NOT_TRACKED: Tracking = { opens: false, clicks: false, links: [] };

function buildQueuedEmail(o: {
  id: string;
  now: Date;
  workspaceId: string;
  /** null for the server's own emails to a workspace's contacts (acceptSystemEmail) */
  apiKeyId: string | null;
  tier: Tier;
  email: NormalizedEmail;
  from: { email: string; name?: string };
  content: { subject: string; html: string | null; text: string | null };
  template: { id: string; version: number } | null;
  tracking: Tracking;
  when: ScheduleTime | null;
  messageIdDomain: string;
}): store.QueuedEmail {
  const policy = TIER_POLICIES[o.tier];
  const recipients = [
    ...o.email.to.map((a) => ({ ...a, kind: 'to' as const })),
    ...o.email.cc.map((a) => ({ ...a, kind: 'cc' as const })),
    ...o.email.bcc.map((a) => ({ ...a, kind: 'bcc' as const })),
  ];
  return {
    message: {
      id: o.id,
      workspace_id: o.workspaceId,
      api_key_id: o.apiKeyId,
      tier: o.tier,
      priority: policy.priority,
      status: o.when ? 'scheduled' : 'queued',
      from_email: o.from.email,
      from_name: o.from.name ?? null,
      reply_to: JSON.stringify(o.email.replyTo),
      subject: o.content.subject,
      html: o.content.html,
      text_body: o.content.text,
      headers: JSON.stringify(o.email.headers),
      attachments: JSON.stringify(o.email.attachments),
      metadata: JSON.stringify(o.email.metadata),
      tags: JSON.stringify(o.email.tags),
      message_id_header: `<${o.id}@${o.messageIdDomain}>`,
      recipients_count: recipients.length,
      max_attempts: policy.retries + 1,
      // a scheduled email is claimable from its time on, like any due message
      next_attempt_at: o.when?.at ?? o.now,
      created_at: o.now,
      updated_at: o.now,
      template_id: o.template?.id ?? null,
      template_version: o.template?.version ?? null,
      scheduled_at: o.when?.at ?? null,
      timezone: o.when?.timezone ?? null,
      track_opens: o.tracking.opens,
      track_clicks: o.tracking.clicks,
      tracked_links: o.tracking.links.length > 0 ? JSON.stringify(o.tracking.links) : null,
    },
    recipients: recipients.map((r, position) => ({
      message_id: o.id,
      position,
      kind: r.kind,
      email: r.email,
      name: r.name ?? null,
      smtp_code: null,
      smtp_response: null,
      updated_at: o.now,
    })),
    event: {
      message_id: o.id,
      type: o.when ? 'scheduled' : 'queued',
      recipient: null,
      attempt: null,
      smtp_host: null,
      smtp_code: null,
      smtp_response: null,
      detail: JSON.stringify({ tier: o.tier, ...(o.when ? { scheduled_at: o.when.at.toISOString(), timezone: o.when.timezone } : {}), ...(o.template ? { template_id: o.template.id, template_version: o.template.version } : {}) }),
      created_at: o.now,
    },
  };
}

/**
 * What a retry must repeat to be the same request: the parsed request, so spellings of the same email
 * (`to` as a string or a list, `meta` or `metadata`) are one request and any difference in the email is another.
 */
function requestHash(scope: string, request: SendRequest | ScheduleRequest): string {
  const when = request.when && { at: request.when.at.toISOString(), timezone: request.when.timezone };
  return sha256Hex(`${scope}\n${canonicalJson({ ...request, when })}`);
}

function requireRegularKey(key: AuthenticatedKey): void {
  if (key.kind !== 'regular') throw new ApiError('FORBIDDEN', 'Sending requires a regular API key (kms_….live_…); admin keys cannot send email');
}

function replay(record: store.IdempotencyRecord, requestHash: string): SendResponse {
  if (record.request_hash !== requestHash) throw new ApiError('IDEMPOTENCY_CONFLICT', 'This Idempotency-Key was already used with a different request body');
  // stored as it was first answered
  return record.response as SendResponse;
}

function validateIdempotencyKey(value: string): string {
  const key = value.trim();
  if (key === '' || key.length > 255 || /[^\x21-\x7e]/.test(key)) {
    throw new ApiError('VALIDATION_ERROR', "Header 'Idempotency-Key' must be 1-255 printable ASCII characters");
  }
  return key;
}
