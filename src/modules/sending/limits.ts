import { ApiError } from '../../platform/http/errors.js';

/**
 * What one send request may hold besides its content and attachments' bytes (README, Sending). Each field is
 * stored with the email and returned by get-email, so without limits a small plan could fill the database
 * and every process's memory (a 30 MB `metadata`, 20,000 `reply_to` addresses).
 */
export const SEND_LIMITS = {
  subjectChars: 1_000,
  nameChars: 200,
  addressEntryChars: 500,
  metadataKeys: 50,
  metadataBytes: 16 * 1024,
  tags: 20,
  tagChars: 100,
  replyTo: 10,
  headers: 50,
  headersBytes: 16 * 1024,
  attachments: 50,
  filenameChars: 255,
  contentIdChars: 255,
} as const;

const fail = (message: string): never => {
  throw new ApiError('VALIDATION_ERROR', message);
};

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The first of several spellings a client may use, with the name it used. */
function pick(body: Record<string, unknown>, names: readonly string[]): { name: string; value: unknown } | null {
  for (const name of names) if (body[name] !== undefined && body[name] !== null) return { name, value: body[name] };
  return null;
}

const jsonBytes = (value: unknown): number => Buffer.byteLength(JSON.stringify(value) ?? '');

/** RFC 6838 restricted names: `type/subtype` with nothing after it (no parameters, no spaces). */
const BARE_MEDIA_TYPE = /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$/;

/**
 * Refuses a request that goes over a limit, naming the field and the limit. It looks only at sizes and
 * shapes it can measure without parsing; the fields' own validation (addresses, base64, types) follows.
 */
export function checkSendLimits(body: Record<string, unknown>): void {
  const L = SEND_LIMITS;
  if (typeof body.subject === 'string' && body.subject.length > L.subjectChars) fail(`Field 'subject' is longer than ${L.subjectChars} characters`);

  for (const field of ['to', 'cc', 'bcc', 'reply_to', 'replyTo', 'from']) checkAddressEntries(body[field], field);
  for (const field of ['from_name', 'fromName']) {
    const name = body[field];
    if (typeof name === 'string' && name.trim().length > L.nameChars) fail(`Field '${field}' is longer than ${L.nameChars} characters`);
  }

  const metadata = pick(body, ['metadata', 'meta']);
  if (metadata && isRecord(metadata.value)) {
    if (Object.keys(metadata.value).length > L.metadataKeys) fail(`Field '${metadata.name}' may hold at most ${L.metadataKeys} keys`);
    const bytes = jsonBytes(metadata.value);
    if (bytes > L.metadataBytes) fail(`Field '${metadata.name}' is too large: at most ${L.metadataBytes} bytes as JSON (it has ${bytes})`);
  }

  if (Array.isArray(body.tags)) {
    if (body.tags.length > L.tags) fail(`Field 'tags' may hold at most ${L.tags} tags`);
    body.tags.forEach((tag, i) => {
      if (typeof tag === 'string' && tag.length > L.tagChars) fail(`Field 'tags[${i}]' is longer than ${L.tagChars} characters`);
    });
  }

  const replyTo = pick(body, ['reply_to', 'replyTo']);
  if (replyTo) {
    const count = Array.isArray(replyTo.value) ? replyTo.value.length : typeof replyTo.value === 'string' && !replyTo.value.includes('<') ? replyTo.value.split(',').length : 1;
    if (count > L.replyTo) fail(`Field '${replyTo.name}' may hold at most ${L.replyTo} addresses`);
  }

  checkHeaderLimits(body);
  checkAttachmentFields(body.attachments);
  // template params are bounded where they are used, by TEMPLATE_DATA_MAX_BYTES (templates/renderer.ts)
}

/** Display names and "Name <address>" strings; the addresses themselves are checked where they are parsed. */
function checkAddressEntries(raw: unknown, field: string): void {
  const entries = Array.isArray(raw) ? raw : [raw];
  entries.forEach((entry, i) => {
    const at = Array.isArray(raw) ? `${field}[${i}]` : field;
    if (typeof entry === 'string' && entry.length > SEND_LIMITS.addressEntryChars) fail(`Field '${at}' is longer than ${SEND_LIMITS.addressEntryChars} characters`);
    if (isRecord(entry) && typeof entry.name === 'string' && entry.name.trim().length > SEND_LIMITS.nameChars) fail(`Field '${at}.name' is longer than ${SEND_LIMITS.nameChars} characters`);
  });
}

function checkHeaderLimits(body: Record<string, unknown>): void {
  let count = 0;
  let bytes = 0;
  for (const field of ['headers', 'custom_headers']) {
    const raw = body[field];
    if (Array.isArray(raw)) {
      count += raw.length;
      bytes += jsonBytes(raw);
    } else if (isRecord(raw)) {
      count += Object.keys(raw).length;
      bytes += jsonBytes(raw);
    }
  }
  if (count > SEND_LIMITS.headers) fail(`Fields 'headers' and 'custom_headers' may hold at most ${SEND_LIMITS.headers} headers together`);
  if (bytes > SEND_LIMITS.headersBytes) fail(`Fields 'headers' and 'custom_headers' are too large: at most ${SEND_LIMITS.headersBytes} bytes as JSON together (they have ${bytes})`);
}

/** Count, names and media types of attachments; their content is checked where it is decoded. */
function checkAttachmentFields(raw: unknown): void {
  if (!Array.isArray(raw)) return;
  const L = SEND_LIMITS;
  if (raw.length > L.attachments) fail(`Field 'attachments' may hold at most ${L.attachments} attachments`);
  raw.forEach((a, i) => {
    if (!isRecord(a)) return;
    const filename = a.filename ?? a.name;
    if (typeof filename === 'string' && filename.trim().length > L.filenameChars) fail(`Field 'attachments[${i}].filename' is longer than ${L.filenameChars} characters`);
    const contentId = a.content_id ?? a.contentId ?? a.cid;
    if (typeof contentId === 'string' && contentId.trim().length > L.contentIdChars) fail(`Field 'attachments[${i}].content_id' is longer than ${L.contentIdChars} characters`);
    const contentType = a.content_type ?? a.contentType ?? a.type;
    if (typeof contentType === 'string' && contentType.trim() !== '' && !BARE_MEDIA_TYPE.test(contentType.trim())) {
      fail(`Field 'attachments[${i}].content_type' must be a bare media type such as text/plain or application/pdf, without parameters`);
    }
  });
}
