import type { AttemptOutcome } from '../lifecycle.js';

/** A mailbox as it appears in a header: the address plus an optional display name. */
export interface MailAddress {
  email: string;
  name?: string;
}

export interface MailAttachment {
  filename: string;
  /** base64 */
  content: string;
  contentType?: string;
  /** When set, the attachment is inline and can be referenced from the HTML as `cid:<contentId>`. */
  contentId?: string;
}

/** Everything needed to render one message, fixed when the message is accepted (ids and date do not change on retry). */
export interface MailContent {
  /** Full RFC 5322 id including angle brackets, e.g. "<msg_123@example.com>". */
  messageId: string;
  date: Date;
  from: MailAddress;
  to: MailAddress[];
  cc: MailAddress[];
  /** Only ever used for the envelope; never rendered into the headers. */
  bcc: MailAddress[];
  replyTo: MailAddress[];
  subject: string;
  html?: string;
  text?: string;
  /** Custom headers, already validated by the caller. */
  headers: Record<string, string>;
  attachments: MailAttachment[];
}

/** SMTP envelope: MAIL FROM (empty string for the null sender) and RCPT TO addresses. */
export interface Envelope {
  from: string;
  to: string[];
}

/** accepted = the server took it, deferred = temporary (retry later), bounced = permanent (do not retry). */
export type RecipientOutcomeStatus = AttemptOutcome;

export interface RecipientOutcome {
  recipient: string;
  status: RecipientOutcomeStatus;
  /** SMTP reply code if any (250, 450, 550...). */
  code: number | null;
  /** SMTP response text or error message. */
  response: string;
  /** SMTP host we talked to (or tried to). */
  host: string | null;
}

/**
 * Facts about the message beyond its bytes, for transports that store or index it (capture).
 * SMTP transports ignore it.
 */
export interface SendContext {
  /** Our message id (not the RFC 5322 Message-ID header). */
  messageId: string;
  workspaceId: string;
  subject: string;
}

export interface Transport {
  readonly kind: 'smtp' | 'mx' | 'capture';
  /**
   * Returns one outcome per `envelope.to` entry, in the same order. Never throws for SMTP or
   * network failures (they become outcomes); may throw only for programmer errors.
   */
  send(envelope: Envelope, raw: Buffer, context?: SendContext): Promise<RecipientOutcome[]>;
  close(): Promise<void>;
}
