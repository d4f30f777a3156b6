import { z } from 'zod';
import { cursorQuery, envelope, errorResponses, limitQuery, operation, pageMeta } from '../../platform/http/schemas.js';
import { TIER_POLICIES } from './tiers.js';
import { scheduleEmailBody, sendEmailBody } from './send-schema.js';

const EMAIL_ID = '019a83de-2fc2-7b5f-bfbc-c951fe1200f7';

/** A retried request with the same key and body answers the first response; another body is 409. */
const idempotencyHeaders = z.looseObject({
  'idempotency-key': z
    .string()
    .optional()
    .meta({ description: 'Makes a retry safe: 1-255 printable ASCII characters. The same key with the same body answers the first response; with another body, 409 IDEMPOTENCY_CONFLICT.', examples: ['order-1234-welcome'] }),
});

/** One object that satisfies every response shape real clients read (spec §3.3 variants A–D; response.ts). */
const accepted = z.object({
  success: z.boolean(),
  message: z.string(),
  id: z.string(),
  object: z.string().describe('email, or scheduled_email'),
  status: z.string().describe('queued, or scheduled'),
  scheduled_at: z.string().optional(),
  timezone: z.string().optional(),
  from: z.string(),
  to: z.array(z.string()),
  subject: z.string(),
  created_at: z.string(),
  metadata: z.object({ priority: z.string(), estimated_delivery: z.string(), recipients_count: z.number() }),
  email_id: z.string().describe('Same as `id`'),
  queue: z.string().describe('The tier'),
  estimated_delivery: z.string(),
  data: z.object({
    id: z.string(),
    job_id: z.string(),
    email_id: z.string(),
    priority: z.string(),
    status: z.string(),
    message: z.string(),
    scheduled_at: z.string().optional(),
  }),
});

/** What a send or schedule request answers (response.ts builds it). */
export type SendResponse = z.output<typeof accepted>;

const acceptedExample = (tier: keyof typeof TIER_POLICIES) => ({
  success: true,
  message: 'Email queued successfully',
  id: EMAIL_ID,
  object: 'email',
  status: 'queued',
  from: 'hello@mail.example.com',
  to: ['ada@example.org'],
  subject: 'Welcome',
  created_at: '2026-01-05T10:00:00.000Z',
  metadata: { priority: tier, estimated_delivery: TIER_POLICIES[tier].estimatedDelivery, recipients_count: 1 },
  email_id: EMAIL_ID,
  queue: tier,
  estimated_delivery: TIER_POLICIES[tier].estimatedDelivery,
  data: { id: EMAIL_ID, job_id: EMAIL_ID, email_id: EMAIL_ID, priority: tier, status: 'queued', message: 'Email queued successfully' },
});

const TIER_WORDS: Record<string, string> = {
  instant: 'Highest priority: delivered within seconds, 5 retries.',
  high: 'High priority: delivered within 30 seconds, 3 retries.',
  async: 'Normal priority (the default): delivered within minutes, 3 retries.',
  bulk: 'Low priority: delivered when the queue is idle, 3 retries.',
  queue: 'The legacy queue endpoint: the async tier.',
};

/** Send errors: plan, domain, template, size, media type, idempotency, quota. */
const SEND_ERRORS = [404, 409, 413, 415, 422] as const;

export function sendSchema(segment: string, tier: keyof typeof TIER_POLICIES, alias: { of: string; extension: boolean } | null) {
  return {
    ...operation({
      summary: `Send an email (${segment})`,
      description: `${TIER_WORDS[segment] ?? ''} The email is stored before the answer, so once accepted it cannot be lost.`,
      tag: 'Sending',
      ...(alias ? { aliasOf: alias.of, extension: alias.extension } : {}),
    }),
    headers: idempotencyHeaders,
    body: sendEmailBody,
    response: {
      200: accepted.meta({ examples: [acceptedExample(tier)] }),
      ...errorResponses({ key: true, extra: SEND_ERRORS }),
    },
  };
}

export function scheduleSchema(alias: { of: string; extension: boolean } | null) {
  const at = '2026-01-05T08:00:00.000Z';
  const example = {
    ...acceptedExample('async'),
    message: 'Email scheduled successfully',
    object: 'scheduled_email',
    status: 'scheduled',
    scheduled_at: at,
    timezone: 'Europe/Paris',
    estimated_delivery: `at ${at}`,
  };
  example.metadata = { ...example.metadata, estimated_delivery: example.estimated_delivery };
  example.data = { ...example.data, status: 'scheduled', message: example.message, ...{ scheduled_at: at } };
  return {
    ...operation({
      summary: 'Schedule an email',
      description: 'Sends the email at the given time (LAUNCH plan or higher), in the tier of `priority`. It can be cancelled until it is handed to delivery.',
      tag: 'Sending',
      ...(alias ? { aliasOf: alias.of, extension: alias.extension } : {}),
    }),
    headers: idempotencyHeaders,
    body: scheduleEmailBody,
    response: {
      200: accepted.meta({ examples: [example] }),
      ...errorResponses({ key: true, extra: SEND_ERRORS }),
    },
  };
}

const scheduledEmail = z.object({
  id: z.string(),
  object: z.string().describe('Always "scheduled_email"'),
  status: z.string().describe('Always "scheduled"'),
  priority: z.string(),
  from: z.string(),
  subject: z.string(),
  scheduled_at: z.string().nullable(),
  timezone: z.string().nullable(),
  recipients_count: z.number(),
  created_at: z.string(),
});

export const listScheduledSchema = {
  ...operation({ summary: 'List scheduled emails', description: 'Emails waiting for their time, soonest first; pages by cursor.', tag: 'Sending' }),
  querystring: z.object({ limit: limitQuery(50, 200), cursor: cursorQuery }),
  response: {
    200: envelope(z.object({ scheduled_emails: z.array(scheduledEmail), ...pageMeta })).meta({
      examples: [
        {
          success: true,
          message: 'Scheduled emails retrieved',
          data: {
            scheduled_emails: [
              { id: EMAIL_ID, object: 'scheduled_email', status: 'scheduled', priority: 'async', from: 'hello@mail.example.com', subject: 'Welcome', scheduled_at: '2026-01-05T08:00:00.000Z', timezone: 'Europe/Paris', recipients_count: 1, created_at: '2026-01-04T10:00:00.000Z' },
            ],
            next_cursor: null,
            has_more: false,
          },
        },
      ],
    }),
    ...errorResponses({ key: true }),
  },
};

export const cancelScheduledSchema = {
  ...operation({ summary: 'Cancel a scheduled email', description: 'Cancels an email before it is handed to delivery; a second cancel, or one after sending, is 409 saying what happened.', tag: 'Sending' }),
  params: z.object({ id: z.string().meta({ description: 'The scheduled email id', examples: [EMAIL_ID] }) }),
  response: {
    200: envelope(z.object({ id: z.string(), status: z.literal('cancelled') })).meta({ examples: [{ success: true, message: 'Scheduled email cancelled', data: { id: EMAIL_ID, status: 'cancelled' } }] }),
    ...errorResponses({ key: true, extra: [404, 409] }),
  },
};
