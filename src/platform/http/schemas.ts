import { z } from 'zod';
import { decodeCursor, parseLimit, parseTime, type Cursor } from './cursor.js';
import { ERROR_CODES, type ErrorCode } from './errors.js';

/** Schema parts every module's routes share: the error envelope, ids, pagination. */

const CODES = Object.keys(ERROR_CODES) as [ErrorCode, ...ErrorCode[]];

/**
 * The error envelope (spec §1.4, superset form): `error` and `code` both carry the code, `message` the human
 * text; some errors add details (declared open so they are written out).
 */
export const errorEnvelope = z
  .looseObject({
    success: z.literal(false),
    error: z.enum(CODES).describe('The error code (same as `code`)'),
    code: z.enum(CODES).describe('The error code, one of the catalogue in the description'),
    message: z.string().describe('What went wrong, for a person'),
  })
  .meta({
    id: 'ErrorEnvelope',
    description: `Every error answers this envelope. Codes and their usual HTTP status:\n\n${CODES.map((c) => `- \`${c}\` (${ERROR_CODES[c].status}): ${ERROR_CODES[c].message}`).join('\n')}`,
    examples: [{ success: false, error: 'VALIDATION_ERROR', code: 'VALIDATION_ERROR', message: "Field 'to[1]' has an invalid email address: \"bad@\"" }],
  });

const STATUS_MEANING: Record<number, string> = {
  400: 'The request is not valid (VALIDATION_ERROR and the other 400 codes)',
  401: 'Missing, invalid, revoked or expired API key (UNAUTHORIZED)',
  403: 'The key may not use this endpoint (FORBIDDEN, INSUFFICIENT_SCOPE, PLAN_REQUIRED, DOMAIN_NOT_VERIFIED)',
  404: 'Nothing with this id in the workspace (NOT_FOUND)',
  409: 'Conflicts with the current state (CONFLICT, IDEMPOTENCY_CONFLICT)',
  413: 'The body is over the limit (PAYLOAD_TOO_LARGE)',
  415: 'The body is not JSON (UNSUPPORTED_MEDIA_TYPE)',
  422: 'A template could not be rendered (TEMPLATE_PARAMETER_MISSING, TEMPLATE_LIMIT_EXCEEDED)',
  429: 'Too many requests; see Retry-After (RATE_LIMITED)',
  500: 'Unexpected error; retry with exponential backoff (INTERNAL_ERROR)',
  503: 'Temporarily unavailable; see Retry-After (SERVICE_UNAVAILABLE)',
};

/** Statuses any route can answer: a malformed request, too many requests, a failure, a server draining. */
const ALWAYS = [400, 429, 500, 503] as const;
/** and any route behind a key */
const WITH_KEY = [401, 403] as const;

export type ErrorStatus = keyof typeof STATUS_MEANING;

interface ErrorResponse {
  description: string;
  content: { 'application/json': { schema: typeof errorEnvelope } };
}

/** Response declarations for the error statuses a route can give (the usual ones, plus `extra`). */
export function errorResponses(opts: { key: boolean; extra?: readonly number[] }): Record<number, ErrorResponse> {
  const statuses = new Set<number>([...ALWAYS, ...(opts.key ? WITH_KEY : []), ...(opts.extra ?? [])]);
  const out: Record<number, ErrorResponse> = {};
  for (const status of [...statuses].sort()) {
    out[status] = { description: STATUS_MEANING[status] ?? 'Error', content: { 'application/json': { schema: errorEnvelope } } };
  }
  return out;
}

/** `{ success: true, message, data }`, the success envelope, with the route's `data`. */
export const envelope = <T extends z.ZodType>(data: T) => z.object({ success: z.boolean().describe('Always true'), message: z.string(), data });

/** An id in a path: never refused for its form (README, Compatibility); one that names nothing is 404. */
export const idParams = z.object({ id: z.string().describe('The resource id') });

/** `limit` as clients send it: absent, empty or 0 mean the default; larger than `max` is clamped. */
export const limitQuery = (fallback: number, max: number) =>
  z
    .string()
    .optional()
    .meta({ description: `Page size, 1–${max} (default ${fallback}; larger values are clamped)`, examples: ['20'] })
    .transform((value): number => parseLimit(value, fallback, max));

/** An opaque keyset cursor from a previous page's `next_cursor`. */
export const cursorQuery = z
  .string()
  .optional()
  .meta({ description: "The previous page's `next_cursor`" })
  .transform((value): Cursor | undefined => decodeCursor(value));

/** A time as ISO 8601 or Unix seconds. */
export const timeQuery = (name: string, description = 'ISO 8601 time or Unix seconds') =>
  z
    .string()
    .optional()
    .meta({ description })
    .transform((value): Date | undefined => parseTime(value, name));

/** `next_cursor` and `has_more` of a page. */
export const pageMeta = {
  next_cursor: z.string().nullable().describe('Pass as `cursor` for the next page; null on the last page'),
  has_more: z.boolean(),
};

export const isoTime = z.string().describe('ISO 8601 time');

declare module 'fastify' {
  interface FastifySchema {
    /** an operation the Keplars API lacks, added by this server (the reference marks it) */
    'x-keplars-extension'?: boolean;
  }
}

/** The reference text of an operation: summary, description, tag; marks extensions and aliases. */
export function operation(o: { summary: string; description: string; tag: string; extension?: boolean; aliasOf?: string }) {
  const alias = o.aliasOf ? `\n\nAn alias of \`${o.aliasOf}\`, kept for older clients.` : '';
  return {
    summary: o.summary,
    description: `${o.description}${alias}`,
    tags: [o.tag],
    ...(o.extension ? { 'x-keplars-extension': true } : {}),
    ...(o.aliasOf ? { deprecated: true } : {}),
  };
}

/**
 * A JSON object body of optional fields that clients may also leave out (a POST with no body and no
 * Content-Type): absent is the empty object. `examples` are the reference's example requests.
 */
export const optionalObjectBody = <T extends Record<string, z.ZodOptional<z.ZodType>>>(shape: T, examples: Record<string, unknown>[]) =>
  z.preprocess((value) => value ?? {}, z.object(shape).meta({ examples }));
