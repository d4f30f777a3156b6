import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ApiError } from '../../platform/http/errors.js';
import type { MailAddress } from '../../platform/mail/types.js';
import { parseRequestPart } from '../../platform/http/zod-compilers.js';
import { scheduleEmailBody, sendEmailBody, type NormalizedEmail } from './send-schema.js';

// the route's own refusal: the schema through the validator every route uses
const parseSendBody = (body: unknown) => parseRequestPart(sendEmailBody, body);
const parseScheduleBody = (body: unknown) => parseRequestPart(scheduleEmailBody, body);

/** One email as a model, rendered below in every spelling spec §3.1 lists. */
interface Model {
  to: MailAddress[];
  cc: MailAddress[];
  bcc: MailAddress[];
  replyTo: MailAddress[];
  from: MailAddress | null;
  subject: string;
  content: { kind: 'html'; value: string } | { kind: 'text'; value: string } | { kind: 'template'; id: string; params: Record<string, unknown> };
  metadata: Record<string, string>;
  tags: string[];
  headers: [string, string][];
  attachments: { filename: string; bytes: number[]; contentType?: string; contentId?: string }[];
}

const name = fc.stringMatching(/^[A-Za-z][A-Za-z .]{0,20}[A-Za-z]$/);
const address = fc.record({ email: fc.stringMatching(/^[a-z0-9]{1,10}@[a-z]{1,8}\.test$/), name: fc.option(name, { nil: undefined }) }, { requiredKeys: ['email'] }).map((a): MailAddress => (a.name ? { email: a.email, name: a.name } : { email: a.email }));
const word = fc.stringMatching(/^[a-z]{1,8}$/);

const model: fc.Arbitrary<Model> = fc.record({
  to: fc.array(address, { minLength: 1, maxLength: 3 }),
  cc: fc.array(address, { maxLength: 2 }),
  bcc: fc.array(address, { maxLength: 2 }),
  replyTo: fc.array(address, { maxLength: 2 }),
  from: fc.option(address, { nil: null }),
  subject: fc.stringMatching(/^[A-Za-z][A-Za-z0-9 ,.!?]{0,30}[A-Za-z.!?]$/),
  content: fc.oneof(
    word.map((w) => ({ kind: 'html' as const, value: `<p>${w}</p>` })),
    word.map((w) => ({ kind: 'text' as const, value: `${w} 1 < 2` })),
    fc.record({ kind: fc.constant('template' as const), id: word.map((w) => `tpl_${w}`), params: fc.dictionary(word, word, { maxKeys: 3 }) }),
  ),
  metadata: fc.dictionary(word, word, { maxKeys: 3 }),
  tags: fc.array(word, { maxLength: 3 }),
  headers: fc.uniqueArray(fc.tuple(fc.stringMatching(/^X-[A-Za-z]{1,10}$/), word), { maxLength: 3, selector: ([n]) => n.toLowerCase() }),
  attachments: fc.array(
    fc.record(
      { filename: word.map((w) => `${w}.bin`), bytes: fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 40 }), contentType: fc.constantFrom('application/pdf', 'text/plain'), contentId: word },
      { requiredKeys: ['filename', 'bytes'] },
    ),
    { maxLength: 2 },
  ),
});

/** The email a model means: what every spelling of it must parse to. */
function expected(m: Model): NormalizedEmail {
  return {
    from: m.from,
    to: m.to,
    cc: m.cc,
    bcc: m.bcc,
    replyTo: m.replyTo,
    subject: m.subject,
    html: m.content.kind === 'html' ? m.content.value : null,
    text: m.content.kind === 'text' ? m.content.value : null,
    headers: Object.fromEntries(m.headers),
    attachments: m.attachments.map((a) => ({
      filename: a.filename,
      content: Buffer.from(a.bytes).toString('base64'),
      ...(a.contentType ? { contentType: a.contentType } : {}),
      ...(a.contentId ? { contentId: a.contentId } : {}),
    })),
    metadata: m.metadata,
    tags: m.tags,
    templateId: m.content.kind === 'template' ? m.content.id : null,
    params: m.content.kind === 'template' ? m.content.params : {},
    tracking: { opens: null, clicks: null },
  };
}

