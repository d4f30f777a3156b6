import { z } from 'zod';
import { TIERS, type Tier } from '../../platform/lifecycle.js';
import { ApiError } from '../../platform/http/errors.js';
import type { MailAddress, MailAttachment } from '../../platform/mail/types.js';
import { displayNameTooLong, isCommaList, LINE_BREAK, MAX_DISPLAY_NAME_LENGTH, readAddress, type Problem } from './addresses.js';
import { readBase64Content } from './attachment-content.js';
import { isReservedHeader, listHeaderProblem } from './header-policy.js';
import { sendLimitProblem } from './limits.js';
import { looksLikeHtml } from './looks-like-html.js';
import { parseScheduleTime, type ScheduleTime } from './schedule-time.js';

/**
 * The send and schedule request bodies (spec §3.1: every variant real clients send) as zod schemas: their
 * input is the union of those variants, their output one typed request. Complaints are worded for
 * validation-message.ts, which adds the `Field 'x'` prefix from the issue's path.
 */

/** One send request after every client variant of spec §3.1 has been folded into one shape. */
export interface NormalizedEmail {
  from: MailAddress | null;
  to: MailAddress[];
  cc: MailAddress[];
  bcc: MailAddress[];
  replyTo: MailAddress[];
  subject: string | null;
  html: string | null;
  text: string | null;
  headers: Record<string, string>;
  attachments: MailAttachment[];
  metadata: Record<string, unknown>;
  tags: string[];
  templateId: string | null;
  params: Record<string, unknown>;
  /** track_opens / track_clicks as the request set them; null = the workspace's default (README, "Tracking") */
  tracking: { opens: boolean | null; clicks: boolean | null };
}

/** A send-email/{tier} request: a time on it schedules the email in that tier (README, Scheduled sending). */
export interface SendRequest {
  email: NormalizedEmail;
  when: ScheduleTime | null;
}

/** A send-email/schedule request. */
export interface ScheduleRequest {
  email: NormalizedEmail;
  when: ScheduleTime;
  tier: Tier;
}

export const MAX_RECIPIENTS = 50;
export const MAX_MESSAGE_BYTES = 40 * 1024 * 1024;

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isProblem = (v: MailAddress | Problem): v is Problem => 'problem' in v;

/**
 * A complaint about a value of the right JSON type. `continue: true` is what lets a union pick the option it
 * came from: zod 4 reports the one option whose issues do not abort (a wrong type aborts), so `to[1]` says
 * "has an invalid email address", not "no option matched".
 */
function complain(ctx: z.core.ParsePayload<unknown>, message: string, path: PropertyKey[] = []): void {
  ctx.issues.push({ code: 'custom', message, path, input: ctx.value, continue: true });
}

/**
 * A leaf read inside a union option: typed for the reference (`.meta`), checked by the option's transform. A
 * zod type check there would abort the whole option, and the union would then answer "must be an email
 * address string or …" for `{email: 5}` instead of naming `to[0].email`.
 */
const leaf = (type: 'string' | 'boolean' | ['string', 'number'], description: string) => z.unknown().optional().meta({ type, description });

/**
 * The last option of a union: any value of none of the other options' JSON kinds gets `message` at its own
 * path (`to[1]`). For a value of their kinds it gives way (an aborting issue), so the option that matched
 * the kind is the one reported. `not: {}` in the reference: no value is accepted by this option.
 */
function otherwise(message: string, handledKind: (v: unknown) => boolean): z.ZodType<never, unknown> {
  const option = z.unknown().check((ctx) => {
    ctx.issues.push({ code: 'custom', message, input: ctx.value, continue: !handledKind(ctx.value) });
  });
  return option.meta({ not: {} }) as unknown as z.ZodType<never, unknown>;
}

const ADDRESS_ENTRY = "must be an email address string or an object with 'email'";
const isAddressKind = (v: unknown): boolean => typeof v === 'string' || isRecord(v);

/** "jane@x.io" or "Jane <jane@x.io>". */
const addressText = z
  .string()
  .transform((raw, ctx) => {
    const read = readAddress(raw);
    if (!isProblem(read)) return read;
    complain(ctx, read.problem);
    return z.NEVER;
  })
  .meta({ description: 'An address, or "Name <address>"', example: 'Jane Doe <jane@example.com>' });

