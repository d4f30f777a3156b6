import MailComposer from 'nodemailer/lib/mail-composer/index.js';
import { describe, expect, it } from 'vitest';
import { MailCompositionError, composeMessage, composerOptions, serializeMime } from './compose.js';
import type { MailContent } from './types.js';

function content(overrides: Partial<MailContent> = {}): MailContent {
  return {
    messageId: '<msg_123@example.test>',
    date: new Date('2024-05-06T07:08:09Z'),
    from: { email: 'shop@example.test', name: 'Shop' },
    to: [{ email: 'alice@example.test', name: 'Alice' }],
    cc: [],
    bcc: [],
    replyTo: [],
    subject: 'Hello',
    text: 'Plain body',
    headers: {},
    attachments: [],
    ...overrides,
  };
}

function headerBlock(raw: Buffer): string {
  return raw.toString('utf8').split('\r\n\r\n')[0] ?? '';
}

/** The top-level header value, unfolded. */
function header(raw: Buffer, name: string): string | null {
  const match = new RegExp(`^${name}: (.*(?:\\r\\n[ \\t].*)*)`, 'im').exec(headerBlock(raw));
  return match?.[1] !== undefined ? match[1].replace(/\r\n[ \t]/g, ' ') : null;
}

/** Decodes RFC 2047 encoded-words (enough for what nodemailer produces). */
function decodeEncodedWords(value: string): string {
  return value
    .replace(/\?=\s+=\?/g, '?==?')
    .replace(/=\?UTF-8\?([QB])\?([^?]*)\?=/gi, (_whole, encoding: string, text: string) =>
      encoding.toUpperCase() === 'B'
        ? Buffer.from(text, 'base64').toString('utf8')
        : Buffer.from(text.replace(/_/g, ' ').replace(/=([0-9A-F]{2})/gi, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16))), 'latin1').toString('utf8'),
    );
}

/** The body of the first MIME part with this content type (headers of the part excluded). */
function partBody(raw: Buffer, contentType: string): { headers: string; body: string } | null {
  const text = raw.toString('utf8');
  const start = text.search(new RegExp(`^Content-Type: ${contentType.replace('/', '\\/')}`, 'im'));
  if (start === -1) return null;
  const rest = text.slice(start);
  const split = rest.indexOf('\r\n\r\n');
  const headers = rest.slice(0, split);
  const bodyAndMore = rest.slice(split + 4);
  const boundary = bodyAndMore.search(/\r\n--/);
  return { headers, body: boundary === -1 ? bodyAndMore : bodyAndMore.slice(0, boundary) };
}

