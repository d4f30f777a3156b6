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

/** Where a limit was exceeded and how, in the wording of validation-message.ts (no `Field 'x'` prefix). */
export interface LimitProblem {
  path: (string | number)[];
  message: string;
}

const problem = (path: (string | number)[], message: string): LimitProblem => ({ path, message });

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The first of several spellings a client may use, with the name it used. */
function pick(body: Record<string, unknown>, names: readonly string[]): { name: string; value: unknown } | null {
  for (const name of names) if (body[name] !== undefined && body[name] !== null) return { name, value: body[name] };
  return null;
}

const jsonBytes = (value: unknown): number => Buffer.byteLength(JSON.stringify(value) ?? '');

/** RFC 6838 restricted names: `type/subtype` with nothing after it (no parameters, no spaces). */
const BARE_MEDIA_TYPE = /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$/;

const ADDRESS_FIELDS = ['to', 'cc', 'bcc', 'reply_to', 'replyTo', 'from'] as const;
const NAME_FIELDS = ['from_name', 'fromName'] as const;

/**
 * The first limit a request goes over, naming the field and the limit, or null. It looks only at sizes and
 * shapes it can measure without parsing, so it can run before anything else reads the request; the fields'
 * own validation (addresses, base64, types) follows in the send schema.
 */
export function sendLimitProblem(body: Record<string, unknown>): LimitProblem | null {
  const L = SEND_LIMITS;
  if (typeof body.subject === 'string' && body.subject.length > L.subjectChars) return problem(['subject'], `is longer than ${L.subjectChars} characters`);
  for (const field of ADDRESS_FIELDS) {
    const found = addressEntriesProblem(body[field], field);
    if (found) return found;
  }
  for (const field of NAME_FIELDS) {
    const name = body[field];
    if (typeof name === 'string' && name.trim().length > L.nameChars) return problem([field], `is longer than ${L.nameChars} characters`);
  }
  return metadataProblem(body) ?? tagsProblem(body.tags) ?? replyToProblem(body) ?? headersProblem(body) ?? attachmentsProblem(body.attachments);
  // template params are bounded where they are used, by TEMPLATE_DATA_MAX_BYTES (templates/renderer.ts)
}

/** Display names and "Name <address>" strings; the addresses themselves are checked where they are parsed. */
function addressEntriesProblem(raw: unknown, field: string): LimitProblem | null {
  if (raw === undefined || raw === null) return null;
  if (!Array.isArray(raw)) return addressEntryProblem(raw, field, null);
  for (let i = 0; i < raw.length; i++) {
    const found = addressEntryProblem(raw[i], field, i);
    if (found) return found;
  }
  return null;
}

function addressEntryProblem(entry: unknown, field: string, index: number | null): LimitProblem | null {
  const at = () => (index === null ? [field] : [field, index]);
  if (typeof entry === 'string' && entry.length > SEND_LIMITS.addressEntryChars) return problem(at(), `is longer than ${SEND_LIMITS.addressEntryChars} characters`);
  if (isRecord(entry) && typeof entry.name === 'string' && entry.name.trim().length > SEND_LIMITS.nameChars) return problem([...at(), 'name'], `is longer than ${SEND_LIMITS.nameChars} characters`);
  return null;
}

function metadataProblem(body: Record<string, unknown>): LimitProblem | null {
  const L = SEND_LIMITS;
  const metadata = pick(body, ['metadata', 'meta']);
  if (!metadata || !isRecord(metadata.value)) return null;
  if (Object.keys(metadata.value).length > L.metadataKeys) return problem([metadata.name], `may hold at most ${L.metadataKeys} keys`);
  const bytes = jsonBytes(metadata.value);
  return bytes > L.metadataBytes ? problem([metadata.name], `is too large: at most ${L.metadataBytes} bytes as JSON (it has ${bytes})`) : null;
}

function tagsProblem(tags: unknown): LimitProblem | null {
  if (!Array.isArray(tags)) return null;
  if (tags.length > SEND_LIMITS.tags) return problem(['tags'], `may hold at most ${SEND_LIMITS.tags} tags`);
  const i = tags.findIndex((tag) => typeof tag === 'string' && tag.length > SEND_LIMITS.tagChars);
  return i === -1 ? null : problem(['tags', i], `is longer than ${SEND_LIMITS.tagChars} characters`);
}

function replyToProblem(body: Record<string, unknown>): LimitProblem | null {
  const replyTo = pick(body, ['reply_to', 'replyTo']);
  if (!replyTo) return null;
  const value = replyTo.value;
  const count = Array.isArray(value) ? value.length : typeof value === 'string' && !value.includes('<') ? value.split(',').length : 1;
  return count > SEND_LIMITS.replyTo ? problem([replyTo.name], `may hold at most ${SEND_LIMITS.replyTo} addresses`) : null;
}

function headersProblem(body: Record<string, unknown>): LimitProblem | null {
  if (body.headers === undefined && body.custom_headers === undefined) return null;
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
  // about two fields at once: the whole message, for an empty path (validation-message.ts)
  if (count > SEND_LIMITS.headers) return problem([], `Fields 'headers' and 'custom_headers' may hold at most ${SEND_LIMITS.headers} headers together`);
  if (bytes > SEND_LIMITS.headersBytes) return problem([], `Fields 'headers' and 'custom_headers' are too large: at most ${SEND_LIMITS.headersBytes} bytes as JSON together (they have ${bytes})`);
  return null;
}

/** Count, names and media types of attachments; their content is checked where it is decoded. */
function attachmentsProblem(raw: unknown): LimitProblem | null {
  if (!Array.isArray(raw)) return null;
  const L = SEND_LIMITS;
  if (raw.length > L.attachments) return problem(['attachments'], `may hold at most ${L.attachments} attachments`);
  for (let i = 0; i < raw.length; i++) {
    const a: unknown = raw[i];
    if (!isRecord(a)) continue;
    const filename = a.filename ?? a.name;
    if (typeof filename === 'string' && filename.trim().length > L.filenameChars) return problem(['attachments', i, 'filename'], `is longer than ${L.filenameChars} characters`);
    const contentId = a.content_id ?? a.contentId ?? a.cid;
    if (typeof contentId === 'string' && contentId.trim().length > L.contentIdChars) return problem(['attachments', i, 'content_id'], `is longer than ${L.contentIdChars} characters`);
    const contentType = a.content_type ?? a.contentType ?? a.type;
    if (typeof contentType === 'string' && contentType.trim() !== '' && !BARE_MEDIA_TYPE.test(contentType.trim())) {
      return problem(['attachments', i, 'content_type'], 'must be a bare media type such as text/plain or application/pdf, without parameters');
    }
  }
  return null;
}
