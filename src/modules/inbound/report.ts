import { classifyBounce, type BounceClass } from '../../platform/mail/bounce-class.js';
import PostalMime, { type Attachment, type Header } from 'postal-mime';

/**
 * Reads what comes back to a return path (README, "Bounces and complaints"): a delivery status notification
 * (RFC 3464), a complaint in the Abuse Reporting Format (RFC 5965), a bounce in one of the common non-standard
 * plain-text shapes, or an auto-reply, which is never a bounce.
 *
 * Every size is bounded before any pattern runs: only the first PARSE_BYTES of a message are parsed (the report
 * parts come before the returned original in both formats, so a large original is cut, not the report), each
 * part read as text is cut to PART_CHARS, and the fields and recipients read from a report are capped.
 */

export const PARSE_BYTES = 256 * 1024;
const PART_CHARS = 64 * 1024;
const MAX_FIELDS = 200;
const MAX_RECIPIENTS = 100;
const MAX_FIELD_CHARS = 1000;

export interface DsnRecipient {
  /** the address the report is about (Final-Recipient, else Original-Recipient), without its `rfc822;` type */
  finalRecipient: string | null;
  originalRecipient: string | null;
  /** failed, delayed, delivered, relayed or expanded */
  action: string;
  /** the enhanced status code (RFC 3463), e.g. 5.1.1 */
  status: string | null;
  diagnostic: string | null;
}

export type InboundReport =
  | { kind: 'delivery_status'; style: 'rfc3464' | 'plain_text'; recipients: DsnRecipient[]; originalMessageId: string | null }
  | { kind: 'feedback'; feedbackType: string; originalRcptTo: string | null; originalMessageId: string | null }
  | { kind: 'auto_reply'; signal: string }
  | { kind: 'unrecognised' };

/** One header field's value by name, case-insensitively (the first one). */
const headerOf = (headers: Header[], name: string): string | null => headers.find((h) => h.key === name)?.value ?? null;

const text = (a: Attachment): string => {
  const c = a.content;
  const s = typeof c === 'string' ? c : Buffer.from(c instanceof ArrayBuffer ? new Uint8Array(c) : c).toString('utf8');
  return s.slice(0, PART_CHARS);
};

/** Header-style fields (`Name: value`, folded lines joined), in groups separated by blank lines, bounded. */
export function parseFieldGroups(block: string): Map<string, string>[] {
  const groups: Map<string, string>[] = [];
  let current = new Map<string, string>();
  let last: string | null = null;
  let fields = 0;
  for (const line of block.slice(0, PART_CHARS).split(/\r?\n/)) {
    if (line.trim() === '') {
      if (current.size > 0) groups.push(current);
      current = new Map();
      last = null;
      if (groups.length > MAX_RECIPIENTS) break;
      continue;
    }
    if (/^[ \t]/.test(line) && last) {
      current.set(last, `${current.get(last)} ${line.trim()}`.slice(0, MAX_FIELD_CHARS));
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0 || colon > 80) continue;
    if (++fields > MAX_FIELDS) break;
    last = line.slice(0, colon).trim().toLowerCase();
    if (!current.has(last)) current.set(last, line.slice(colon + 1).trim().slice(0, MAX_FIELD_CHARS));
  }
  if (current.size > 0) groups.push(current);
  return groups;
}

/** `rfc822; user@example.com` → user@example.com */
const addressOf = (field: string | undefined): string | null => {
  if (!field) return null;
  const value = field.includes(';') ? field.slice(field.indexOf(';') + 1) : field;
  const address = value.trim().replace(/^<|>$/g, '');
  return address.includes('@') && address.length <= 320 ? address : null;
};

const ENHANCED_STATUS = /\b([245])\.(\d{1,3})\.(\d{1,3})\b/;

/** The header section of a returned original (message/rfc822 or text/rfc822-headers), as fields. */
function originalHeaders(parts: Attachment[]): Map<string, string> | null {
  const part = parts.find((a) => ['message/rfc822', 'text/rfc822-headers', 'message/rfc822-headers', 'message/global', 'message/global-headers'].includes(a.mimeType.toLowerCase()));
  if (!part) return null;
  const body = text(part);
  const end = body.search(/\r?\n\r?\n/);
  return parseFieldGroups(end < 0 ? body : body.slice(0, end))[0] ?? null;
}