/** `name` is a string, one line; empty means none. */
function readName(value: unknown): string | undefined | Problem {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') return { problem: 'must be a string' };
  if (LINE_BREAK.test(value)) return { problem: 'must not contain line breaks' };
  const name = value.trim();
  return name === '' ? undefined : name;
}

const addressObject = z
  .object({
    email: leaf('string', 'The address (or "Name <address>")'),
    address: leaf('string', "Another spelling of 'email'"),
    name: leaf('string', `Display name, at most ${MAX_DISPLAY_NAME_LENGTH} characters`),
  })
  .transform((entry, ctx): MailAddress => {
    const email = entry.email ?? entry.address;
    if (typeof email !== 'string' || email.trim() === '') {
      complain(ctx, 'is required', ['email']);
      return z.NEVER;
    }
    const parsed = readAddress(email);
    if (isProblem(parsed)) {
      complain(ctx, parsed.problem, ['email']);
      return z.NEVER;
    }
    const name = typeof entry.name === 'string' && entry.name.length > MAX_DISPLAY_NAME_LENGTH ? displayNameTooLong() : readName(entry.name);
    if (typeof name === 'object') {
      complain(ctx, name.problem, ['name']);
      return z.NEVER;
    }
    const shown = name ?? parsed.name;
    return shown ? { email: parsed.email, name: shown } : { email: parsed.email };
  })
  .meta({ description: 'An address with a display name', example: { email: 'jane@example.com', name: 'Jane Doe' } });

const addressEntry = z.union([addressText, addressObject, otherwise(ADDRESS_ENTRY, isAddressKind)]);

/** A single address, or bare addresses separated by commas ("a@x.io, b@x.io"). */
const addressListText = z.string().transform((raw, ctx): MailAddress[] => {
  const parts = isCommaList(raw) ? raw.split(',') : null;
  const read = parts ? parts.map(readAddress) : [readAddress(raw)];
  const bad = read.findIndex(isProblem);
  if (bad === -1) return read as MailAddress[];
  complain(ctx, (read[bad] as Problem).problem, parts ? [bad] : []);
  return z.NEVER;
});

/** `to`, `cc`, `bcc`, `reply_to`: a string, a list of strings, `{email, name}` objects, or a mix. */
const addresses = z.union([z.array(addressEntry), addressListText, addressObject], { error: ADDRESS_ENTRY });
const LIST_EXAMPLE = ['jane@example.com', { email: 'bob@example.com', name: 'Bob' }];
const addressList = (description: string) => addresses.meta({ description, example: LIST_EXAMPLE });
const optionalList = (description: string) => addresses.nullable().optional().meta({ description, example: LIST_EXAMPLE });

/** A header name: an RFC 5322 field name of at most 100 characters. */
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,100}$/;

/** `{name: value}` or `[{name|key, value}]` → checked entries, in order. */
function readHeaderEntries(entries: [string, unknown][], ctx: z.core.ParsePayload<unknown>): [string, string][] {
  const out: [string, string][] = [];
  for (const [name, value] of entries) {
    if (!HEADER_NAME.test(name)) complain(ctx, `has an invalid header name: ${JSON.stringify(name.slice(0, 100))}`);
    else if (isReservedHeader(name)) complain(ctx, `may not set the reserved header '${name}'`);
    else if (typeof value !== 'string' && typeof value !== 'number') complain(ctx, 'must be a string', [name]);
    else if (LINE_BREAK.test(String(value))) complain(ctx, 'must not contain line breaks', [name]);
    else {
      out.push([name, String(value)]);
      continue;
    }
    return z.NEVER;
  }
  return out;
}

const HEADER_ENTRY = 'must be {name, value}';
const headerEntry = z.union([
  z.object({ name: leaf('string', 'Header name'), key: leaf('string', "Another spelling of 'name'"), value: leaf(['string', 'number'], 'Header value, one line') }),
  otherwise(HEADER_ENTRY, isRecord),
]);

