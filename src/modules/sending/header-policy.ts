/**
 * Which custom headers a caller may set. The platform owns the headers that identify the message, its sender
 * and its route; a caller setting them could spoof or break the message. `Resent-*` (RFC 5322 §3.6.6) would
 * claim the message was re-sent by someone else, and `Disposition-Notification-To` / `Return-Receipt-To`
 * (RFC 8098) would send read receipts to an address no one verified.
 */
const RESERVED_HEADERS = new Set([
  'from', 'to', 'cc', 'bcc', 'subject', 'date', 'message-id', 'mime-version', 'content-type',
  'content-transfer-encoding', 'content-disposition', 'return-path', 'received', 'dkim-signature', 'sender',
  'reply-to', 'arc-seal', 'arc-message-signature', 'arc-authentication-results', 'authentication-results',
  'disposition-notification-to', 'disposition-notification-options', 'return-receipt-to',
]);

export const isReservedHeader = (name: string): boolean => {
  const lower = name.toLowerCase();
  return RESERVED_HEADERS.has(lower) || lower.startsWith('resent-');
};

/** `<https://…>` or `<mailto:…>`, nothing else inside the brackets (RFC 2369 §2); one way to match, so linear. */
const LIST_URI = /^<(?:https:\/\/[^\s<>/?#]+(?:[/?#][^\s<>]*)?|mailto:[^\s<>]+)>$/i;
const MAX_LIST_URIS = 4;
const ONE_CLICK = 'List-Unsubscribe=One-Click';

/**
 * `List-Unsubscribe` is the sender's own (the platform adds none: senders run their own lists), so it is
 * accepted, but only as mail clients can use it safely: a comma-separated list of at most four `<https:…>`
 * or `<mailto:…>` URIs (RFC 2369; no `http:`, `javascript:` or bare text for a client to show as an
 * unsubscribe button). `List-Unsubscribe-Post` must be exactly `List-Unsubscribe=One-Click` next to an https
 * URI (RFC 8058 §3.1). Returns the header at fault and what it must be, or null.
 */
export function listHeaderProblem(headers: Record<string, string>): { header: string; problem: string } | null {
  const find = (name: string) => Object.keys(headers).find((k) => k.toLowerCase() === name);
  const unsubscribe = find('list-unsubscribe');
  const post = find('list-unsubscribe-post');
  let hasHttps = false;
  if (unsubscribe !== undefined) {
    const uris = headers[unsubscribe]!.split(',').map((u) => u.trim());
    if (uris.length > MAX_LIST_URIS || uris.some((u) => !LIST_URI.test(u))) {
      return { header: unsubscribe, problem: `must be a comma-separated list of at most ${MAX_LIST_URIS} <https://…> or <mailto:…> URIs` };
    }
    hasHttps = uris.some((u) => /^<https:/i.test(u));
  }
  if (post !== undefined && (headers[post]!.trim() !== ONE_CLICK || !hasHttps)) {
    return { header: post, problem: `must be exactly '${ONE_CLICK}', next to a List-Unsubscribe with an <https://…> URI (RFC 8058)` };
  }
  return null;
}