/** The canonical spelling: snake_case names, lists of `{email, name}`, `html`/`text`, `params`, `headers` as an object. */
function canonical(m: Model): Record<string, unknown> {
  const c = m.content;
  return {
    to: m.to,
    ...(m.cc.length ? { cc: m.cc } : {}),
    ...(m.bcc.length ? { bcc: m.bcc } : {}),
    ...(m.replyTo.length ? { reply_to: m.replyTo } : {}),
    ...(m.from ? { from: m.from } : {}),
    subject: m.subject,
    ...(c.kind === 'html' ? { html: c.value } : c.kind === 'text' ? { text: c.value } : { template_id: c.id, params: c.params }),
    metadata: m.metadata,
    tags: m.tags,
    headers: Object.fromEntries(m.headers),
    attachments: m.attachments.map((a) => ({
      filename: a.filename,
      content: Buffer.from(a.bytes).toString('base64'),
      ...(a.contentType ? { content_type: a.contentType } : {}),
      ...(a.contentId ? { content_id: a.contentId } : {}),
    })),
  };
}

/** The choices a client makes, one number each (taken modulo the number of spellings there are). */
type Choices = number[];
const pick = <T>(choices: Choices, at: number, options: readonly T[]): T => options[(choices[at] ?? 0) % options.length]!;

const asText = (a: MailAddress) => (a.name ? `${a.name} <${a.email}>` : a.email);
const asQuotedText = (a: MailAddress) => (a.name ? `"${a.name}" <${a.email}>` : a.email);

function addressEntry(a: MailAddress, choice: number): unknown {
  switch (choice % 4) {
    case 0:
      return asText(a);
    case 1:
      return asQuotedText(a);
    case 2:
      return a.name ? { address: a.email, name: a.name } : { address: a.email };
    default:
      return a.name ? { email: asText(a) } : { email: a.email, name: '' };
  }
}

/** One of the shapes a list can take: a string, a comma-separated string, a single object, or a (mixed) list. */
function addressList(list: MailAddress[], choices: Choices, at: number): unknown {
  const shape = pick(choices, at, ['list', 'single', 'comma'] as const);
  if (shape === 'single' && list.length === 1) return addressEntry(list[0]!, choices[at + 1] ?? 0);
  if (shape === 'comma' && list.length > 1 && list.every((a) => !a.name)) return list.map((a) => a.email).join(pick(choices, at + 1, [',', ', ', ' , ']));
  return list.map((a, i) => addressEntry(a, (choices[at + 1] ?? 0) + i));
}

/** The same email in another client's spelling. */
function variant(m: Model, c: Choices): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  body.to = addressList(m.to, c, 0);
  if (m.cc.length) body.cc = addressList(m.cc, c, 2);
  if (m.bcc.length) body.bcc = addressList(m.bcc, c, 4);
  if (m.replyTo.length) body[pick(c, 6, ['reply_to', 'replyTo'])] = addressList(m.replyTo, c, 7);
  if (m.from) {
    const f = m.from;
    const form = pick(c, 9, ['text', 'name-field', 'object'] as const);
    if (form === 'text') body.from = asQuotedText(f);
    else if (form === 'object') body.from = f.name ? { email: f.email, name: f.name } : { email: f.email };
    else {
      body.from = f.email;
      if (f.name) body[pick(c, 10, ['from_name', 'fromName'])] = ` ${f.name} `;
    }
  }
  body.subject = m.subject;
  const content = m.content;
  if (content.kind === 'template') {
    body[pick(c, 11, ['template_id', 'templateId'])] = content.id;
    body[pick(c, 12, ['params', 'template_data', 'templateData'])] = content.params;
  } else {
    const asHtml = content.kind === 'html';
    const form = pick(c, 11, ['field', 'body', 'body-flag'] as const);
    if (form === 'field') body[content.kind] = content.value;
    else body.body = content.value;
    if (form === 'body-flag') body[pick(c, 12, ['is_html', 'isHtml'])] = pick(c, 13, asHtml ? [true, 'true'] : [false, 'false', 0]);
  }
  body[pick(c, 14, ['metadata', 'meta'])] = m.metadata;
  if (m.tags.length || pick(c, 15, [true, false])) body.tags = m.tags;
  const headerField = pick(c, 16, ['headers', 'custom_headers']);
  const listForm = pick(c, 17, ['object', 'name', 'key'] as const);
  body[headerField] = listForm === 'object' ? Object.fromEntries(m.headers) : m.headers.map(([n, v]) => ({ [listForm]: n, value: v }));
  if (m.attachments.length) {
    body.attachments = m.attachments.map((a, i) => {
      const base64 = Buffer.from(a.bytes).toString('base64');
      return {
        [pick(c, 18 + i, ['filename', 'name'])]: a.filename,
        content: pick(c, 20 + i, [base64, `data:application/octet-stream;base64,${base64}`, `${base64.replace(/.{8}/g, '$&\r\n')}\n`]),
        ...(a.contentType ? { [pick(c, 22 + i, ['content_type', 'contentType', 'type'])]: a.contentType } : {}),
        ...(a.contentId ? { [pick(c, 24 + i, ['content_id', 'contentId', 'cid'])]: a.contentId } : {}),
      };
    });
  }
  return body;
}