const headerField = (description: string) =>
  z
    .union([z.record(z.string(), leaf(['string', 'number'], 'Header value, one line')), z.array(headerEntry)], { error: 'must be an object of header names to values' })
    .transform((raw, ctx) =>
      readHeaderEntries(
        Array.isArray(raw) ? raw.map((h): [string, unknown] => [String(h.name ?? h.key ?? ''), h.value]) : Object.entries(raw),
        ctx,
      ),
    )
    .nullable()
    .optional()
    .meta({ description, example: { 'X-Campaign': 'spring' } });

const attachment = z
  .object({
    filename: z.string().nullable().optional().meta({ description: 'File name, at most 255 characters', examples: ['invoice.pdf'] }),
    name: z.string().nullable().optional().meta({ description: "Another spelling of 'filename'" }),
    content: z.string({ error: 'is required (base64)' }).meta({ description: 'The bytes, base64 (may be wrapped in lines, or a data:<type>;base64, URL)', examples: ['aGVsbG8='] }),
    content_type: z.string().nullable().optional().meta({ description: 'A bare media type such as application/pdf', examples: ['application/pdf'] }),
    contentType: z.string().nullable().optional().meta({ description: "Another spelling of 'content_type'" }),
    type: z.string().nullable().optional().meta({ description: "Another spelling of 'content_type'" }),
    content_id: z.string().nullable().optional().meta({ description: 'Makes the attachment inline, referenced from the HTML as cid:<content_id>' }),
    contentId: z.string().nullable().optional().meta({ description: "Another spelling of 'content_id'" }),
    cid: z.string().nullable().optional().meta({ description: "Another spelling of 'content_id'" }),
  })
  .transform((a, ctx): { attachment: MailAttachment; bytes: number } => {
    const filename = readName(a.filename ?? a.name);
    const contentType = readName(a.content_type ?? a.contentType ?? a.type);
    const contentId = readName(a.content_id ?? a.contentId ?? a.cid);
    const payload = a.content === '' ? null : readBase64Content(a.content);
    const problem: [string, string] | null =
      typeof filename === 'object' ? [filename.problem, 'filename']
      : filename === undefined ? ['is required', 'filename']
      : a.content === '' ? ['is required (base64)', 'content']
      : payload === null ? ['must be base64', 'content']
      : typeof contentType === 'object' ? [contentType.problem, 'content_type']
      : typeof contentId === 'object' ? [contentId.problem, 'content_id']
      : null;
    if (problem || payload === null || typeof filename !== 'string') {
      complain(ctx, problem?.[0] ?? 'is required', [problem?.[1] ?? 'filename']);
      return z.NEVER;
    }
    const found = { filename, content: payload.base64, ...(contentType ? { contentType } : {}), ...(contentId ? { contentId } : {}) };
    return { attachment: found as MailAttachment, bytes: payload.bytes };
  });

const record = (description: string) => z.record(z.string(), z.unknown(), { error: 'must be an object' }).nullable().optional().meta({ description });
const text = (description: string, examples?: string[]) => z.string().nullable().optional().meta({ description, ...(examples ? { examples } : {}) });

/** `from_name`: one line; empty means none. */
const fromName = (description: string) =>
  z
    .string()
    .nullable()
    .optional()
    .check((ctx) => {
      if (typeof ctx.value === 'string' && LINE_BREAK.test(ctx.value)) complain(ctx, 'must not contain line breaks');
    })
    .meta({ description });

const tags = z
  .array(z.unknown().meta({ type: 'string' }))
  .check((ctx) => {
    if (ctx.value.some((tag) => typeof tag !== 'string')) complain(ctx, 'must be an array of strings');
  })
  .nullable()
  .optional()
  .meta({ description: 'Labels, at most 20 of at most 100 characters', examples: [['welcome', 'onboarding']] });

const SCHEDULE_TIME = 'A time to send it: 2026-06-01T09:00:00Z (an instant), or 2026-06-01T09:00:00 / 2026-06-01_09:00:00 (a wall-clock time in timezone)';

