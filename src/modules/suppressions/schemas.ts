import { z } from 'zod';
import { ApiError } from '../../platform/http/errors.js';
import { envelope, errorResponses, limitQuery, operation } from '../../platform/http/schemas.js';
import { SUPPRESSION_REASONS, SUPPRESSION_SCOPES } from '../../platform/db/schema.js';
import { isValidEmail } from '../sending/index.js';

/** The suppression list's API (README, "Bounces and the suppression list"): an extension, admin keys only. */

const complain = (ctx: z.core.ParsePayload<unknown>, message: string): void => {
  ctx.issues.push({ code: 'custom', message, input: ctx.value, continue: false });
};

/** An address: trimmed, then checked (its length first, before any pattern reads it). */
const emailField = z
  .string()
  .trim()
  .check((ctx) => {
    if (!isValidEmail(ctx.value)) complain(ctx, `has an invalid email address: ${JSON.stringify(ctx.value.slice(0, 100))}`);
  });

const entry = z.object({
  email: z.string().describe('The address as it was first listed (found without regard to case)'),
  scope: z.string().describe('`all`: no email goes to it; `bulk`: only bulk-tier mail is withheld (an unsubscribe)'),
  reason: z.string().describe(`Why it is listed: ${SUPPRESSION_REASONS.join(', ')}`),
  source_email_id: z.string().nullable().describe('The email whose bounce, complaint or unsubscribe link added it; null when added by hand'),
  created_at: z.string().describe('When it was listed'),
});

const exampleEntry = {
  email: 'gone@example.org',
  scope: 'all',
  reason: 'hard_bounce',
  source_email_id: '019400a0-0000-7000-8000-000000000001',
  created_at: '2026-01-05T10:00:00.000Z',
};

export interface SuppressionCursor {
  createdAt: Date;
  emailKey: string;
  scope: string;
}

/** Opaque keyset cursor: the last entry's time, address key and scope, the list's order. */
export const encodeSuppressionCursor = (c: SuppressionCursor): string =>
  Buffer.from(JSON.stringify([c.createdAt.toISOString(), c.emailKey, c.scope])).toString('base64url');

const badCursor = () => new ApiError('VALIDATION_ERROR', "Query parameter 'cursor' is not a cursor this API returned");

function decodeSuppressionCursor(value: string | undefined): SuppressionCursor | undefined {
  if (!value) return undefined;
  if (value.length > 2_000) throw badCursor();
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(value, 'base64url').toString('utf8'));
  } catch {
    throw badCursor();
  }
  if (!Array.isArray(parsed) || parsed.length !== 3 || !parsed.every((p) => typeof p === 'string' && !p.includes('\0'))) throw badCursor();
  const [at, emailKey, scope] = parsed as [string, string, string];
  const createdAt = new Date(at);
  if (Number.isNaN(createdAt.getTime()) || createdAt.getUTCFullYear() < 1 || createdAt.getUTCFullYear() > 9999) throw badCursor();
  return { createdAt, emailKey, scope };
}

const reasonQuery = z
  .string()
  .optional()
  .meta({ description: `Only entries for this reason: ${SUPPRESSION_REASONS.join(', ')}`, examples: ['hard_bounce'] })
  .transform((value) => {
    if (value === undefined || value === '') return undefined;
    const reason = SUPPRESSION_REASONS.find((r) => r === value.trim().toLowerCase());
    if (!reason) throw new ApiError('VALIDATION_ERROR', `Unknown reason '${value.slice(0, 50)}'; use one of ${SUPPRESSION_REASONS.join(', ')}`);
    return reason;
  });

export const listSuppressionsSchema = {
  ...operation({ summary: 'List suppressed addresses', description: "The workspace's suppression list, newest first, with filters; pages by cursor.", tag: 'Suppressions', extension: true }),
  querystring: z.object({
    reason: reasonQuery,
    email: z.string().max(320).optional().describe('Only the entries of this address (without regard to case)'),
    limit: limitQuery(50, 200),
    cursor: z
      .string()
      .optional()
      .meta({ description: "The previous page's `next_cursor`" })
      .transform((value) => decodeSuppressionCursor(value)),
  }),
  response: {
    200: envelope(z.object({ suppressions: z.array(entry), next_cursor: z.string().nullable().describe('Pass as `cursor` for the next page; null on the last page'), has_more: z.boolean() })).meta({
      examples: [{ success: true, message: 'Suppressions retrieved', data: { suppressions: [exampleEntry], next_cursor: null, has_more: false } }],
    }),
    ...errorResponses({ key: true }),
  },
};

export const addSuppressionSchema = {
  ...operation({
    summary: 'Suppress an address',
    description: 'Adds an address by hand (reason `manual`): from now on no email of the scope goes to it, and its contact is blocked. Adding an address already listed for the scope changes nothing (`added` is false).',
    tag: 'Suppressions',
    extension: true,
  }),
  body: z
    .object({
      email: emailField,
      reason: z.literal('manual').optional().describe('Always `manual` (the other reasons are the server’s own)'),
      scope: z.enum(SUPPRESSION_SCOPES).optional().describe('`all` (default): every email; `bulk`: only bulk-tier mail'),
    })
    .meta({ examples: [{ email: 'someone@example.org', reason: 'manual' }] }),
  response: {
    200: envelope(entry.extend({ added: z.boolean().describe('False when the address was already listed for this scope (the entry shown is that one)') })).meta({
      examples: [{ success: true, message: 'Address suppressed', data: { ...exampleEntry, email: 'someone@example.org', reason: 'manual', source_email_id: null, added: true } }],
    }),
    ...errorResponses({ key: true }),
  },
};

export const removeSuppressionSchema = {
  ...operation({
    summary: 'Reactivate an address',
    description: 'Takes the address off the list, every scope and reason, and lifts the block its contact got from the list: the next email to it goes out.',
    tag: 'Suppressions',
    extension: true,
  }),
  params: z.object({ email: z.string().max(320).meta({ description: 'The address, URL-encoded', examples: ['gone@example.org'] }) }),
  response: {
    200: envelope(z.object({ email: z.string(), removed: z.array(entry) })).meta({
      examples: [{ success: true, message: 'Address reactivated', data: { email: 'gone@example.org', removed: [exampleEntry] } }],
    }),
    ...errorResponses({ key: true, extra: [404] }),
  },
};
