import fc from 'fast-check';

/**
 * Hostile inputs for the fuzzed boundary (test/boundary-fuzz.test.ts): JSON bodies, header values, query
 * strings and path segments, as the bytes a client could send. Everything here is data; the test decides
 * where it goes.
 */

/** JSON text JSON.stringify cannot write (numbers beyond a double, `-0.0e-0`), put into the body verbatim. */
export class RawJson {
  constructor(readonly text: string) {}
}

/** An object as its entries, so `__proto__` stays an own key and a key can appear twice. */
export class JsonObject {
  constructor(readonly entries: [string, FuzzValue][]) {}
}

export type FuzzValue = null | boolean | number | string | RawJson | JsonObject | FuzzValue[];

export function toJsonText(v: FuzzValue): string {
  if (v instanceof RawJson) return v.text;
  if (v instanceof JsonObject) return `{${v.entries.map(([k, x]) => `${JSON.stringify(k)}:${toJsonText(x)}`).join(',')}}`;
  if (Array.isArray(v)) return `[${v.map(toJsonText).join(',')}]`;
  if (typeof v === 'number' && !Number.isFinite(v)) return Number.isNaN(v) ? 'null' : v > 0 ? '1e999' : '-1e999';
  // lone surrogates come out as \udXXX escapes, NUL as \u0000 (well-formed JSON.stringify)
  return JSON.stringify(v);
}

export const obj = (o: Record<string, FuzzValue>): JsonObject => new JsonObject(Object.entries(o));

/** Field names the API reads somewhere, in both spellings, and names that mean something to JavaScript. */
export const FIELD_NAMES = [
  'from', 'from_name', 'fromName', 'to', 'cc', 'bcc', 'reply_to', 'replyTo', 'subject', 'body', 'html', 'text', 'content',
  'headers', 'custom_headers', 'attachments', 'filename', 'content_type', 'contentType', 'metadata', 'tags', 'template_id',
  'templateId', 'params', 'template_data', 'templateData', 'scheduled_at', 'scheduledAt', 'timezone', 'email', 'name', 'id',
  'domain', 'domain_name', 'region', 'custom_domain_id', 'domain_id', 'domainId', 'expires_at', 'expiresAt', 'mjml', 'blocks',
  'version', 'description', 'category', 'required_variables', 'priority', 'type',
];
export const PROTOTYPE_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'valueOf', 'hasOwnProperty', '__defineGetter__', 'then'];

const HOSTILE_STRINGS = [
  '', ' ', '\t', '\0', 'a\0b', '\uD800', '\uDFFF', 'x\uDBFFy', '\uDC00\uD800', '\u2028', '\r\n', 'a\r\nBcc: x@evil.test', '\uFEFF',
  '\u202Eevil', 'İ', 'ß', '👍🏽', 'Ω≈ç√', '日本語', 'null', 'true', 'NaN', 'Infinity', '-1', '0', '1e999', '0x10', '%00', '%zz',
  '../../etc/passwd', '{{', '{{#each a}}', '{{> partial}}', '{{constructor.constructor}}', '<script>alert(1)</script>',
  "'; drop table messages; --", '2026-02-30T25:61:00Z', '+275760-09-13T00:00:00.000Z', '-271821-04-20T00:00:00Z',
  '+275760-09-14T00:00:00Z', '0001-01-01T00:00:00Z', '9999-12-31T23:59:59Z', '1970-01-01T00:00:00Z', 'Europe/Paris', 'Not/AZone',
  'a@example.test', 'A <a@example.test>', '"a b"@example.test', `x@${'a'.repeat(300)}.test`, `${'a'.repeat(70)}@example.test`,
  'a@b', '@example.test', 'a@@example.test', 'kms_', '019a0000-0000-7000-8000-000000000000', '00000000-0000-0000-0000-000000000000',
  ...PROTOTYPE_KEYS,
];

/** Any code unit (lone surrogates and NUL included), printable text, the list above, and runs up to `longest`. */
const stringsUpTo = (longest: number): fc.Arbitrary<string> =>
  fc.oneof(
    { arbitrary: fc.string({ unit: 'binary', maxLength: 30 }), weight: 3 },
    { arbitrary: fc.string({ unit: 'grapheme', maxLength: 20 }), weight: 2 },
    { arbitrary: fc.constantFrom(...HOSTILE_STRINGS), weight: 4 },
    { arbitrary: fc.integer({ min: 0, max: longest }).map((n) => 'x'.repeat(n)), weight: 1 },
  );
