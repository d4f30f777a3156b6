import fc from 'fast-check';
import MailComposer from 'nodemailer/lib/mail-composer/index.js';
import { describe, expect, it } from 'vitest';
import { cpuTimeOf, linearBoundMs } from '../../../test/support/cpu-time.js';
import { MailCompositionError, composeMessage, composerOptions, normalizeTextPart, serializeMime } from './compose.js';
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

  it('turns bare CR into CRLF in every text part, so "\\r.\\r\\n" cannot end the SMTP data early', async () => {
    const smuggled = 'Hi\r.\r\nMAIL FROM:<x@example.com>\r\n';
    const htmlOnly = await composeMessage(content({ text: undefined, html: `<p>${smuggled}</p>` }));
    const textOnly = await composeMessage(content({ text: smuggled }));
    // the generated text alternative too: "&#13;" decodes to a CR
    const entity = await composeMessage(content({ text: undefined, html: '<pre>a&#13;.&#13;b</pre>' }));
    for (const raw of [htmlOnly, textOnly, entity]) expect(lineBreakFaults(raw)).toEqual([]);
    expect(decodedPartBody(htmlOnly, 'text/html')).toBe('<p>Hi\r\n.\r\nMAIL FROM:<x@example.com>\r\n</p>');
    expect(decodedPartBody(textOnly, 'text/plain')).toBe('Hi\r\n.\r\nMAIL FROM:<x@example.com>\r\n');
    expect(decodedPartBody(entity, 'text/plain')).toBe('a\r\n.\r\nb');
  });

  it('replaces NUL in text parts with U+FFFD', async () => {
    const raw = await composeMessage(content({ text: 'a\0b', html: '<p>c\0d</p>' }));
    expect(lineBreakFaults(raw)).toEqual([]);
    expect(decodedPartBody(raw, 'text/plain')).toBe('a\ufffdb');
    expect(decodedPartBody(raw, 'text/html')).toBe('<p>c\ufffdd</p>');
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

  it.each([['message/rfc822'], ['text/plain'], ['text/html; charset=utf-8'], ['message/partial'], [undefined]])(
    'sends %s attachments base64-encoded, NUL and bare CR included',
    async (contentType) => {
      const bytes = Buffer.from('From: a@example.test\r\nSubject: fwd\r\n\r\nbody\0with NUL\r.\r\nMAIL FROM:<x@example.com>\rend\n');
      const raw = await composeMessage(
        content({ attachments: [{ filename: 'forwarded.eml', content: bytes.toString('base64'), ...(contentType ? { contentType } : {}) }] }),
      );
      expect(lineBreakFaults(raw)).toEqual([]);
      // without a type, the .eml name makes it message/rfc822
      const part = partBody(raw, `${contentType?.split(';')[0] ?? 'message/rfc822'}.*name=forwarded\\.eml`);
      expect(part?.headers).toContain('Content-Transfer-Encoding: base64');
      expect(Buffer.from(part?.body.replace(/\r\n/g, '') ?? '', 'base64').equals(bytes)).toBe(true);
    },
  );

  it('sends an attachment labelled multipart/* as application/octet-stream: a leaf part holds no parts', async () => {
    const raw = await composeMessage(content({ attachments: [{ filename: 'a.bin', content: 'AAE=', contentType: 'multipart/mixed' }] }));
    expect(raw.toString('latin1').match(/Content-Type: multipart\//g)).toHaveLength(1);
    expect(partBody(raw, 'application/octet-stream')?.headers).toContain('Content-Transfer-Encoding: base64');
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
      ['a message/rfc822 attachment and a text one', { attachments: [{ filename: 'fwd.eml', content: Buffer.from('Subject: x\r\n\r\nbody\0\r').toString('base64'), contentType: 'message/rfc822' }, { filename: 'notes.txt', content: Buffer.from('a\rb').toString('base64'), contentType: 'text/plain' }] }],
      ['NUL and CR in text and HTML', { text: 'a\0b\rc', html: '<p>d\0e\rf</p>' }],
    ];
    // Text parts are normalised before the tree is built (composerOptions), so both writers get CRLF-only text
    // and agree byte for byte; before, build()'s line-break stream made bare LFs CRLF and left bare CRs alone.
    it.each(shapes)('%s', async (_shape, overrides) => {
      const options = composerOptions(content(overrides), 'fixedboundary0123');
      const streamed = await new MailComposer(options).compile().build();
      const written = serializeMime(new MailComposer(options).compile());
      expect(written.toString('latin1')).toBe(streamed.toString('latin1'));
    });
  });
});

/** Every bare CR, bare LF and NUL in a composed message, with its offset: a clean message has none. */
function lineBreakFaults(raw: Buffer): string[] {
  const faults: string[] = [];
  for (let i = 0; i < raw.length; i++) {
    const byte = raw[i];
    if (byte === 0x00) faults.push(`NUL at ${i}`);
    else if (byte === 0x0d && raw[i + 1] !== 0x0a) faults.push(`bare CR at ${i}`);
    else if (byte === 0x0a && raw[i - 1] !== 0x0d) faults.push(`bare LF at ${i}`);
  }
  return faults;
}

describe('composeMessage on any input', () => {
  // Line breaks, NUL, dots and the characters that change how a header or a part is encoded, often.
  const awkward = ['\r', '\n', '\r\n', '\0', '.', '\r.\r\n', '=', ' ', '\t', '"', ';', '<', '>', '\u2028', '\u0085', 'é', '👋'];
  const anyCharacter = fc.string({ unit: 'binary', minLength: 1, maxLength: 1 });
  const bodyText = (maxLength: number) =>
    fc.string({ unit: fc.oneof({ weight: 2, arbitrary: fc.constantFrom(...awkward) }, { weight: 3, arbitrary: anyCharacter }), maxLength });
  // What may go into a header: anything but CR, LF and NUL, which the composer refuses there (tested below).
  const headerText = (maxLength: number) =>
    fc.string({
      unit: fc.oneof(
        { weight: 2, arbitrary: fc.constantFrom(...awkward.filter((c) => !/[\r\n\0]/.test(c))) },
        { weight: 3, arbitrary: anyCharacter.filter((c) => !/[\r\n\0]/.test(c)) },
      ),
      maxLength,
    });
  const contentType = fc.oneof(
    fc.constantFrom('message/rfc822', 'message/partial', 'message/global', 'text/plain', 'text/html; charset=utf-8', 'multipart/mixed', 'application/pdf', 'image/png'),
    headerText(30),
  );
  const headerName = fc.oneof(fc.stringMatching(/^X-[A-Za-z0-9-]{1,20}$/), fc.constantFrom('Content-Type', 'Content-Transfer-Encoding', 'List-Unsubscribe'));
  const mailbox = fc.record({ email: fc.constantFrom('a@example.test', 'b@example.test'), name: fc.option(headerText(60), { nil: undefined }) });
  const input = fc.record({
    subject: headerText(120),
    html: fc.option(bodyText(400), { nil: undefined }),
    text: fc.option(bodyText(400), { nil: undefined }),
    from: mailbox,
    to: fc.array(mailbox, { minLength: 1, maxLength: 3 }),
    replyTo: fc.array(mailbox, { maxLength: 2 }),
    headers: fc.dictionary(headerName, headerText(100), { maxKeys: 3 }),
    attachments: fc.array(
      fc.record({
        filename: headerText(40),
        content: fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes).toString('base64')),
        contentType: fc.option(contentType, { nil: undefined }),
      }),
      { maxLength: 3 },
    ),
  });

  it('never writes a bare CR, a bare LF or a NUL, whatever the text, HTML, names, headers and attachments', async () => {
    await fc.assert(
      fc.asyncProperty(input, async (generated) => {
        const raw = await composeMessage(content({ ...generated, cc: [], bcc: [] }));
        expect(lineBreakFaults(raw)).toEqual([]);
      }),
      { numRuns: 1000 },
    );
  });

  it('refuses CR, LF or NUL anywhere in a header value, name or attachment name', async () => {
    const breaking = fc.tuple(headerText(20), fc.constantFrom('\r', '\n', '\0', '\r\n', '\r.\r\n'), headerText(20)).map((parts) => parts.join(''));
    const places: ((value: string) => Partial<MailContent>)[] = [
      (value) => ({ subject: value }),
      (value) => ({ from: { email: 'a@example.test', name: value } }),
      (value) => ({ to: [{ email: 'a@example.test', name: value }] }),
      (value) => ({ replyTo: [{ email: 'a@example.test', name: value }] }),
      (value) => ({ headers: { 'X-Note': value } }),
      (value) => ({ attachments: [{ filename: value, content: 'AA==' }] }),
      (value) => ({ attachments: [{ filename: 'a.bin', content: 'AA==', contentType: value }] }),
    ];
    await fc.assert(
      fc.asyncProperty(input, breaking, fc.constantFrom(...places), async (generated, value, place) => {
        await expect(composeMessage(content({ ...generated, cc: [], bcc: [], ...place(value) }))).rejects.toBeInstanceOf(MailCompositionError);
      }),
      { numRuns: 300 },
    );
  });
});

describe('normalizeTextPart', () => {
  it('makes every line break CRLF and NUL U+FFFD, leaving CRLF alone', () => {
    expect(normalizeTextPart('a\rb\nc\r\nd\n\re\r\r\nf\0')).toBe('a\r\nb\r\nc\r\nd\r\n\r\ne\r\n\r\nf\ufffd');
    const clean = 'already\r\nclean';
    expect(normalizeTextPart(clean)).toBe(clean);
  });

  it.each([['1 MB', 1], ['10 MB', 10]])('is linear: %s of bare CRs and NULs', (_size, megabytes) => {
    const input = '\r\0\n'.repeat((megabytes * 1024 * 1024) / 3);
    const { result, ms } = cpuTimeOf(() => normalizeTextPart(input));
    expect(result.length).toBe((input.length / 3) * 5);
    expect(ms).toBeLessThan(linearBoundMs(megabytes));
  });
});
