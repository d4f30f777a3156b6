import type { Config, Tier } from '../../config/config.js';
import { canonicalJson } from '../../platform/canonical-json.js';
import { sha256Hex } from '../../platform/crypto.js';
import type { Db } from '../../platform/db/database.js';
import { ApiError } from '../../platform/http/errors.js';
import { newEmailId } from '../../platform/ids.js';
import { GroupCommitter } from '../../platform/queue/group-commit.js';
import type { QueueSignal } from '../../platform/queue/signal.js';
import type { AuthenticatedKey } from '../keys/service.js';
import { normalizeSendBody, type NormalizedEmail } from './normalize.js';
import { sendResponse } from './response.js';
import * as store from './store.js';
import { TIER_POLICIES } from './tiers.js';

export interface AcceptOptions {
  key: AuthenticatedKey;
  tier: Tier;
  body: unknown;
  idempotencyKey?: string;
}

export class SendingService {
  private readonly committer: GroupCommitter<store.QueuedEmail, void>;

  constructor(
    private readonly db: Db,
    private readonly signal: QueueSignal,
    private readonly config: Pick<Config, 'messageIdDomain' | 'defaultFrom'>,
    opts: { maxConcurrentCommits: number },
  ) {
    this.committer = new GroupCommitter<store.QueuedEmail, void>(
      async (items) => {
        await store.writeAcceptedBatch(this.db, this.signal, items);
        return items.map(() => undefined);
      },
      { maxConcurrent: opts.maxConcurrentCommits, maxBatch: store.batchSizeFor },
    );
  }

  /** Validates, then commits the email before answering: once this resolves the email cannot be lost. */
  async accept(opts: AcceptOptions): Promise<Record<string, unknown>> {
    if (opts.key.kind !== 'regular') {
      throw new ApiError('FORBIDDEN', 'Sending requires a regular API key (kms_….live_…); admin keys cannot send email');
    }
    const email = normalizeSendBody(opts.body);
    if (email.templateId !== null) {
      throw new ApiError('INVALID_TEMPLATE', `Template ${email.templateId} not found in this workspace`);
    }
    const item = this.buildQueuedEmail(opts.key, opts.tier, email);
    const response = sendResponse({
      id: item.message.id,
      tier: opts.tier,
      from: item.message.from_email,
      to: email.to.map((a) => a.email),
      subject: item.message.subject,
      createdAt: item.message.created_at as Date,
      recipientsCount: item.recipients.length,
    });

    if (opts.idempotencyKey === undefined) {
      await this.committer.submit(item);
      return response;
    }
    const idem = validateIdempotencyKey(opts.idempotencyKey);
    const requestHash = sha256Hex(`${opts.tier}\n${canonicalJson(opts.body)}`);
    const previous = await store.findIdempotencyRecord(this.db, opts.key.workspaceId, idem);
    const winner = previous ?? (await store.writeIdempotentEmail(this.db, this.signal, item, { workspaceId: opts.key.workspaceId, key: idem, requestHash, response }));
    if (!winner) return response;
    if (winner.request_hash !== requestHash) {
      throw new ApiError('IDEMPOTENCY_CONFLICT', 'This Idempotency-Key was already used with a different request body');
    }
    return winner.response;
  }

  private buildQueuedEmail(key: AuthenticatedKey, tier: Tier, email: NormalizedEmail): store.QueuedEmail {
    const now = new Date();
    const id = newEmailId(now.getTime());
    const from = email.from ?? { email: this.config.defaultFrom };
    const policy = TIER_POLICIES[tier];
    const recipients = [
      ...email.to.map((a) => ({ ...a, kind: 'to' as const })),
      ...email.cc.map((a) => ({ ...a, kind: 'cc' as const })),
      ...email.bcc.map((a) => ({ ...a, kind: 'bcc' as const })),
    ];
    return {
      message: {
        id,
        workspace_id: key.workspaceId,
        api_key_id: key.id,
        tier,
        priority: policy.priority,
        status: 'queued',
        from_email: from.email,
        from_name: from.name ?? null,
        reply_to: JSON.stringify(email.replyTo),
        subject: email.subject ?? '',
        html: email.html,
        text_body: email.text,
        headers: JSON.stringify(email.headers),
        attachments: JSON.stringify(email.attachments),
        metadata: JSON.stringify(email.metadata),
        tags: JSON.stringify(email.tags),
        message_id_header: `<${id}@${this.config.messageIdDomain}>`,
        recipients_count: recipients.length,
        max_attempts: policy.retries + 1,
        next_attempt_at: now,
        created_at: now,
        updated_at: now,
      },
      recipients: recipients.map((r, position) => ({
        message_id: id,
        position,
        kind: r.kind,
        email: r.email,
        name: r.name ?? null,
        smtp_code: null,
        smtp_response: null,
        updated_at: now,
      })),
      event: { message_id: id, type: 'queued', recipient: null, attempt: null, smtp_host: null, smtp_code: null, smtp_response: null, detail: JSON.stringify({ tier }), created_at: now },
    };
  }
}

function validateIdempotencyKey(value: string): string {
  const key = value.trim();
  if (key === '' || key.length > 255 || /[^\x21-\x7e]/.test(key)) {
    throw new ApiError('VALIDATION_ERROR', "Header 'Idempotency-Key' must be 1-255 printable ASCII characters");
  }
  return key;
}