/** for bodies: long runs reach past every field limit */
export const hostileString = stringsUpTo(80_000);
/** for the request line: short enough that a few fit in Node's 16 KB of headers */
const wireString = stringsUpTo(1_000);

export const hostileNumber: fc.Arbitrary<FuzzValue> = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.constantFrom(0, -0, 1, -1, 0.5, 1e21, 1e308, -1e308, 5e-324, 2 ** 31 - 1, 2 ** 31, 2 ** 32, -(2 ** 31) - 1, 2 ** 53 + 2, -(2 ** 63), 2 ** 63, 1e15, 1_700_000_000, 99_999_999_999, 8.64e15),
  fc.constantFrom('1e999', '-1e999', '123456789012345678901234567890', '1E400', '-0.0e-0', '1.0', '0.0000000000000000000000001').map((t) => new RawJson(t)),
);

const scalar: fc.Arbitrary<FuzzValue> = fc.oneof(
  { arbitrary: hostileString, weight: 4 },
  { arbitrary: hostileNumber, weight: 2 },
  { arbitrary: fc.constantFrom<FuzzValue>(null, true, false), weight: 1 },
);

export const hostileKey: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: fc.constantFrom(...FIELD_NAMES), weight: 4 },
  { arbitrary: fc.constantFrom(...PROTOTYPE_KEYS), weight: 2 },
  { arbitrary: hostileString, weight: 1 },
);

/** Trees of the above, a few levels deep. */
export const hostileValue: fc.Arbitrary<FuzzValue> = fc.letrec<{ value: FuzzValue; object: JsonObject }>((tie) => ({
  value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, scalar, fc.array(tie('value'), { maxLength: 5 }), tie('object')),
  object: fc.array(fc.tuple(hostileKey, tie('value')), { maxLength: 6 }).map((entries) => new JsonObject(entries)),
})).value;

/** Nesting near and past the parser's depth limit (64: src/platform/http/json-body.ts), under a real field. */
export const deepValue: fc.Arbitrary<FuzzValue> = fc
  .tuple(fc.integer({ min: 1, max: 80 }), fc.constantFrom('array', 'object', 'mixed'), fc.constantFrom(...FIELD_NAMES), scalar)
  .map(([depth, kind, field, leaf]) => {
    let v: FuzzValue = leaf;
    for (let i = 0; i < depth; i++) v = kind === 'array' || (kind === 'mixed' && i % 2 === 0) ? [v] : obj({ [field]: v });
    return new JsonObject([[field, v]]);
  });

/** Replaces, drops, adds, renames, doubles or wraps one field; recurses into an object-valued field now and then. */
function mutateOnce(base: JsonObject): fc.Arbitrary<JsonObject> {
  const n = base.entries.length;
  const at = fc.nat({ max: Math.max(0, n - 1) });
  const with_ = (i: number, entry: [string, FuzzValue] | null) => new JsonObject(base.entries.flatMap((e, j) => (j === i ? (entry ? [entry] : []) : [e])));
  const options: fc.Arbitrary<JsonObject>[] = [
    fc.tuple(hostileKey, hostileValue).map(([k, v]) => new JsonObject([...base.entries, [k, v]])),
  ];
  if (n > 0) {
    options.push(
      fc.tuple(at, hostileValue).map(([i, v]) => with_(i, [base.entries[i]![0], v])),
      fc.tuple(at, scalar).map(([i, v]) => with_(i, [base.entries[i]![0], v])),
      fc.tuple(at, hostileNumber).map(([i, v]) => with_(i, [base.entries[i]![0], v])),
      at.map((i) => with_(i, null)),
      fc.tuple(at, hostileKey).map(([i, k]) => with_(i, [k, base.entries[i]![1]])),
      fc.tuple(at, hostileValue).map(([i, v]) => new JsonObject([...base.entries, [base.entries[i]![0], v]])),
      at.map((i) => with_(i, [base.entries[i]![0], [base.entries[i]![1]]])),
    );
    const nested = base.entries.map((e, i) => [e, i] as const).filter(([e]) => e[1] instanceof JsonObject);
    for (const [[k, v], i] of nested) options.push(mutateOnce(v as JsonObject).map((m) => with_(i, [k, m])));
  }
  return fc.oneof(...options);
}

/** A valid body with one to three fields changed. */
export function nearValid(base: JsonObject): fc.Arbitrary<JsonObject> {
  return mutateOnce(base).chain((once) => fc.oneof(fc.constant(once), mutateOnce(once), mutateOnce(once).chain(mutateOnce)));
}

