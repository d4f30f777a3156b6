import type { MailAddress, MailContent } from '../../platform/mail/types.js';
import type { ClaimedMessage, ClaimedRecipient } from './store.js';

const address = (r: { email: string; name: string | null }): MailAddress => (r.name ? { email: r.email, name: r.name } : { email: r.email });

/** The stored email as the composer needs it; headers list every recipient, not only the pending ones. */
export function toMailContent(message: ClaimedMessage, recipients: ClaimedRecipient[]): MailContent {
  const of = (kind: string) => recipients.filter((r) => r.kind === kind).map(address);
  return {
    messageId: message.message_id_header,
    date: message.created_at,
    from: message.from_name ? { email: message.from_email, name: message.from_name } : { email: message.from_email },
    to: of('to'),
    cc: of('cc'),
    bcc: [],
    replyTo: message.reply_to,
    subject: message.subject,
    ...(message.html !== null ? { html: message.html } : {}),
    ...(message.text_body !== null ? { text: message.text_body } : {}),
    headers: message.headers,
    attachments: message.attachments,
  };
}
