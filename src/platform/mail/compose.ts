import MailComposer from 'nodemailer/lib/mail-composer/index.js';
import type Mail from 'nodemailer/lib/mailer/index.js';
import { htmlToText } from './html-to-text.js';
import type { MailAddress, MailAttachment, MailContent } from './types.js';

export { htmlToText } from './html-to-text.js';

/**
 * Thrown when content would produce a malformed or injected header. Callers validate input
 * first; this is the last line of defence before bytes leave the process.
 */
export class MailCompositionError extends Error {
  constructor(
    message: string,
    readonly field: string,
  ) {
    super(message);
    this.name = 'MailCompositionError';
  }
}

// CR or LF would end the header line and let the rest of the value become a new header; NUL is
// rejected by most MTAs and has no legitimate use in a header.
const LINE_BREAK_OR_NUL = /[\r\n\0]/;
// RFC 5322 field-name: printable US-ASCII except colon.
const HEADER_NAME = /^[\x21-\x39\x3b-\x7e]+$/;

function assertSingleLine(value: string, field: string): void {
  if (LINE_BREAK_OR_NUL.test(value)) {
    throw new MailCompositionError(`${field} must not contain CR, LF or NUL characters`, field);
  }
}

function checkAddress(address: MailAddress, field: string): void {
  assertSingleLine(address.email, `${field} address`);
  if (address.name !== undefined) assertSingleLine(address.name, `${field} name`);
}

function checkContent(content: MailContent): void {
  assertSingleLine(content.messageId, 'messageId');
  assertSingleLine(content.subject, 'subject');
  checkAddress(content.from, 'from');
  for (const field of ['to', 'cc', 'bcc', 'replyTo'] as const) {
    for (const address of content[field]) checkAddress(address, field);
  }
  for (const [name, value] of Object.entries(content.headers)) {
    if (!HEADER_NAME.test(name)) throw new MailCompositionError(`invalid header name ${JSON.stringify(name)}`, 'headers');
    assertSingleLine(value, `header ${name}`);
  }
  for (const attachment of content.attachments) {
    assertSingleLine(attachment.filename, 'attachment filename');
    if (attachment.contentType !== undefined) assertSingleLine(attachment.contentType, 'attachment contentType');
    if (attachment.contentId !== undefined) assertSingleLine(attachment.contentId, 'attachment contentId');
  }
  if (Number.isNaN(content.date.getTime())) throw new MailCompositionError('date is not a valid date', 'date');
}

function toComposerAddress(address: MailAddress): Mail.Address {
  return { name: address.name ?? '', address: address.email };
}

function toComposerAttachment(attachment: MailAttachment): Mail.Attachment {
  return {
    filename: attachment.filename,
    content: attachment.content,
    encoding: 'base64',
    ...(attachment.contentType !== undefined ? { contentType: attachment.contentType } : {}),
    // MailComposer puts attachments with a cid into multipart/related next to the HTML.
    ...(attachment.contentId !== undefined ? { cid: attachment.contentId.replace(/^<|>$/g, '') } : {}),
  };
}

/**
 * Renders the message as RFC 5322 bytes. Bcc recipients are deliberately left out of the
 * headers: they only belong in the SMTP envelope.
 */
export async function composeMessage(content: MailContent): Promise<Buffer> {
  checkContent(content);

  const hasHtml = content.html !== undefined && content.html !== '';
  const hasText = content.text !== undefined && content.text !== '';
  const text = hasText ? (content.text ?? '') : hasHtml ? htmlToText(content.html ?? '') : '';

  const options: Mail.Options & { newline: 'windows' } = {
    // Without this, line breaks inside text and HTML bodies are kept as given (bare LF), and
    // the SMTP client would rewrite them on the wire, after the bytes were stored and signed.
    newline: 'windows',
    messageId: content.messageId,
    date: content.date,
    from: toComposerAddress(content.from),
    subject: content.subject,
    text,
    headers: { ...content.headers },
    attachments: content.attachments.map(toComposerAttachment),
  };
  if (content.to.length > 0) options.to = content.to.map(toComposerAddress);
  if (content.cc.length > 0) options.cc = content.cc.map(toComposerAddress);
  if (content.replyTo.length > 0) options.replyTo = content.replyTo.map(toComposerAddress);
  if (hasHtml) options.html = content.html;

  return new MailComposer(options).compile().build();
}