const INVALID_JSON = [
  '{', '}', '{"a":}', "{'a':1}", '{"a":1,}', '{"a" 1}', '{a:1}', 'undefined', 'NaN', '{"a":NaN}', '{"a":Infinity}', '[1,2',
  '\uFEFF{}', '{"to":"a\u0000b"}', '{"to":"line\nbreak"}', '{"a":"\\x41"}', '{"a":"\\u12"}', '{"a":"\\uD800"}', '{}{}', '{} x',
  '{"a":1}}', '/* c */ {}', '{"__proto__":{"polluted":1}}', '{"constructor":{"prototype":{"polluted":1}}}', '"just a string"',
  '42', 'null', 'true', '[]', '[{}]', '{"a":' + '['.repeat(100_000), '{"a":"' + '\\'.repeat(1001) + '"}',
];

/** Bytes that are not one JSON object: broken syntax, another top-level type, truncated valid bodies, raw bytes. */
export const invalidJsonBody = (valid: fc.Arbitrary<string>): fc.Arbitrary<Buffer> =>
  fc.oneof(
    fc.constantFrom(...INVALID_JSON).map((s) => Buffer.from(s)),
    fc.tuple(valid, fc.nat()).map(([s, cut]) => Buffer.from(s.slice(0, s.length > 1 ? cut % (s.length - 1) : 0))),
    fc.tuple(valid, fc.nat(), fc.constantFrom('"', '{', '}', ',', ':', '\\', '\0', '\n', ']')).map(([s, at, c]) => {
      const i = at % (s.length + 1);
      return Buffer.from(s.slice(0, i) + c + s.slice(i));
    }),
    fc.uint8Array({ maxLength: 200 }).map((bytes) => Buffer.from(bytes)),
    fc.constantFrom(Buffer.from([0xff, 0xfe, 0x7b, 0x7d]), Buffer.from('{"a":"\xff\xfe"}', 'latin1'), Buffer.from('{"a":"é"}', 'utf16le')),
  );

export const emptyBody: fc.Arbitrary<Buffer> = fc.constantFrom('', ' ', '\n', '\r\n\t ').map((s) => Buffer.from(s));

export const CONTENT_TYPES = [
  'application/json', 'application/json; charset=utf-8', 'APPLICATION/JSON', 'application/json;charset=UTF-8', 'application/json; charset=latin1',
  'application/json; charset=utf-16', 'application/json;;;', 'application/json, text/plain', 'application/vnd.api+json', 'application/problem+json',
  'application/jsonx', 'text/plain', 'text/plain; charset=utf-8', 'text/html', 'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x', 'application/xml', 'application/octet-stream', '*/*', '', ' ', 'json', 'application/',
  'application/json; boundary=' + 'a'.repeat(2000),
];

/** Header values Node's client lets through: visible Latin-1, spaces and tabs (no CR, LF or NUL). */
export const headerValue: fc.Arbitrary<string> = fc.oneof(
  fc.string({ unit: fc.integer({ min: 0x20, max: 0xff }).filter((c) => c !== 0x7f).map((c) => String.fromCharCode(c)), maxLength: 40 }),
  fc.constantFrom('', ' ', '\t', 'null', '-1', '0', '1e999', 'ÿÿÿ', 'a'.repeat(2000), 'gzip', 'br, deflate', '*', 'é', '\u00a0', '999999999999999999999'),
);

/** Path segments for a route's parameters, already in the bytes that go on the wire. */
export const hostileSegment: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: fc.uuid().map(String), weight: 2 },
  {
    arbitrary: fc.constantFrom(
      '.', '..', '%2e', '%2e%2e', '...', '%2F', '%2f..%2f', '%5C', '%00', 'a%00b', '%zz', '%', '%e0%a4', '%ED%A0%80', '%C0%AF', '%FF',
      '%20', '+', '%2B', 'a;b', 'a,b', '$', '@', '!', "'", '(', '*', '~', '-1', '0', '1e999', 'NaN', 'null', 'undefined', '__proto__',
      'constructor', 'prototype', '%F0%9F%91%8D', '%E2%80%AE', encodeURIComponent('日本語'), 'é', 'ÿ', '\u0080', 'a'.repeat(499),
      'a'.repeat(500), 'a'.repeat(501), 'a'.repeat(5000), '%61'.repeat(200), 'kms_x.live_y',
    ),
    weight: 4,
  },
  { arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 30 }).map(encodeSegment), weight: 2 },
  { arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 30 }).map(encodeSegment), weight: 1 },
);