const messageIdOf = (value: string | null | undefined): string | null => {
  const m = value ? /<[^<>\s]{1,250}>/.exec(value) : null;
  return m ? m[0] : null;
};

/**
 * Auto-replies by the signals RFC 3834 and the common mail programs use, and the usual subjects. A DSN carries
 * Auto-Submitted too, so this is asked only of mail that is not a report.
 */
const AUTO_REPLY_SUBJECT =
  /^(?:(?:automatic|auto)[ -]?reply|autoreply|auto[ -]?response|out of (?:the )?office|abwesenheitsnotiz|automatische antwort|r[ée]ponse automatique|absence|vacation|on vacation|respuesta autom[áa]tica|risposta automatica)\b/i;

function autoReplySignal(headers: Header[], subject: string): string | null {
  const submitted = headerOf(headers, 'auto-submitted');
  if (submitted && submitted.trim().toLowerCase() !== 'no') return `Auto-Submitted: ${submitted.slice(0, 40)}`;
  for (const name of ['x-autoreply', 'x-autorespond', 'x-autoresponder', 'x-auto-response-suppress-reply', 'x-mailautoreply']) {
    if (headerOf(headers, name) !== null) return name;
  }
  const precedence = headerOf(headers, 'precedence')?.trim().toLowerCase();
  if (precedence === 'auto_reply' || precedence === 'auto-reply') return `Precedence: ${precedence}`;
  const s = subject.slice(0, 200).replace(/^\s*(?:(?:re|aw|fw|fwd)\s*:\s*)+/i, '');
  if (AUTO_REPLY_SUBJECT.test(s)) return `Subject: ${s.slice(0, 60)}`;
  return null;
}

/** Who sends plain-text bounces, and the subjects they use: both must match before the text is read as one. */
const BOUNCE_SENDER = /^(?:mailer-daemon|postmaster|mail-daemon|mailerdaemon)@/i;
const BOUNCE_SUBJECT = /(?:undeliver|delivery (?:status notification|failure|has failed)|mail delivery (?:failed|failure|system)|returned mail|failure notice|could not be delivered|delivery failed)/i;
/** Lines of a plain-text bounce that say a mailbox was refused for good: a 5xx reply, or the usual words. */
const PERMANENT_LINE = /\b5[0-5]\d[ -](?:#?5\.\d{1,3}\.\d{1,3}\b|[A-Za-z<])|user unknown|unknown user|no such user|mailbox (?:unavailable|not found|does not exist)|does not exist|address rejected|recipient rejected/i;
/** One whitespace- or bracket-delimited word that is an address; anchored and unambiguous, so linear. */
const ADDRESS = /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){1,10}$/;
/** Where a bounce starts quoting the original (Exim, Postfix, qmail and Exchange say so in a dashed line). */
const QUOTE_START = /original message|below this line|copy of the message|message header|returned message/i;

