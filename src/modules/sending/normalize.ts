import type { MailAddress, MailAttachment } from '../../platform/mail/types.js';
import { ApiError } from '../../platform/http/errors.js';
import { readBase64Content } from './attachment-content.js';
import { isReservedHeader, listHeaderProblem } from './header-policy.js';
import { checkSendLimits, SEND_LIMITS } from './limits.js';

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
}

export const MAX_RECIPIENTS = 50;
export const MAX_MESSAGE_BYTES = 40 * 1024 * 1024;

const fail = (message: string): never => {
  throw new ApiError('VALIDATION_ERROR', message);
};

// Deliberately strict about characters that could break out of an address or a header.
const ADDRESS_PATTERN = /^[^\s@<>(),;:"[\]\\]+@[^\s@<>(),;:"[\]\\]+\.[^\s@<>(),;:"[\]\\.]+[^\s@<>(),;:"[\]\\]*$/;
const LINE_BREAK = /[\r\n\u2028\u2029\0]/;
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,100}$/;

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** RFC 5321 §4.5.3.1.3: a path is at most 256 octets, angle brackets included. */
const MAX_EMAIL_LENGTH = 254;
/** The request limits (limits.ts), applied again here to entries the request-level check does not see (nested, comma-split). */
export const MAX_DISPLAY_NAME_LENGTH = SEND_LIMITS.nameChars;
/** `"Display Name" <address>`: room for the name, the address, quotes, brackets and spaces around them. */
export const MAX_ADDRESS_STRING_LENGTH = SEND_LIMITS.addressEntryChars;

export function isValidEmail(email: string): boolean {
  return email.length <= MAX_EMAIL_LENGTH && ADDRESS_PATTERN.test(email) && !LINE_BREAK.test(email);
}

function cleanName(value: unknown, field: string): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') return fail(`Field '${field}' must be a string`);
  if (LINE_BREAK.test(value)) return fail(`Field '${field}' must not contain line breaks`);
  const name = value.trim();
  return name === '' ? undefined : name;
}

function checkDisplayNameLength(name: string, field: string): void {
  if (name.length > MAX_DISPLAY_NAME_LENGTH) fail(`Field '${field}' has a display name longer than ${MAX_DISPLAY_NAME_LENGTH} characters`);
}

/** "Jane <jane@x.io>" or a bare address; its length is checked before any pattern reads it. */
function parseAddressString(raw: string, field: string): MailAddress {
  if (raw.length > MAX_ADDRESS_STRING_LENGTH) fail(`Field '${field}' is longer than ${MAX_ADDRESS_STRING_LENGTH} characters`);
  if (LINE_BREAK.test(raw)) fail(`Field '${field}' must not contain line breaks`);
  const value = raw.trim();
  const angle = /^(.*)<([^<>]+)>$/.exec(value);
  const email = (angle ? angle[2]! : value).trim();
  const name = angle ? angle[1]!.trim().replace(/^"(.*)"$/, '$1').trim() : undefined;
  if (!isValidEmail(email)) fail(`Field '${field}' has an invalid email address: ${JSON.stringify(email.slice(0, 100))}`);
  if (name) checkDisplayNameLength(name, field);
  return name ? { email, name } : { email };
}

function parseAddress(value: unknown, field: string): MailAddress {
  if (typeof value === 'string') return parseAddressString(value, field);
  if (isRecord(value)) {
    const email = value.email ?? value.address;
    if (typeof email !== 'string' || email.trim() === '') return fail(`Field '${field}.email' is required`);
    const parsed = parseAddressString(email, `${field}.email`);
    if (typeof value.name === 'string') checkDisplayNameLength(value.name, `${field}.name`);
    const name = cleanName(value.name, `${field}.name`) ?? parsed.name;
    return name ? { email: parsed.email, name } : { email: parsed.email };
  }
  return fail(`Field '${field}' must be an email address string or an object with 'email'`);
}

/** string | string[] | {email,name} | mixed arrays → list. */
export function parseAddressList(value: unknown, field: string): MailAddress[] {
  if (value === undefined || value === null) return [];
  if (Array.isArray(value)) return value.map((v, i) => parseAddress(v, `${field}[${i}]`));
  if (typeof value === 'string' && value.includes(',') && !value.includes('<')) {
    return value.split(',').map((part, i) => parseAddress(part, `${field}[${i}]`));
  }
  return [parseAddress(value, field)];
}

function optionalString(body: Record<string, unknown>, field: string): string | null {
  const v = body[field];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string') return fail(`Field '${field}' must be a string`);
  return v;
}

function parseHeaders(body: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  const fieldOf: Record<string, string> = {};
  for (const field of ['headers', 'custom_headers']) {
    const raw = body[field];
    if (raw === undefined || raw === null) continue;
    const entries: [string, unknown][] = Array.isArray(raw)
      ? raw.map((h, i) => (isRecord(h) ? [String(h.name ?? h.key ?? ''), h.value] : fail(`Field '${field}[${i}]' must be {name, value}`)))
      : isRecord(raw)
        ? Object.entries(raw)
        : fail(`Field '${field}' must be an object of header names to values`);
    for (const [name, value] of entries) {
      if (!HEADER_NAME.test(name)) fail(`Field '${field}' has an invalid header name: ${JSON.stringify(name.slice(0, 100))}`);
      if (isReservedHeader(name)) fail(`Field '${field}' may not set the reserved header '${name}'`);
      if (typeof value !== 'string' && typeof value !== 'number') fail(`Field '${field}.${name}' must be a string`);
      const text = String(value);
      if (LINE_BREAK.test(text)) fail(`Field '${field}.${name}' must not contain line breaks`);
      out[name] = text;
      fieldOf[name] = field;
    }
  }
  const list = listHeaderProblem(out);
  if (list) fail(`Field '${fieldOf[list.header]}.${list.header}' ${list.problem}`);
  return out;
}