/** encodeURIComponent that writes a lone surrogate as the (invalid) UTF-8 of its code point instead of throwing. */
export function encodeSegment(s: string): string {
  let out = '';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    out += c >= 0xd800 && c <= 0xdfff ? `%${(0xe0 | (c >> 12)).toString(16)}%${(0x80 | ((c >> 6) & 0x3f)).toString(16)}%${(0x80 | (c & 0x3f)).toString(16)}` : encodeURIComponent(ch);
  }
  return out;
}

export const QUERY_KEYS = [
  'limit', 'cursor', 'status', 'id', 'email_id', 'emailId', 'recipient', 'since', 'until', 'from', 'to', 'domain_id', 'domainId',
  'page', 'per_page', 'offset', 'limit[]', 'cursor[]', 'status[]', 'id[]', 'a[b]', '__proto__', 'constructor', '',
  'email', 'audienceId', 'audience_id', 'sortBy', 'sort_dir', 'subscribedOnly',
];

/** Cursors shaped like ours (base64url of a JSON [time, id] pair) but holding what ours never do. */
export const hostileCursor: fc.Arbitrary<string> = fc.oneof(
  fc
    .tuple(
      fc.oneof(fc.constantFrom('2026-01-01T00:00:00.000Z', '+275760-09-13T00:00:00.000Z', '-271821-04-20T00:00:00.000Z', '0000-01-01T00:00:00Z', '-000001-01-01T00:00:00Z', '1'), wireString),
      fc.oneof(fc.constantFrom('019a0000-0000-7000-8000-000000000000', 'x', '', '\0', 'a\0b', '\uD800', 'a'.repeat(1000)), wireString),
    )
    .map((pair) => Buffer.from(JSON.stringify(pair)).toString('base64url')),
  hostileValue.map((v) => Buffer.from(toJsonText(v).slice(0, 1_000)).toString('base64url')),
  fc.constantFrom('', '=', 'e30', 'W10', 'bnVsbA', '!!!', 'a'.repeat(3000)),
);

export const hostileQueryValue: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: fc.constantFrom('1', '50', '200', '201', '0', '-1', '-0', 'NaN', 'Infinity', '1e3', '1e999', '99999999999999999999', '99999999999', '-99999999999', '0x10', ' 5', '5 ', '1.5', '', 'queued,failed', 'QUEUED', 'bounced,,', ','), weight: 3 },
  { arbitrary: wireString, weight: 3 },
  { arbitrary: hostileCursor, weight: 2 },
  { arbitrary: fc.integer().map(String), weight: 1 },
);

type Encoding = 'encoded' | 'plus' | 'double' | 'raw' | 'broken' | 'bare';
function queryText(k: string, v: string, how: Encoding): string {
  const enc = how === 'double' ? (s: string) => encodeSegment(encodeSegment(s)) : how === 'plus' ? (s: string) => encodeSegment(s).replaceAll('%20', '+') : encodeSegment;
  if (how === 'bare') return enc(k);
  if (how === 'raw') return `${k}=${v}`.replace(/[^\u0021-\u00ff]/gu, (c) => encodeSegment(c)).replaceAll('#', '%23');
  if (how === 'broken') return `${enc(k)}=${enc(v)}%${v.length % 2 === 0 ? 'g' : ''}`;
  return `${enc(k)}=${enc(v)}`;
}
const encoding = fc.oneof(
  { arbitrary: fc.constant<Encoding>('encoded'), weight: 6 },
  { arbitrary: fc.constantFrom<Encoding>('plus', 'double', 'raw', 'broken', 'bare'), weight: 1 },
);
const queryKey = fc.oneof({ arbitrary: fc.constantFrom(...QUERY_KEYS), weight: 6 }, { arbitrary: wireString, weight: 1 });

/** A query string (without `?`): a few parameters, each given one to three times, in an encoding each. */
export const queryString: fc.Arbitrary<string> = fc
  .array(
    fc.tuple(
      queryKey,
      fc.oneof({ arbitrary: fc.array(fc.tuple(hostileQueryValue, encoding), { minLength: 1, maxLength: 1 }), weight: 8 }, { arbitrary: fc.array(fc.tuple(hostileQueryValue, encoding), { minLength: 2, maxLength: 3 }), weight: 1 }),
    ),
    { minLength: 1, maxLength: 3 },
  )
  .chain((params) => fc.shuffledSubarray(params.flatMap(([k, values]) => values.map(([v, how]) => queryText(k, v, how))), { minLength: params.reduce((n, [, values]) => n + values.length, 0) }))
  .map((pairs) => pairs.join('&'));