/** Body of a part with its transfer encoding undone. */
function decodedPartBody(raw: Buffer, contentType: string): string | null {
  const part = partBody(raw, contentType);
  if (!part) return null;
  if (/Content-Transfer-Encoding: quoted-printable/i.test(part.headers)) {
    const bytes = part.body
      .replace(/=\r\n/g, '')
      .replace(/=([0-9A-F]{2})/gi, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
    return Buffer.from(bytes, 'latin1').toString('utf8');
  }
  if (/Content-Transfer-Encoding: base64/i.test(part.headers)) return Buffer.from(part.body, 'base64').toString('utf8');
  return part.body;
}

describe('composeMessage', () => {
  it('sets Message-ID, Date, From, To and MIME-Version from the content', async () => {
    const raw = await composeMessage(content());
    expect(header(raw, 'Message-ID')).toBe('<msg_123@example.test>');
    expect(header(raw, 'Date')).toBe('Mon, 06 May 2024 07:08:09 +0000');
    expect(header(raw, 'From')).toBe('Shop <shop@example.test>');
    expect(header(raw, 'To')).toBe('Alice <alice@example.test>');
    expect(header(raw, 'MIME-Version')).toBe('1.0');
    expect(header(raw, 'Content-Type')).toMatch(/^text\/plain; charset=utf-8/);
    expect(raw.toString('utf8')).toContain('\r\n\r\nPlain body');
  });

  it('uses CRLF line endings only', async () => {
    const raw = (await composeMessage(content({ text: 'line 1\nline 2\n', html: '<p>x</p>\n<p>y</p>' }))).toString('utf8');
    expect(raw).not.toMatch(/[^\r]\n/);
    expect(raw).toContain('line 1\r\nline 2');
  });

  it('never writes Bcc recipients into the message, but keeps To, Cc and Reply-To', async () => {
    const raw = await composeMessage(
      content({
        cc: [{ email: 'carol@example.test' }],
        bcc: [{ email: 'secret@example.test', name: 'Secret' }],
        replyTo: [{ email: 'support@example.test' }],
      }),
    );
    expect(header(raw, 'Bcc')).toBeNull();
    expect(raw.toString('utf8')).not.toContain('secret@example.test');
    expect(header(raw, 'Cc')).toBe('carol@example.test');
    expect(header(raw, 'Reply-To')).toBe('support@example.test');
  });

  it('encodes non-ASCII subjects and names as RFC 2047 encoded-words', async () => {
    const subject = 'Grüße aus Köln 👋 — a long subject line that certainly needs folding across lines';
    const raw = await composeMessage(content({ subject, from: { email: 'shop@example.test', name: 'Shöp' } }));
    const block = headerBlock(raw);
    expect(block).toMatch(/^[\x20-\x7e\r\n\t]*$/); // 7-bit headers
    const encodedSubject = header(raw, 'Subject') ?? '';
    expect(encodedSubject).toMatch(/=\?UTF-8\?[QB]\?/i);
    expect(decodeEncodedWords(encodedSubject)).toBe(subject);
    expect(decodeEncodedWords(header(raw, 'From') ?? '')).toBe('Shöp <shop@example.test>');
  });

  it.each([['absent', undefined], ['empty', '']])('builds multipart/alternative with a text part generated from HTML when text is %s', async (_case, text) => {
    const html = '<h1>Hi Alice</h1><p>See <a href="https://example.test/order/1">your order</a>.</p>';
    const raw = await composeMessage(content({ text, html }));
    expect(header(raw, 'Content-Type')).toMatch(/^multipart\/alternative; boundary=/);
    expect(decodedPartBody(raw, 'text/plain')).toBe('Hi Alice\r\n\r\nSee your order (https://example.test/order/1).');
    expect(decodedPartBody(raw, 'text/html')).toBe(html);
    // the text alternative comes first: clients show the last part they understand
    expect(raw.indexOf('Content-Type: text/plain')).toBeLessThan(raw.indexOf('Content-Type: text/html'));
  });

  it('keeps the caller’s own text part when both are given', async () => {
    const raw = await composeMessage(content({ text: 'Hand-written text', html: '<p>HTML version</p>' }));
    expect(partBody(raw, 'text/plain')?.body).toBe('Hand-written text');
    expect(raw.toString('utf8').match(/Content-Type: text\/plain/g)).toHaveLength(1);
  });

  it('adds custom headers', async () => {
    const raw = await composeMessage(
      content({ headers: { 'X-Campaign': 'spring-sale', 'List-Unsubscribe': '<https://example.test/u/1>' } }),
    );
    expect(header(raw, 'X-Campaign')).toBe('spring-sale');
    expect(header(raw, 'List-Unsubscribe')).toBe('<https://example.test/u/1>');
  });

  it('adds attachments as base64 parts under multipart/mixed', async () => {
    const pdf = Buffer.from('%PDF-1.4 fake pdf bytes \u0000\u0001\u0002');
    const raw = await composeMessage(
      content({ attachments: [{ filename: 'invoice.pdf', content: pdf.toString('base64'), contentType: 'application/pdf' }] }),
    );
    expect(header(raw, 'Content-Type')).toMatch(/^multipart\/mixed; boundary=/);
    const part = partBody(raw, 'application/pdf');
    expect(part?.headers).toContain('Content-Transfer-Encoding: base64');
    expect(part?.headers).toMatch(/Content-Disposition: attachment; filename=invoice\.pdf/);
    expect(Buffer.from(part?.body.replace(/\r\n/g, '') ?? '', 'base64').equals(pdf)).toBe(true);
  });

  it('puts attachments with a content id next to the HTML as inline parts', async () => {
    const raw = await composeMessage(
      content({
        html: '<p><img src="cid:logo@example.test"></p>',
        attachments: [{ filename: 'logo.png', content: 'iVBORw0KGgo=', contentType: 'image/png', contentId: 'logo@example.test' }],
      }),
    );
    expect(raw.toString('utf8')).toMatch(/Content-Type: multipart\/related/);
    const part = partBody(raw, 'image/png');
    expect(part?.headers).toContain('Content-ID: <logo@example.test>');
    expect(part?.headers).toMatch(/Content-Disposition: inline/);
  });

  it('produces an empty text/plain body when there is no content at all', async () => {
    const raw = await composeMessage(content({ text: undefined, html: undefined }));
    expect(header(raw, 'Content-Type')).toMatch(/^text\/plain/);
  });

  describe('refuses CR/LF that would inject headers', () => {
    const injected = 'x\r\nBcc: victim@example.test';
    const cases: [string, Partial<MailContent>][] = [
      ['subject', { subject: injected }],
      ['header value', { headers: { 'X-Note': injected } }],
      ['header name', { headers: { 'X-Bad\r\nBcc': 'v' } }],
      ['header name with colon', { headers: { 'X-Bad: Bcc': 'v' } }],
      ['from name', { from: { email: 'shop@example.test', name: injected } }],
      ['to address', { to: [{ email: 'a@example.test\nBcc: victim@example.test' }] }],
      ['cc name', { cc: [{ email: 'c@example.test', name: 'C\rD' }] }],
      ['bcc address', { bcc: [{ email: 'b@example.test\r\n' }] }],
      ['reply-to address', { replyTo: [{ email: 'r@example.test\n' }] }],
      ['message id', { messageId: '<a@b>\r\nX-Evil: 1' }],
      ['attachment filename', { attachments: [{ filename: 'a\r\n.txt', content: '' }] }],
    ];
    it.each(cases)('in the %s', async (_field, overrides) => {
      await expect(composeMessage(content(overrides))).rejects.toBeInstanceOf(MailCompositionError);
    });
  });

  describe('writes the same bytes as nodemailer’s streaming build', () => {
    const pdf = Buffer.alloc(3000, 7).toString('base64');
    const long = 'word '.repeat(40);
    const shapes: [string, Partial<MailContent>][] = [
      ['plain text', {}],
      ['no content at all', { text: undefined, html: undefined }],
      ['HTML only (text generated)', { text: undefined, html: '<h1>Hi</h1><p>There <a href="https://example.test">link</a></p>' }],
      ['text and HTML with bare LF line breaks', { text: 'line 1\nline 2\n\nline 4', html: '<p>x</p>\n<p>y</p>\n' }],
      ['text with CR line breaks and a trailing CR', { text: 'a\rb\r' }],
      ['lines longer than 76 characters', { text: long, html: `<p>${long}</p>` }],
      ['mostly non-Latin text', { text: 'Привет, мир! Как дела? 你好世界', html: '<p>こんにちは世界</p>' }],
      ['some non-ASCII text', { text: 'Grüße aus Köln, café au lait', subject: 'Grüße 👋' }],
      ['names that need quoting or encoding', { from: { email: 'shop@example.test', name: 'Shop, Inc. "Best"' }, to: [{ email: 'a@example.test', name: 'Zoë' }, { email: 'b@example.test' }], cc: [{ email: 'c@bücher.example', name: 'C' }], replyTo: [{ email: 'r@example.test' }] }],
      ['custom headers', { headers: { 'X-Campaign': 'spring', 'List-Unsubscribe': '<https://example.test/u/1>', 'X-Long': long, 'X-Uni': 'naïve' } }],
      ['an attachment', { html: '<p>see attached</p>', attachments: [{ filename: 'invoice.pdf', content: pdf, contentType: 'application/pdf' }] }],
      ['an inline image and an attachment', { html: '<img src="cid:logo@x">', attachments: [{ filename: 'logo.png', content: 'iVBORw0KGgo=', contentType: 'image/png', contentId: 'logo@x' }, { filename: 'résumé.txt', content: Buffer.from('hello\n').toString('base64') }] }],
      ['an empty attachment', { attachments: [{ filename: 'empty.txt', content: '' }] }],
    ];
    it.each(shapes)('%s', async (_shape, overrides) => {
      const options = composerOptions(content(overrides), 'fixedboundary0123');
      const streamed = await new MailComposer(options).compile().build();
      const written = serializeMime(new MailComposer(options).compile());
      expect(written.toString('latin1')).toBe(streamed.toString('latin1'));
    });
  });
});