/** The fields of one email, in the order their complaints are reported (the first one is the answer). */
const sendFields = {
  to: addressList('Recipients: an address, "Name <address>", comma-separated addresses, {email, name}, or a list of any of these (at most 50 in to + cc + bcc together)'),
  cc: optionalList('Copy recipients, in any form `to` takes'),
  bcc: optionalList('Blind-copy recipients, in any form `to` takes'),
  reply_to: optionalList('Reply-To addresses (at most 10), in any form `to` takes'),
  replyTo: optionalList("Another spelling of 'reply_to'"),
  from: z
    .union([addressText, addressObject, z.literal('')], { error: ADDRESS_ENTRY })
    .nullable()
    .optional()
    .meta({ description: 'The sender: an address, "Name <address>" or {email, name}; without it DEFAULT_FROM is used', example: 'Shop <shop@example.com>' }),
  from_name: fromName("The sender's display name (at most 200 characters)"),
  fromName: fromName("Another spelling of 'from_name'"),
  template_id: text('A saved template: it supplies the subject and content', ['tpl_welcome']),
  templateId: text("Another spelling of 'template_id'"),
  subject: text('Required unless template_id is given; line breaks become spaces (at most 1,000 characters)', ['Your order has shipped']),
  html: text('HTML content', ['<p>Hello</p>']),
  text: text('Plain-text content', ['Hello']),
  body: text('Content: HTML when it holds a tag, else plain text (or as is_html says); html and text win over it', ['<p>Hello</p>']),
  is_html: leaf('boolean', 'true (or "true") makes body HTML, any other value plain text; absent, it is detected'),
  isHtml: leaf('boolean', "Another spelling of 'is_html'"),
  params: record('Template variables'),
  template_data: record("Another name for 'params'"),
  templateData: record("Another name for 'params'"),
  metadata: record('Your own data, kept with the email (at most 50 keys, 16 KB as JSON)'),
  meta: record("Another name for 'metadata'"),
  tags,
  attachments: z
    .array(attachment)
    .nullable()
    .optional()
    .meta({ description: 'Files, at most 50, within a 40 MB message', example: [{ filename: 'hello.txt', content: 'aGVsbG8=', content_type: 'text/plain' }] }),
  headers: headerField('Custom headers: {name: value} or [{name, value}] (at most 50 with custom_headers, 16 KB as JSON)'),
  custom_headers: headerField("Another name for 'headers'"),
  scheduled_at: leaf('string', SCHEDULE_TIME),
  scheduled_for: leaf('string', "Another name for 'scheduled_at'"),
  scheduledAt: leaf('string', "Another spelling of 'scheduled_at'"),
  scheduledFor: leaf('string', "Another spelling of 'scheduled_for'"),
  timezone: leaf('string', 'IANA time zone of a wall-clock scheduled_at, such as Europe/Berlin (default UTC)'),
  track_opens: leaf('boolean', "Add the open-tracking pixel (default: the workspace's setting, on unless an operator turned it off)"),
  trackOpens: leaf('boolean', "Another spelling of 'track_opens'"),
  track_clicks: leaf('boolean', "Rewrite the HTML's http(s) links to tracked ones (default: the workspace's setting, on unless an operator turned it off)"),
  trackClicks: leaf('boolean', "Another spelling of 'track_clicks'"),
};

type SendFields = z.output<z.ZodObject<typeof sendFields>>;

const bodyMustBeObject = { error: (issue: { code: string }) => (issue.code === 'invalid_type' ? 'Request body must be a JSON object' : undefined) };

/**
 * Examples of transforming schemas are `example` (OpenAPI's keyword): zod drops `examples` from a schema whose
 * output differs from its input when it writes the input's JSON Schema.
 */
const EXAMPLE = { to: ['jane@example.com'], from: 'Shop <shop@example.com>', subject: 'Your order has shipped', body: '<p>It is on its way.</p>' };

const sendObject = z.object(sendFields, bodyMustBeObject).meta({
  description: 'One email, in any of the shapes Keplars clients send (spec §3.1): snake_case or camelCase names, `to` as a string, a list or objects, content as body, html or text.',
  example: EXAMPLE,
});

/**
 * Limits and presence before anything else reads the request. The size limits must hold before any pattern
 * or decoder sees a string (README, Sending), but zod runs an array's length check only after its elements
 * and a union's options all at once, so the request-level limits (limits.ts) run here first; entries that
 * pass cannot be seen there (nested, comma-split) are bounded again where they are read (addresses.ts).
 */
