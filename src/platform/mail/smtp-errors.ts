import type { RecipientOutcome, RecipientOutcomeStatus } from './types.js';

export type FailureStatus = Exclude<RecipientOutcomeStatus, 'accepted'>;

export interface FailureClassification {
  status: FailureStatus;
  /** SMTP reply code when the failure came from a server reply. */
  code: number | null;
  /** The server's reply text when there was one, otherwise the error message. */
  response: string;
}

/**
 * nodemailer error codes that are permanent even without an SMTP reply: the message or the
 * envelope itself is unacceptable (e.g. larger than the SIZE the server announced), so sending
 * it again cannot succeed.
 */
const PERMANENT_WITHOUT_REPLY = new Set(['EENVELOPE', 'EMESSAGE']);

/**
 * Authentication against our own relay failing is an operator problem (wrong credentials, locked
 * account), never the recipient's: keep such mail queued instead of bouncing it, even on a 5xx.
 */
const ALWAYS_TEMPORARY = new Set(['EAUTH']);

/** 2xx → accepted, 5xx → bounced (permanent), everything else → deferred (temporary). */
export function statusForReplyCode(code: number): RecipientOutcomeStatus {
  if (code >= 200 && code < 300) return 'accepted';
  if (code >= 500 && code < 600) return 'bounced';
  return 'deferred';
}

/** Reads the leading three-digit reply code from an SMTP response line. */
export function replyCodeOf(response: string): number | null {
  const match = /^([2-5]\d\d)[\s-]/.exec(response) ?? /^([2-5]\d\d)$/.exec(response);
  return match?.[1] !== undefined ? Number(match[1]) : null;
}

function stringProperty(value: object, key: string): string | undefined {
  const property: unknown = (value as Record<string, unknown>)[key];
  return typeof property === 'string' ? property : undefined;
}

function numberProperty(value: object, key: string): number | undefined {
  const property: unknown = (value as Record<string, unknown>)[key];
  return typeof property === 'number' && Number.isFinite(property) ? property : undefined;
}

/** The `code` of a Node or nodemailer error ('ECONNREFUSED', 'ETIMEDOUT', 'EENVELOPE', ...). */
export function errorCodeOf(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null ? stringProperty(err, 'code') : undefined;
}

/** The SMTP reply code carried by a nodemailer error, if the failure was a server reply. */
export function replyCodeOfError(err: unknown): number | null {
  if (typeof err !== 'object' || err === null) return null;
  const code = numberProperty(err, 'responseCode');
  if (code !== undefined && code >= 200 && code < 600) return code;
  const response = stringProperty(err, 'response');
  return response !== undefined ? replyCodeOf(response) : null;
}

function describe(err: unknown): string {
  if (typeof err === 'object' && err !== null) {
    const response = stringProperty(err, 'response');
    if (response !== undefined && response.trim() !== '') return response.trim();
    const message = stringProperty(err, 'message');
    if (message !== undefined && message !== '') return message;
  }
  return typeof err === 'string' ? err : 'unknown error';
}

/**
 * Decides whether a failed SMTP attempt is worth retrying.
 *
 * SMTP 5xx replies are permanent and 4xx replies temporary. Failures without a reply (timeouts,
 * refused or reset connections, DNS and TLS errors, anything unrecognised) are temporary: the
 * queue's retry limit bounds the cost of being wrong, while bouncing a message because of a
 * network blip is not recoverable.
 */
export function classifySmtpError(err: unknown): FailureClassification {
  const response = describe(err);
  const errorCode = errorCodeOf(err);
  const code = replyCodeOfError(err);
  if (errorCode !== undefined && ALWAYS_TEMPORARY.has(errorCode)) return { status: 'deferred', code, response };
  if (code !== null) return { status: code >= 500 ? 'bounced' : 'deferred', code, response };
  if (errorCode !== undefined && PERMANENT_WITHOUT_REPLY.has(errorCode)) return { status: 'bounced', code, response };
  return { status: 'deferred', code, response };
}

/**
 * Whether the server refused the transaction but kept the session in order: it turned down the sender, every
 * recipient or the message (or nodemailer refused the envelope before sending it). An RSET then readies the
 * session for the next message; 421 means the server is closing the connection.
 */
export function isRefusedTransaction(err: unknown): boolean {
  const errorCode = errorCodeOf(err);
  return errorCode !== undefined && PERMANENT_WITHOUT_REPLY.has(errorCode) && replyCodeOfError(err) !== 421;
}

/** The same failure outcome for every recipient, for errors that sank the whole transaction. */
export function outcomesForFailure(
  recipients: readonly string[],
  failure: FailureClassification,
  host: string | null,
): RecipientOutcome[] {
  return recipients.map((recipient) => ({ recipient, status: failure.status, code: failure.code, response: failure.response, host }));
}