function addressesIn(line: string): string[] {
  return line
    .split(/[\s<>()[\],;:"]+/)
    .map((w) => w.replace(/\.+$/, ''))
    .filter((w) => w.length <= 320 && w.includes('@') && ADDRESS.test(w));
}

function plainTextBounce(from: string, subject: string, body: string): InboundReport | null {
  if (!BOUNCE_SENDER.test(from) || !BOUNCE_SUBJECT.test(subject.slice(0, 200))) return null;
  // lines cut to a bounded length before any pattern runs; only those above the quoted original count
  const all = body.slice(0, PART_CHARS).split(/\r?\n/, 2000).map((l) => l.slice(0, MAX_FIELD_CHARS));
  const quoteAt = all.findIndex((l) => /^\s*-{2,}/.test(l) && QUOTE_START.test(l));
  const lines = quoteAt < 0 ? all : all.slice(0, quoteAt);
  const recipients: DsnRecipient[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < lines.length && recipients.length < MAX_RECIPIENTS; i++) {
    for (const address of addressesIn(lines[i]!)) {
      const key = address.toLowerCase();
      if (seen.has(key) || BOUNCE_SENDER.test(address)) continue;
      // the refusal follows its address within a few lines (Postfix, Exim, qmail, Exchange all do so)
      const window = lines.slice(i, i + 6).join('\n');
      const refusal = PERMANENT_LINE.exec(window);
      if (!refusal) continue;
      seen.add(key);
      const status = ENHANCED_STATUS.exec(window);
      const reason = window.slice(refusal.index).split('\n')[0]!.trim();
      recipients.push({ finalRecipient: address, originalRecipient: null, action: 'failed', status: status && status[1] !== '2' ? status[0] : '5.0.0', diagnostic: reason });
    }
  }
  if (recipients.length === 0) return null;
  const quoted = /^message-id:\s*(<[^<>\s]{1,250}>)/im.exec(body.slice(0, PART_CHARS));
  return { kind: 'delivery_status', style: 'plain_text', recipients, originalMessageId: quoted ? quoted[1]! : null };
}

/** Reads one received message. Never throws for malformed input: what cannot be read is `unrecognised`. */
export async function readReport(raw: Buffer): Promise<InboundReport> {
  let email;
  try {
    email = await PostalMime.parse(raw.subarray(0, PARSE_BYTES), { forceRfc822Attachments: true, attachmentEncoding: 'arraybuffer', maxNestingDepth: 20 });
  } catch {
    return { kind: 'unrecognised' };
  }
  const contentType = headerOf(email.headers, 'content-type') ?? '';
  const reportType = /^\s*multipart\/report\b/i.test(contentType) ? (/report-type\s*=\s*"?([a-z0-9-]+)/i.exec(contentType.slice(0, 1000))?.[1]?.toLowerCase() ?? '') : null;
  const parts = email.attachments;

  if (reportType === 'feedback-report' || parts.some((a) => a.mimeType.toLowerCase() === 'message/feedback-report')) {
    const report = parts.find((a) => a.mimeType.toLowerCase() === 'message/feedback-report');
    const fields = report ? (parseFieldGroups(text(report))[0] ?? new Map<string, string>()) : new Map<string, string>();
    const original = originalHeaders(parts);
    return {
      kind: 'feedback',
      feedbackType: (fields.get('feedback-type') ?? 'abuse').toLowerCase().slice(0, 40),
      originalRcptTo: addressOf(fields.get('original-rcpt-to')),
      originalMessageId: messageIdOf(original?.get('message-id')),
    };
  }

  const status = parts.find((a) => ['message/delivery-status', 'message/global-delivery-status'].includes(a.mimeType.toLowerCase()));
  if (reportType === 'delivery-status' || status) {
    const groups = status ? parseFieldGroups(text(status)) : [];
    const recipients: DsnRecipient[] = groups
      .slice(1)
      .filter((g) => g.has('action'))
      .map((g) => ({
        finalRecipient: addressOf(g.get('final-recipient')) ?? addressOf(g.get('original-recipient')),
        originalRecipient: addressOf(g.get('original-recipient')),
        action: g.get('action')!.toLowerCase().split(/[\s(]/)[0]!,
        status: ENHANCED_STATUS.exec(g.get('status') ?? '')?.[0] ?? null,
        diagnostic: g.get('diagnostic-code') ?? null,
      }));
    return { kind: 'delivery_status', style: 'rfc3464', recipients, originalMessageId: messageIdOf(originalHeaders(parts)?.get('message-id')) };
  }

  // a plain-text bounce first: Exim's carry Auto-Submitted too, and it needs a mailer daemon's address and subject
  const subject = email.subject ?? '';
  const from = email.from && 'address' in email.from && email.from.address ? email.from.address : '';
  const bounce = plainTextBounce(from, subject, email.text ?? '');
  if (bounce) return bounce;
  const signal = autoReplySignal(email.headers, subject);
  return signal ? { kind: 'auto_reply', signal } : { kind: 'unrecognised' };
}

/** The class of a reported refusal: the same table as a refusal during delivery (platform/mail/bounce-class.ts). */
export function classifyStatus(status: string | null, diagnostic: string | null): BounceClass {
  return classifyBounce({ code: null, status, text: diagnostic ?? '' }).bounceClass;
}
