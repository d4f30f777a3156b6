import { describe, expect, it } from 'vitest';
import { cpuTimeOf, linearBoundMs, megabytesOf } from '../../../test/support/cpu-time.js';
import { ApiError } from '../../platform/http/errors.js';
import { readBase64Content } from './attachment-content.js';
import { MAX_ADDRESS_STRING_LENGTH, MAX_DISPLAY_NAME_LENGTH } from './addresses.js';
import { looksLikeHtml } from './looks-like-html.js';
import { parseRequestPart } from '../../platform/http/zod-compilers.js';
import { sendEmailBody } from './send-schema.js';

// the route's own refusal: the schema through the validator every route uses
const parseSendBody = (body: unknown) => parseRequestPart(sendEmailBody, body);

/** The email a send body means, as the send routes read it. */
const emailOf = (body: unknown) => parseSendBody(body).email;

const base = { subject: 'Hi', body: 'Hello' };

function rejects(body: unknown): ApiError {
  try {
    emailOf(body);
  } catch (err) {
    expect(err).toBeInstanceOf(ApiError);
    return err as ApiError;
  }
  throw new Error('expected the body to be rejected');
}

describe('sendEmailBody: the request variants real clients send', () => {
  it('accepts `to` as a string, a list, objects and mixed lists', () => {
    expect(emailOf({ ...base, to: 'a@x.io' }).to).toEqual([{ email: 'a@x.io' }]);
    expect(emailOf({ ...base, to: ['a@x.io', 'b@x.io'] }).to).toEqual([{ email: 'a@x.io' }, { email: 'b@x.io' }]);
    expect(emailOf({ ...base, to: [{ email: 'a@x.io', name: 'A' }, 'b@x.io'] }).to).toEqual([{ email: 'a@x.io', name: 'A' }, { email: 'b@x.io' }]);
    expect(emailOf({ ...base, to: { email: 'a@x.io' } }).to).toEqual([{ email: 'a@x.io' }]);
    expect(emailOf({ ...base, to: 'Jane Doe <jane@x.io>' }).to).toEqual([{ email: 'jane@x.io', name: 'Jane Doe' }]);
  });

  it('accepts cc/bcc as strings or objects and reply_to as string or object', () => {
    const n = emailOf({ ...base, to: 'a@x.io', cc: ['c@x.io'], bcc: [{ email: 'b@x.io' }], reply_to: { email: 'r@x.io', name: 'R' } });
    expect(n.cc).toEqual([{ email: 'c@x.io' }]);
    expect(n.bcc).toEqual([{ email: 'b@x.io' }]);
    expect(n.replyTo).toEqual([{ email: 'r@x.io', name: 'R' }]);
  });

  it('reads from as string or object, with from_name or fromName', () => {
    expect(emailOf({ ...base, to: 'a@x.io', from: 's@x.io', from_name: 'Shop' }).from).toEqual({ email: 's@x.io', name: 'Shop' });
    expect(emailOf({ ...base, to: 'a@x.io', from: 's@x.io', fromName: 'Shop' }).from).toEqual({ email: 's@x.io', name: 'Shop' });
    expect(emailOf({ ...base, to: 'a@x.io', from: { email: 's@x.io', name: 'Obj' } }).from).toEqual({ email: 's@x.io', name: 'Obj' });
    expect(emailOf({ ...base, to: 'a@x.io' }).from).toBeNull();
  });

  it('detects HTML in body, honours is_html, and accepts html/text', () => {
    expect(emailOf({ to: 'a@x.io', subject: 's', body: '<p>x</p>' }).html).toBe('<p>x</p>');
    expect(emailOf({ to: 'a@x.io', subject: 's', body: 'plain' }).text).toBe('plain');
    expect(emailOf({ to: 'a@x.io', subject: 's', body: '<b>not</b>', is_html: false }).text).toBe('<b>not</b>');
    expect(emailOf({ to: 'a@x.io', subject: 's', body: 'x', is_html: true }).html).toBe('x');
    const both = emailOf({ to: 'a@x.io', subject: 's', html: '<p>h</p>', text: 't' });
    expect([both.html, both.text]).toEqual(['<p>h</p>', 't']);
  });

  it('reads params, template_data, metadata, meta, tags, headers and custom_headers', () => {
    const n = emailOf({ to: 'a@x.io', subject: 's', template_id: 'tpl_1', template_data: { a: 1 }, meta: { k: 'v' }, tags: ['t'], custom_headers: [{ name: 'X-A', value: '1' }], headers: { 'X-B': '2' } });
    expect(n.templateId).toBe('tpl_1');
    expect(n.params).toEqual({ a: 1 });
    expect(n.metadata).toEqual({ k: 'v' });
    expect(n.tags).toEqual(['t']);
    expect(n.headers).toEqual({ 'X-A': '1', 'X-B': '2' });
  });

  it('decodes attachments with either spelling of the content type', () => {
    const n = emailOf({ ...base, to: 'a@x.io', attachments: [{ filename: 'a.txt', content: Buffer.from('hi').toString('base64'), content_type: 'text/plain' }, { filename: 'b.bin', content: 'AAE=', contentType: 'application/octet-stream' }] });
    expect(n.attachments).toEqual([
      { filename: 'a.txt', content: 'aGk=', contentType: 'text/plain' },
      { filename: 'b.bin', content: 'AAE=', contentType: 'application/octet-stream' },
    ]);
  });
});

