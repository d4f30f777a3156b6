import type { Tier } from '../../config/config.js';
import type { RecipientOutcome } from '../../platform/mail/types.js';
import { retryDelayMs } from '../sending/tiers.js';
import type { AttemptCompletion, ClaimedMessage, RecipientResult } from './store.js';

/**
 * Turns one attempt's per-recipient outcomes into the message's next state: final when every recipient
 * is settled, deferred with backoff while a temporary failure has retries left, failed when they ran out.
 */
export function decideCompletion(opts: {
  message: ClaimedMessage;
  workerId: string;
  transport: string;
  outcomes: (RecipientOutcome & { position: number })[];
  previouslyDelivered: number;
  retryBaseMs: number;
  now?: Date;
}): AttemptCompletion {
  const { message } = opts;
  const now = opts.now ?? new Date();
  const retriesLeft = message.attempts < message.max_attempts;
  const events: AttemptCompletion['events'] = [];
  const recipients: RecipientResult[] = opts.outcomes.map((o) => {
    const exhausted = o.status === 'deferred' && !retriesLeft;
    return {
      position: o.position,
      email: o.recipient,
      status: exhausted ? 'failed' : o.status,
      code: o.code,
      response: exhausted ? `${o.response} (gave up after ${message.attempts} attempts)` : o.response,
      host: o.host,
    };
  });
  const delivered = opts.previouslyDelivered + recipients.filter((r) => r.status === 'delivered').length;
  const deferred = recipients.filter((r) => r.status === 'deferred');
  const failed = recipients.filter((r) => r.status === 'failed');
  const successStatus = opts.transport === 'smtp' ? 'sent' : 'delivered';
  const lastError = [...deferred, ...failed][0]?.response ?? null;

  let status: string;
  let nextAttemptAt: Date | null = null;
  if (deferred.length > 0) {
    status = 'deferred';
    nextAttemptAt = new Date(now.getTime() + retryDelayMs(message.tier as Tier, message.attempts, opts.retryBaseMs));
  } else if (delivered > 0) {
    status = successStatus;
  } else {
    const gaveUp = opts.outcomes.some((o) => o.status === 'deferred');
    status = gaveUp ? 'failed' : 'bounced';
    events.push({ type: gaveUp ? 'failed' : 'bounced', detail: { reason: lastError, attempts: message.attempts } });
  }
  return {
    messageId: message.id,
    workerId: opts.workerId,
    attempt: message.attempts,
    status,
    nextAttemptAt,
    transport: opts.transport,
    lastError,
    sentAt: delivered > 0 ? now : null,
    deliveredAt: delivered > 0 && successStatus === 'delivered' && deferred.length === 0 ? now : null,
    failedAt: status === 'failed' || status === 'bounced' ? now : null,
    recipients,
    events,
  };
}