const choices = fc.array(fc.nat({ max: 11 }), { minLength: 26, maxLength: 26 });

describe('every spelling of an email parses to the same email as its canonical form', () => {
  it('holds for generated emails in generated spellings (send)', () => {
    fc.assert(
      fc.property(model, choices, (m, c) => {
        const want = expected(m);
        expect(parseSendBody(canonical(m))).toEqual({ email: want, when: null });
        expect(parseSendBody(variant(m, c))).toEqual({ email: want, when: null });
      }),
      { numRuns: 500 },
    );
  });

  it('holds on the schedule endpoint, flat or nested in `email`, with any spelling of the time', () => {
    const fields = ['scheduled_at', 'scheduled_for', 'scheduledAt', 'scheduledFor'];
    fc.assert(
      fc.property(model, choices, fc.nat({ max: 7 }), (m, c, shape) => {
        const time = { [fields[shape % 4]!]: '2030-01-15T09:00:00', timezone: 'Asia/Tokyo', priority: 'BULK' };
        const body = shape < 4 ? { ...variant(m, c), ...time } : { ...time, email: variant(m, c) };
        expect(parseScheduleBody(body)).toEqual({ email: expected(m), when: { at: new Date('2030-01-15T00:00:00Z'), timezone: 'Asia/Tokyo' }, tier: 'bulk' });
      }),
      { numRuns: 200 },
    );
  });

  it('a time on a plain send is read, null and "" are none', () => {
    const base = { to: 'a@x.io', subject: 's', body: 'b' };
    expect(parseSendBody({ ...base, scheduledFor: '2030-01-15T09:00:00Z' }).when).toEqual({ at: new Date('2030-01-15T09:00:00Z'), timezone: 'UTC' });
    expect(parseSendBody({ ...base, scheduled_at: null, scheduled_for: '' }).when).toBeNull();
  });
});

function refusal(parse: () => unknown): ApiError {
  try {
    parse();
  } catch (err) {
    expect(err).toBeInstanceOf(ApiError);
    return err as ApiError;
  }
  throw new Error('expected a refusal');
}

