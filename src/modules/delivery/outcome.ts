import type { AttemptOutcome, EmailStatus } from '../../platform/lifecycle.js';
import { classifyBounce } from '../../platform/mail/bounce-class.js';
import type { RecipientOutcome } from '../../platform/mail/types.js';
import { retryDelayMs } from '../sending/index.js';
import type { AttemptCompletion, ClaimedMessage, RecipientResult } from './store.js';

/**
 * Turns one attempt's per-recipient outcomes into the message's next state. Each recipient ends `sent` (taken by
 * the relay) or `delivered` (taken by its own mail server, or stored by capture), `bounced` (refused for good) or
 * `failed` (temporary failures outlasted the retries), or stays `deferred` while retries remain.
 *
 * The email's status when its recipients ended differently (the README's "Email status and logs"): `deferred`
 * while any recipient waits for a retry; else `sent`/`delivered` when any recipient was accepted; else `failed`
 * when any recipient's retries ran out; else `bounced`; else (every recipient on the suppression list, none
 * attempted) `suppressed`. The recipients and their counts say the rest.
 */
export function decideCompletion(opts: {
  message: ClaimedMessage;
  workerId: string;
  transport: string;
  outcomes: (RecipientOutcome & { position: number })[];
  /** recipients accepted (`sent` or `delivered`) by earlier attempts */
  previouslyDelivered: number;
  /** recipients not attempted because their address is suppressed (store.claimMessages), with the list's reason */
  suppressed?: { position: number; email: string; reason: string }[];
  /** the final statuses recipients reached in earlier attempts: one that bounced then keeps the email from being `suppressed` */
  earlier?: readonly string[];
  retryBaseMs: number;
  now?: Date;
}): AttemptCompletion {
  const { message } = opts;
  const now = opts.now ?? new Date();
  const retriesLeft = message.attempts < message.max_attempts;
  const acceptedStatus = opts.transport === 'smtp' ? 'sent' : 'delivered';
  const events: AttemptCompletion['events'] = [];
  const recipients: RecipientResult[] = opts.outcomes.map((o) => {
    const exhausted = o.status === 'deferred' && !retriesLeft;
    const status = recipientStatusOf(o.status, exhausted, acceptedStatus);
    const result: RecipientResult = {
      position: o.position,
      email: o.recipient,
      status,
      code: o.code,
      response: exhausted ? `${o.response} (gave up after ${message.attempts} attempts)` : o.response,
      host: o.host,
    };
    if (status === 'bounced' || status === 'failed') {
      // classified by the last answer; the timeline entry carries it for the webhooks (email.bounced)
      const verdict = classifyBounce({ code: o.code, text: o.response });
      result.bounce = { type: verdict.bounceClass, reason: boundedReason(o.response) };
      result.detail = { bounce_type: verdict.bounceClass, bounce_reason: result.bounce.reason, code: verdict.status };
    }
    return result;
  });
  for (const r of opts.suppressed ?? []) {
    const scope = message.tier === 'bulk' ? 'bulk' : 'all';
    recipients.push({
      position: r.position,
      email: r.email,
      status: 'suppressed',
      code: null,
      response: `not attempted: the address is on the workspace's suppression list (${r.reason})`,
      host: null,
      detail: { reason: r.reason, scope },
    });
  }
  const accepted = opts.previouslyDelivered + recipients.filter((r) => r.status === acceptedStatus).length;
  const deferred = recipients.filter((r) => r.status === 'deferred');
  const unsent = recipients.filter((r) => r.status === 'bounced' || r.status === 'failed');
  const lastError = [...deferred, ...unsent][0]?.response ?? null;

  let status: EmailStatus;
  let nextAttemptAt: Date | null = null;
  if (deferred.length > 0) {
    status = 'deferred';
    nextAttemptAt = new Date(now.getTime() + retryDelayMs(message.tier, message.attempts, opts.retryBaseMs));
  } else if (accepted > 0) {
    status = acceptedStatus;
  } else if ([...recipients.map((r) => r.status), ...(opts.earlier ?? [])].some((s) => s === 'failed' || s === 'bounced') || recipients.length === 0) {
    status = [...recipients.map((r) => r.status), ...(opts.earlier ?? [])].includes('failed') ? 'failed' : 'bounced';
    events.push({ type: status, detail: { reason: lastError, attempts: message.attempts } });
  } else {
    // every recipient was suppressed: their own `suppressed` entries are the timeline, nothing was attempted
    status = 'suppressed';
  }
  return {
    messageId: message.id,
    workerId: opts.workerId,
    attempt: message.attempts,
    status,
    nextAttemptAt,
    transport: opts.transport,
    lastError,
    sentAt: accepted > 0 ? now : null,
    deliveredAt: accepted > 0 && acceptedStatus === 'delivered' && deferred.length === 0 ? now : null,
    failedAt: status === 'failed' || status === 'bounced' ? now : null,
    recipients,
    events,
  };
}

function recipientStatusOf(outcome: AttemptOutcome, exhausted: boolean, acceptedStatus: 'sent' | 'delivered'): RecipientResult['status'] {
  if (outcome === 'accepted') return acceptedStatus;
  if (outcome === 'bounced') return 'bounced';
  return exhausted ? 'failed' : 'deferred';
}

/** The longest bounce reason stored: a receiver's answer is a line or two; a longer one is cut. */
export const BOUNCE_REASON_CHARS = 1_000;
export const boundedReason = (text: string): string => text.slice(0, BOUNCE_REASON_CHARS);
