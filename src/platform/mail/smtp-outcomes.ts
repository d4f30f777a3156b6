import { classifySmtpError, outcomesForFailure, replyCodeOf } from './smtp-errors.js';
import type { RecipientOutcome } from './types.js';

/** The part of nodemailer's send result that says what happened to each recipient. */
export interface SmtpSendResult {
  accepted: readonly unknown[];
  rejectedErrors?: readonly unknown[] | undefined;
  /** Final reply to the message data, e.g. "250 2.0.0 Ok: queued as ABC". */
  response: string;
}

function recipientOf(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const recipient: unknown = (err as Record<string, unknown>).recipient;
  return typeof recipient === 'string' ? recipient : undefined;
}

function addressKey(address: string): string {
  return address.trim().toLowerCase();
}

/**
 * nodemailer reports recipients the way it sent them in RCPT TO, which can differ from what we
 * passed in (trimmed, punycoded domain). `sentAs` is that normalised list in our order when known;
 * otherwise addresses are matched case-insensitively.
 */
function keysFor(recipients: readonly string[], sentAs: readonly string[] | undefined): string[] {
  if (sentAs !== undefined && sentAs.length === recipients.length) return sentAs.map(addressKey);
  return recipients.map(addressKey);
}

function rejectionsByKey(rejectedErrors: readonly unknown[] | undefined): Map<string, unknown> {
  const byKey = new Map<string, unknown>();
  for (const err of rejectedErrors ?? []) {
    const recipient = recipientOf(err);
    if (recipient !== undefined) byKey.set(addressKey(recipient), err);
  }
  return byKey;
}

function rejectedOutcome(recipient: string, err: unknown, host: string | null): RecipientOutcome {
  const failure = classifySmtpError(err);
  return { recipient, status: failure.status, code: failure.code, response: failure.response, host };
}

/** Outcomes for a transaction whose message data was accepted (possibly for only some recipients). */
export function outcomesFromSendResult(
  recipients: readonly string[],
  result: SmtpSendResult,
  host: string | null,
  sentAs?: readonly string[],
): RecipientOutcome[] {
  const keys = keysFor(recipients, sentAs);
  const accepted = new Set(result.accepted.filter((a): a is string => typeof a === 'string').map(addressKey));
  const rejected = rejectionsByKey(result.rejectedErrors);
  const response = result.response.trim();
  const code = replyCodeOf(response) ?? 250;
  return recipients.map((recipient, index) => {
    const key = keys[index] ?? addressKey(recipient);
    const rejection = rejected.get(key);
    if (rejection !== undefined) return rejectedOutcome(recipient, rejection, host);
    if (accepted.has(key)) return { recipient, status: 'accepted', code, response, host };
    return { recipient, status: 'deferred', code: null, response: 'no result reported for this recipient', host };
  });
}

/**
 * Outcomes for a failed transaction. When every recipient was refused at RCPT TO, nodemailer
 * fails the whole send but still carries each refusal, so recipients keep their own reply;
 * any other error applies to everyone.
 */
export function outcomesFromSendError(
  recipients: readonly string[],
  err: unknown,
  host: string | null,
  sentAs?: readonly string[],
): RecipientOutcome[] {
  const fields: Record<string, unknown> = typeof err === 'object' && err !== null ? (err as Record<string, unknown>) : {};
  const rejectedErrors = fields.rejectedErrors;
  if (Array.isArray(rejectedErrors) && rejectedErrors.length > 0) {
    // When everyone was refused, `rejected` is the RCPT TO list as sent, in our order.
    const refusedAs = Array.isArray(fields.rejected) ? fields.rejected.filter((r): r is string => typeof r === 'string') : undefined;
    const keys = keysFor(recipients, sentAs ?? refusedAs);
    const rejected = rejectionsByKey(rejectedErrors);
    const whole = classifySmtpError(err);
    return recipients.map((recipient, index) => {
      const rejection = rejected.get(keys[index] ?? addressKey(recipient));
      return rejection !== undefined
        ? rejectedOutcome(recipient, rejection, host)
        : { recipient, status: whole.status, code: whole.code, response: whole.response, host };
    });
  }
  return outcomesForFailure(recipients, classifySmtpError(err), host);
}