describe('complaints name the exact place, whichever variant holds the fault', () => {
  const base = { subject: 's', body: 'b' };
  it.each([
    [{ ...base, to: 5 }, "Field 'to' must be an email address string or an object with 'email'"],
    [{ ...base, to: ['a@x.io', 5] }, "Field 'to[1]' must be an email address string or an object with 'email'"],
    [{ ...base, to: ['a@x.io', 'bad@'] }, 'Field \'to[1]\' has an invalid email address: "bad@"'],
    [{ ...base, to: 'a@x.io, bad@' }, 'Field \'to[1]\' has an invalid email address: "bad@"'],
    [{ ...base, to: [{ email: 5 }] }, "Field 'to[0].email' is required"],
    [{ ...base, to: { address: 'a@x.io', name: ['x'] } }, "Field 'to.name' must be a string"],
    [{ ...base, to: 'a@x.io', cc: [[]] }, "Field 'cc[0]' must be an email address string or an object with 'email'"],
    [{ ...base, to: 'a@x.io', from: 7 }, "Field 'from' must be an email address string or an object with 'email'"],
    [{ ...base, to: 'a@x.io', from: 's@x.io', fromName: 'A\nB' }, "Field 'fromName' must not contain line breaks"],
    [{ ...base, to: 'a@x.io', headers: { 'X-A': true } }, "Field 'headers.X-A' must be a string"],
    [{ ...base, to: 'a@x.io', custom_headers: [{ key: 'X-A', value: 'v' }, 'X-B: v'] }, "Field 'custom_headers[1]' must be {name, value}"],
    [{ ...base, to: 'a@x.io', headers: 'X-A: v' }, "Field 'headers' must be an object of header names to values"],
    [{ ...base, to: 'a@x.io', tags: ['a', 1] }, "Field 'tags' must be an array of strings"],
    [{ ...base, to: 'a@x.io', template_data: [1] }, "Field 'template_data' must be an object"],
    [{ ...base, to: 'a@x.io', attachments: [{ name: 'a.txt' }] }, "Field 'attachments[0].content' is required (base64)"],
    [{ ...base, to: 'a@x.io', attachments: [{ content: 'aGk=' }] }, "Field 'attachments[0].filename' is required"],
    [{ ...base, to: 'a@x.io', attachments: ['aGk='] }, "Field 'attachments[0]' must be an object"],
    [{ ...base, to: 'a@x.io', subject: 5 }, "Field 'subject' must be a string"],
    [{ ...base, to: 'a@x.io', headers: { 'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click' } }, "Field 'headers.List-Unsubscribe-Post'"],
    ['x', 'Request body must be a JSON object'],
  ])('%j → %s', (body, message) => {
    const err = refusal(() => parseSendBody(body));
    expect([err.code, err.message.slice(0, message.length)]).toEqual(['VALIDATION_ERROR', message]);
  });

  it('keeps the codes of its own refusals: 413 for a message over 40 MB, INVALID_SCHEDULE_TIME, priority', () => {
    const big = Buffer.alloc(30 * 1024 * 1024).toString('base64');
    expect(refusal(() => parseSendBody({ to: 'a@x.io', ...base, attachments: [{ filename: 'a', content: big }] })).status).toBe(413);
    expect(refusal(() => parseSendBody({ to: 'a@x.io', ...base, scheduled_at: 'soon' })).code).toBe('INVALID_SCHEDULE_TIME');
    expect(refusal(() => parseScheduleBody({ to: 'a@x.io', ...base })).message).toBe("Field 'scheduled_at' (or 'scheduled_for') is required");
    expect(refusal(() => parseScheduleBody({ to: 'a@x.io', ...base, scheduled_at: '2030-01-01T00:00:00Z', priority: 'urgent' })).message).toBe("Field 'priority' must be one of instant, high, async, bulk");
  });
});

describe('the schemas in the API reference', () => {
  const input = (schema: z.ZodType) => z.toJSONSchema(schema, { io: 'input' }) as Record<string, unknown> & { properties: Record<string, Record<string, unknown>> };

  it('describe the send body: every spelling, `to` as a string, a list or an object, with descriptions and an example', () => {
    const doc = input(sendEmailBody);
    expect(doc).toMatchObject({ type: 'object', required: ['to'], description: expect.stringContaining('spec §3.1') });
    expect(parseSendBody(doc.example)).toMatchObject({ email: { to: [{ email: 'jane@example.com' }] } });
    for (const field of ['to', 'cc', 'reply_to', 'replyTo', 'from', 'from_name', 'fromName', 'body', 'html', 'text', 'is_html', 'isHtml', 'template_id', 'templateId', 'params', 'template_data', 'templateData', 'metadata', 'meta', 'tags', 'headers', 'custom_headers', 'attachments']) {
      expect(doc.properties[field]?.description, field).toEqual(expect.any(String));
    }
    const to = doc.properties.to as { anyOf: { type?: string; items?: { anyOf: { type?: string }[] } }[]; example: unknown };
    expect(to.anyOf.map((o) => o.type)).toEqual(['array', 'string', 'object']);
    expect(to.anyOf[0]!.items!.anyOf.map((o) => o.type)).toEqual(['string', 'object', undefined]);
    expect(parseSendBody({ to: to.example, subject: 's', body: 'b' }).email.to).toHaveLength(2);
    expect(JSON.stringify(doc.properties.attachments)).toContain('content_type');
  });

  it('describe the schedule body: the nested `email`, the time fields and priority', () => {
    const doc = input(scheduleEmailBody);
    for (const field of ['email', 'scheduled_at', 'scheduled_for', 'timezone', 'priority']) expect(doc.properties[field]?.description, field).toEqual(expect.any(String));
    expect(doc.properties.email).toMatchObject({ type: 'object', properties: { to: expect.any(Object) } });
    expect(parseScheduleBody({ ...(doc.example as object), scheduled_at: '2030-01-01T09:00:00' }).tier).toBe('async');
  });
});