function limitsFirst(value: unknown, ctx: z.core.ParsePayload<unknown>): unknown {
  if (!isRecord(value)) return value;
  const problem = sendLimitProblem(value);
  if (problem) ctx.issues.push({ code: 'custom', message: problem.message, path: problem.path, input: value });
  else if (value.to === undefined || value.to === null || value.to === '' || (Array.isArray(value.to) && value.to.length === 0)) {
    ctx.issues.push({ code: 'custom', message: 'is required', path: ['to'], input: value });
  }
  return value;
}

const listOf = <T>(value: T | T[] | null | undefined): T[] => (value === undefined || value === null ? [] : Array.isArray(value) ? value : [value]);
/** The first spelling a client set, as `a ?? b` reads it (null and undefined are "not set"). */
const firstOf = <T>(a: T | null | undefined, b: T | null | undefined, c?: T | null): T | null | undefined => a ?? b ?? c;
/** A complaint between fields: the fold stops at the first one. */
const refuse = (ctx: z.core.ParsePayload<unknown>, message: string, path: PropertyKey[] = []): null => {
  ctx.issues.push({ code: 'custom', message, path, input: ctx.value });
  return null;
};

/** The checks between fields, and the one shape services read. */
function foldEmail(f: SendFields, ctx: z.core.ParsePayload<unknown>): NormalizedEmail | null {
  const to = listOf(f.to);
  const cc = listOf(f.cc);
  const bcc = listOf(f.bcc);
  if (to.length + cc.length + bcc.length > MAX_RECIPIENTS) {
    return refuse(ctx, `Too many recipients: 'to', 'cc' and 'bcc' may hold at most ${MAX_RECIPIENTS} addresses together`);
  }

  let from = f.from === '' || f.from === null || f.from === undefined ? null : f.from;
  const fromName = readName(f.from_name ?? f.fromName);
  if (from && typeof fromName === 'string') from = { email: from.email, name: fromName };

  const templateId = firstOf(f.template_id, f.templateId);
  const hasTemplate = typeof templateId === 'string' && templateId !== '';

  // A subject is a single header line: line breaks are folded into spaces, never into a new header.
  const subject = typeof f.subject === 'string' ? f.subject.replace(/[\r\n\u2028\u2029\0]+/g, ' ').trim() : null;
  let html = f.html ?? null;
  let text = f.text ?? null;
  const content = f.body ?? null;
  if (content !== null && content !== '') {
    const isHtml = f.is_html ?? f.isHtml;
    const treatAsHtml = isHtml === true || isHtml === 'true' || (isHtml === undefined && looksLikeHtml(content));
    if (treatAsHtml) html ??= content;
    else text ??= content;
  }
  if (html === '') html = null;
  if (text === '') text = null;

  if (hasTemplate) {
    if (html !== null || content) return refuse(ctx, "Fields 'body'/'html' cannot be combined with 'template_id': the template owns the content");
  } else {
    if (subject === null || subject === '') return refuse(ctx, 'is required', ['subject']);
    if (html === null && text === null) return refuse(ctx, "is required (or 'html' / 'text')", ['body']);
  }

  const attachments = f.attachments ?? [];
  let bytes = 0;
  for (const a of attachments) bytes += a.bytes;
  const approxSize = bytes * 1.37 + Buffer.byteLength(html ?? '') + Buffer.byteLength(text ?? '');
  // its own code and status (413), so not an issue of the 400 VALIDATION_ERROR; an ApiError passes through a parse
  if (approxSize > MAX_MESSAGE_BYTES) throw new ApiError('PAYLOAD_TOO_LARGE', 'The message would exceed the 40 MB limit');

  const opens = readSwitch(firstOf(f.track_opens, f.trackOpens));
  const clicks = readSwitch(firstOf(f.track_clicks, f.trackClicks));
  if (opens === undefined) return refuse(ctx, 'must be true or false', [f.track_opens != null ? 'track_opens' : 'trackOpens']);
  if (clicks === undefined) return refuse(ctx, 'must be true or false', [f.track_clicks != null ? 'track_clicks' : 'trackClicks']);
  const tracking = { opens, clicks };

  const headers: Record<string, string> = {};
  if (f.headers || f.custom_headers) {
    const fieldOf: Record<string, string> = {};
    for (const [field, entries] of [['headers', f.headers], ['custom_headers', f.custom_headers]] as const) {
      for (const [name, value] of entries ?? []) {
        headers[name] = value;
        fieldOf[name] = field;
      }
    }
    const list = listHeaderProblem(headers);
    if (list) return refuse(ctx, list.problem, [fieldOf[list.header]!, list.header]);
  }

  return {
    from,
    to,
    cc,
    bcc,
    replyTo: listOf(firstOf(f.reply_to, f.replyTo)),
    subject,
    html,
    text,
    headers,
    attachments: attachments.map((a) => a.attachment),
    metadata: firstOf(f.metadata, f.meta) ?? {},
    tags: (f.tags ?? []) as string[],
    templateId: hasTemplate ? templateId : null,
    params: firstOf(f.params, f.template_data, f.templateData) ?? {},
    tracking,
  };
}