describe('sendEmailBody: validation names the field', () => {
  it.each([
    [{ subject: 's', body: 'b' }, "Field 'to' is required"],
    [{ to: [], subject: 's', body: 'b' }, "Field 'to' is required"],
    [{ to: 'a@x.io', body: 'b' }, "Field 'subject' is required"],
    [{ to: 'a@x.io', subject: 's' }, "Field 'body' is required"],
    [{ to: 'not-an-address', subject: 's', body: 'b' }, "Field 'to' has an invalid email address"],
    [{ to: ['a@x.io', 'bad@'], subject: 's', body: 'b' }, "Field 'to[1]' has an invalid email address"],
    [{ to: 'a@x.io', cc: [{ name: 'x' }], subject: 's', body: 'b' }, "Field 'cc[0].email' is required"],
    [{ to: 'a@x.io', subject: 's', template_id: 't', body: '<p>x</p>' }, "cannot be combined with 'template_id'"],
    [{ to: 'a@x.io', subject: 's', body: 'b', attachments: [{ filename: 'a', content: '@@@' }] }, "Field 'attachments[0].content' must be base64"],
    [{ to: 'a@x.io', subject: 's', body: 'b', headers: { Bcc: 'x@y.io' } }, "reserved header 'Bcc'"],
    [[1, 2], 'must be a JSON object'],
  ])('%j → %s', (body, message) => {
    const err = rejects(body);
    expect(err.code).toBe('VALIDATION_ERROR');
    expect(err.message).toContain(message);
  });

  it('refuses more than 50 recipients in to+cc+bcc', () => {
    const to = Array.from({ length: 30 }, (_, i) => `t${i}@x.io`);
    const cc = Array.from({ length: 21 }, (_, i) => `c${i}@x.io`);
    expect(rejects({ ...base, to, cc }).message).toContain('at most 50');
  });
});

describe('sendEmailBody: header injection is impossible', () => {
  it.each([
    [{ ...base, to: 'a@x.io\r\nBcc: evil@x.io' }],
    [{ ...base, to: [{ email: 'a@x.io', name: 'A\r\nBcc: evil@x.io' }] }],
    [{ ...base, to: 'a@x.io', from: 's@x.io', from_name: 'Shop\nBcc: evil@x.io' }],
    [{ ...base, to: 'a@x.io', reply_to: 'r@x.io\nBcc: evil@x.io' }],
    [{ ...base, to: 'a@x.io', headers: { 'X-Ok': 'v\r\nBcc: evil@x.io' } }],
    [{ ...base, to: 'a@x.io', headers: { 'X-Bad\r\nBcc': 'v' } }],
    [{ ...base, to: 'a@x.io', attachments: [{ filename: 'a\r\nBcc: e@x.io', content: 'aGk=' }] }],
  ])('rejects CR/LF in addresses, names and headers: %j', (body) => {
    expect(rejects(body).code).toBe('VALIDATION_ERROR');
  });

  it('folds line breaks in the subject into spaces', () => {
    expect(emailOf({ to: 'a@x.io', subject: 'Hi\r\nBcc: evil@x.io', body: 'b' }).subject).toBe('Hi Bcc: evil@x.io');
  });
});

describe('looksLikeHtml', () => {
  it.each([
    ['<p>x</p>', true],
    ['a </B> b', true],
    ['<a', false],
    ['1 < 2 and 3 > 2', false],
    ['<3 <a', false],
    ['<!doctype> text', false],
    ['x <br', false],
    ['<a x\n\n>', true],
  ])('%j → %s', (body, expected) => {
    expect(looksLikeHtml(body)).toBe(expected);
  });

  it.each([1, 10])('is linear on %i MB of "<a" (no ">")', (megabytes) => {
    const body = megabytesOf('<a', megabytes);
    const { result, ms } = cpuTimeOf(() => emailOf({ to: 'a@x.io', subject: 's', body }));
    expect(result.text).toBe(body);
    expect(result.html).toBeNull();
    expect(ms).toBeLessThan(linearBoundMs(megabytes));
    expect(looksLikeHtml(`${body}>`)).toBe(true);
  });
});