function parseAttachments(body: Record<string, unknown>): { attachments: MailAttachment[]; bytes: number } {
  const raw = body.attachments;
  if (raw === undefined || raw === null) return { attachments: [], bytes: 0 };
  if (!Array.isArray(raw)) return fail("Field 'attachments' must be an array");
  let bytes = 0;
  const attachments = raw.map((a, i): MailAttachment => {
    const f = `attachments[${i}]`;
    if (!isRecord(a)) return fail(`Field '${f}' must be an object`);
    const filename = cleanName(a.filename ?? a.name, `${f}.filename`);
    if (!filename) return fail(`Field '${f}.filename' is required`);
    const content = a.content;
    if (typeof content !== 'string' || content === '') return fail(`Field '${f}.content' is required (base64)`);
    const payload = readBase64Content(content);
    if (payload === null) return fail(`Field '${f}.content' must be base64`);
    bytes += payload.bytes;
    const contentType = cleanName(a.content_type ?? a.contentType ?? a.type, `${f}.content_type`);
    const contentId = cleanName(a.content_id ?? a.contentId ?? a.cid, `${f}.content_id`);
    return { filename, content: payload.base64, ...(contentType ? { contentType } : {}), ...(contentId ? { contentId } : {}) };
  });
  return { attachments, bytes };
}

/** A tag somewhere: "<" or "</", a letter, and a ">" anywhere after it. One pass over the body. */
export function looksLikeHtml(body: string): boolean {
  for (let at = body.indexOf('<'); at !== -1; at = body.indexOf('<', at + 1)) {
    const letter = body.charCodeAt(at + 1) === 0x2f /* / */ ? at + 2 : at + 1;
    const code = body.charCodeAt(letter) | 0x20;
    // the first such "<" leaves the most room for a ">" after it: if it has none, no later one has
    if (code >= 0x61 && code <= 0x7a) return body.indexOf('>', letter + 1) !== -1;
  }
  return false;
}

export function normalizeSendBody(input: unknown): NormalizedEmail {
  if (!isRecord(input)) return fail('Request body must be a JSON object');
  const body = input;
  checkSendLimits(body);

  if (body.to === undefined || body.to === null || body.to === '' || (Array.isArray(body.to) && body.to.length === 0)) {
    fail("Field 'to' is required");
  }
  const to = parseAddressList(body.to, 'to');
  const cc = parseAddressList(body.cc, 'cc');
  const bcc = parseAddressList(body.bcc, 'bcc');
  if (to.length + cc.length + bcc.length > MAX_RECIPIENTS) {
    fail(`Too many recipients: 'to', 'cc' and 'bcc' may hold at most ${MAX_RECIPIENTS} addresses together`);
  }
  const replyTo = parseAddressList(body.reply_to ?? body.replyTo, 'reply_to');

  let from: MailAddress | null = null;
  if (body.from !== undefined && body.from !== null && body.from !== '') {
    from = parseAddress(body.from, 'from');
    const fromName = cleanName(body.from_name ?? body.fromName, body.from_name !== undefined ? 'from_name' : 'fromName');
    if (fromName) from = { email: from.email, name: fromName };
  }

  const templateId = body.template_id ?? body.templateId;
  if (templateId !== undefined && templateId !== null && typeof templateId !== 'string') fail("Field 'template_id' must be a string");
  const hasTemplate = typeof templateId === 'string' && templateId !== '';

  let subject = optionalString(body, 'subject');
  // A subject is a single header line: line breaks are folded into spaces, never into a new header.
  if (subject !== null) subject = subject.replace(/[\r\n\u2028\u2029\0]+/g, ' ').trim();

  let html = optionalString(body, 'html');
  let text = optionalString(body, 'text');
  const content = optionalString(body, 'body');
  if (content !== null && content !== '') {
    const isHtml = body.is_html ?? body.isHtml;
    const treatAsHtml = isHtml === true || isHtml === 'true' || (isHtml === undefined && looksLikeHtml(content));
    if (treatAsHtml) html ??= content;
    else text ??= content;
  }
  if (html === '') html = null;
  if (text === '') text = null;

  if (hasTemplate) {
    if (html !== null || content) fail("Fields 'body'/'html' cannot be combined with 'template_id': the template owns the content");
  } else {
    if (subject === null || subject === '') fail("Field 'subject' is required");
    if (html === null && text === null) fail("Field 'body' is required (or 'html' / 'text')");
  }

  const params = body.params ?? body.template_data ?? body.templateData ?? {};
  if (!isRecord(params)) fail("Field 'params' must be an object");

  const metadata = body.metadata ?? body.meta ?? {};
  if (!isRecord(metadata)) fail("Field 'metadata' must be an object");

  const tagsRaw = body.tags ?? [];
  if (!Array.isArray(tagsRaw) || tagsRaw.some((t) => typeof t !== 'string')) fail("Field 'tags' must be an array of strings");

  const { attachments, bytes } = parseAttachments(body);
  const approxSize = bytes * 1.37 + Buffer.byteLength(html ?? '') + Buffer.byteLength(text ?? '');
  if (approxSize > MAX_MESSAGE_BYTES) throw new ApiError('PAYLOAD_TOO_LARGE', 'The message would exceed the 40 MB limit');

  return {
    from,
    to,
    cc,
    bcc,
    replyTo,
    subject,
    html,
    text,
    headers: parseHeaders(body),
    attachments,
    metadata: metadata as Record<string, unknown>,
    tags: tagsRaw as string[],
    templateId: hasTemplate ? (templateId as string) : null,
    params: params as Record<string, unknown>,
  };
}