/** A tracking switch: true or false (or the strings form clients send); null when not set, undefined when not a switch. */
function readSwitch(value: unknown): boolean | null | undefined {
  if (value === undefined || value === null || value === '') return null;
  if (value === true || value === 'true') return true;
  if (value === false || value === 'false') return false;
  return undefined;
}

const scheduleTimeOf = (f: SendFields): unknown => f.scheduled_at ?? f.scheduled_for ?? f.scheduledAt ?? f.scheduledFor;

/**
 * `POST /send-email/{instant,high,async,bulk,queue}`. A schedule time is read here (its refusals are
 * INVALID_SCHEDULE_TIME, thrown as ApiErrors, which pass through a parse); whether the plan may schedule and
 * whether the time is inside the window is the service's to decide.
 */
export const sendEmailBody = z.preprocess(limitsFirst, sendObject).transform((f, ctx): SendRequest => {
  const email = foldEmail(f, ctx);
  if (!email) return z.NEVER;
  const time = scheduleTimeOf(f);
  // null and "" are what SDKs send for "not set"; anything else is a time to honour or refuse
  const when = time === undefined || time === null || time === '' ? null : parseScheduleTime(time, f.timezone);
  return { email, when };
});

const scheduleObject = sendObject
  .extend({
    priority: leaf('string', `The tier it is sent in when it fires: ${TIERS.join(', ')} (default async)`),
    email: sendObject.optional().meta({ description: 'The email, nested; its fields win over the same fields beside it' }),
  })
  .meta({
    description: 'A scheduled email: the send fields flat or nested in `email`, with scheduled_at (or scheduled_for) and timezone.',
    example: { scheduled_at: '2026-06-01T09:00:00', timezone: 'Europe/Berlin', priority: 'async', email: EXAMPLE },
  });

/** `{…, email: {…}}` is read as the send fields flat, the nested ones winning (README, Scheduled sending). */
function flattenNestedEmail(value: unknown): unknown {
  if (!isRecord(value) || !('email' in value)) return value;
  const { email, ...rest } = value;
  return isRecord(email) ? { ...rest, ...email } : rest;
}

function readTier(value: unknown): Tier | null {
  if (value === undefined || value === null || value === '') return 'async';
  const tier = typeof value === 'string' ? value.toLowerCase() : null;
  return tier !== null && (TIERS as readonly string[]).includes(tier) ? (tier as Tier) : null;
}

/** `POST /send-email/schedule`: nested `email{}` or flat bodies, `scheduled_at` or `scheduled_for`, and `priority`. */
export const scheduleEmailBody = z
  .preprocess((value, ctx) => limitsFirst(flattenNestedEmail(value), ctx), scheduleObject)
  .transform((f, ctx): ScheduleRequest => {
    const email = foldEmail(f, ctx);
    if (!email) return z.NEVER;
    const when = parseScheduleTime(scheduleTimeOf(f), f.timezone);
    const tier = readTier(f.priority);
    if (!tier) {
      refuse(ctx, `must be one of ${TIERS.join(', ')}`, ['priority']);
      return z.NEVER;
    }
    return { email, when, tier };
  });