describe('attachment content', () => {
  it('accepts base64 wrapped in lines, indented, or as a data: URL, and removes the white space', () => {
    const bytes = Buffer.from('hello attachment, long enough to wrap '.repeat(5));
    const wrapped = `  ${bytes.toString('base64').replace(/.{20}/g, '$&\r\n\t')}\n `;
    expect(readBase64Content(wrapped)).toEqual({ base64: bytes.toString('base64'), bytes: bytes.length });
    expect(readBase64Content('data:text/plain;base64,aGk=')).toEqual({ base64: 'aGk=', bytes: 2 });
    expect(readBase64Content('AA==\r\n')).toEqual({ base64: 'AA==', bytes: 1 });
    expect(readBase64Content('')).toEqual({ base64: '', bytes: 0 });
  });

  it.each(['@@@', 'AA=A', 'AA===', 'AA= =', 'data:text/plain,aGk=', 'data:;base64,a!', 'aGk=\u0000'])('refuses %j', (content) => {
    expect(readBase64Content(content)).toBeNull();
  });

  it('refuses 60,000 spaces and "!" at once, as the review sent it', () => {
    const content = `${' '.repeat(60_000)}!`;
    const { result, ms } = cpuTimeOf(() => rejects({ ...base, to: 'a@x.io', attachments: [{ filename: 'a.bin', content }] }));
    expect(result.message).toContain("Field 'attachments[0].content' must be base64");
    expect(ms).toBeLessThan(linearBoundMs(1));
  });

  it.each([1, 10])('is linear on %i MB: white space and "!", and wrapped base64', (megabytes) => {
    const spaces = `${megabytesOf(' ', megabytes)}!`;
    const refused = cpuTimeOf(() => readBase64Content(spaces));
    expect(refused.result).toBeNull();
    expect(refused.ms).toBeLessThan(linearBoundMs(megabytes));

    const bytes = Buffer.alloc((megabytes * 1024 * 1024 * 3) / 4, 0xab);
    const wrapped = bytes.toString('base64').replace(/.{76}/g, '$&\r\n');
    const accepted = cpuTimeOf(() => readBase64Content(wrapped));
    expect(accepted.result?.bytes).toBe(bytes.length);
    expect(accepted.ms).toBeLessThan(linearBoundMs(megabytes));
  });
});

describe('addresses are bounded before any pattern reads them', () => {
  it('accepts a display name up to the limit, in both forms', () => {
    const name = 'N'.repeat(MAX_DISPLAY_NAME_LENGTH);
    expect(emailOf({ ...base, to: [`"${name}" <${'a'.repeat(240)}@x.io>`] }).to[0]?.name).toBe(name);
    expect(MAX_ADDRESS_STRING_LENGTH).toBeGreaterThanOrEqual(MAX_DISPLAY_NAME_LENGTH + 254 + 8);
    expect(emailOf({ ...base, to: [{ email: 'a@x.io', name }] }).to[0]?.name).toBe(name);
  });

  it.each([
    [{ ...base, to: ['a@x.io', `N <${'a'.repeat(MAX_ADDRESS_STRING_LENGTH)}@x.io>`] }, `Field 'to[1]' is longer than ${MAX_ADDRESS_STRING_LENGTH} characters`],
    [{ ...base, to: ['a@x.io', `${'N'.repeat(MAX_DISPLAY_NAME_LENGTH + 1)} <a@x.io>`] }, `Field 'to[1]' has a display name longer than ${MAX_DISPLAY_NAME_LENGTH} characters`],
    [{ ...base, to: [{ email: 'a@x.io', name: 'N'.repeat(MAX_DISPLAY_NAME_LENGTH + 1) }] }, `Field 'to[0].name' is longer than ${MAX_DISPLAY_NAME_LENGTH} characters`],
    [{ ...base, to: 'a@x.io', from: { email: `${'a'.repeat(MAX_ADDRESS_STRING_LENGTH)}@x.io` } }, `Field 'from.email' is longer than ${MAX_ADDRESS_STRING_LENGTH} characters`],
  ])('refuses %#: %s', (body, message) => {
    const err = rejects(body);
    expect(err.code).toBe('VALIDATION_ERROR');
    expect(err.message).toContain(message);
  });

  it.each([1, 10])('refuses %i MB addresses and names at once', (megabytes) => {
    for (const to of [
      ['a@x.io', `${megabytesOf('a', megabytes)}@x.io`],
      ['a@x.io', `${megabytesOf('<', megabytes)}a@x.io>`],
      ['a@x.io', `"${megabytesOf('"<a', megabytes)}" <a@x.io>`],
      ['a@x.io', { email: 'a@x.io', name: megabytesOf('N ', megabytes) }],
    ]) {
      const { result, ms } = cpuTimeOf(() => rejects({ ...base, to }));
      expect(result.message).toMatch(/^Field 'to\[1\]/);
      expect(ms).toBeLessThan(linearBoundMs(megabytes));
    }
  });
});
