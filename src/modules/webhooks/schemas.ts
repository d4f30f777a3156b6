import { z } from 'zod';
import { cursorQuery, envelope, errorResponses, isoTime, limitQuery, operation, optionalObjectBody, pageMeta } from '../../platform/http/schemas.js';
import { SIGNATURE_SCHEMES } from './signing.js';

const TAG = 'Webhooks';
const WEBHOOK_ID = '019a83de-6d44-7f51-a073-9c4e5f6a7b8d';
const DELIVERY_ID = '019a83de-7a10-7c22-b3a4-1d2e3f4a5b6c';
const EXAMPLE_URL = 'https://hooks.example.com/keplars';

const endpoint = z.object({
  id: z.string(),
  url: z.string(),
  events: z.array(z.string()).describe('Webhook event names, or `["*"]` for all'),
  signature_scheme: z.enum(SIGNATURE_SCHEMES).describe('How X-Keplars-Signature is computed: s1 hex HMAC of the body, s2 of `<timestamp>.<body>`, s3 `sha256=<hex>`'),
  status: z.enum(['active', 'disabled', 'failing']).describe('`failing`: every delivery failed for 24 hours; deliveries go on'),
  failing_since: z.string().nullable().describe('The first failure of the current run of failures'),
  description: z.string().nullable(),
  secret: z.string().describe('The signing secret: in full in the answer that created or changed it, masked afterwards'),
  created_at: isoTime,
  updated_at: isoTime,
});

const exampleEndpoint = {
  id: WEBHOOK_ID,
  url: EXAMPLE_URL,
  events: ['email.delivered', 'email.bounced'],
  signature_scheme: 's1',
  status: 'active',
  failing_since: null,
  description: 'Production receiver',
  secret: 'whsec_…Q2xk',
  created_at: '2026-01-05T10:00:00.000Z',
  updated_at: '2026-01-05T10:00:00.000Z',
};

const webhookId = z.object({ id: z.string().meta({ description: 'The webhook endpoint id', examples: [WEBHOOK_ID] }) });
const events = z.array(z.string().max(100)).max(100).optional().describe('Event names (see the description), or `["*"]` for every event');
const scheme = z.enum(SIGNATURE_SCHEMES).optional().describe('s1 (default), s2 or s3');
const secret = z.string().max(256).optional().describe('Your own signing secret (16–256 printable characters; `whsec_<base64>` for Standard Webhooks); generated when absent');

const ERRORS = errorResponses({ key: true, extra: [404] });

const EVENTS_TEXT =
  'Events: `email.queued`, `email.scheduled`, `email.cancelled`, `email.sent`, `email.delivered`, `email.deferred`, `email.bounced`, `email.failed`, `email.opened`, `email.clicked`, `email.complained`, `email.suppressed`, `email.unsubscribed`, `domain.*` and `contact.*` (the README lists them all).';

export const createWebhookSchema = {
  ...operation({
    summary: 'Add a webhook endpoint',
    description: `Registers a URL that receives one signed POST per event. The URL's host must resolve to public addresses only (unless the server allows private targets). The answer holds the signing secret in full: it is not shown again. ${EVENTS_TEXT}`,
    tag: TAG,
    extension: true,
  }),
  body: z
    .object({
      url: z.string().describe('http:// or https:// URL'),
      events: z.array(z.string().max(100)).max(100).describe('Event names, or `["*"]` for every event'),
      signature_scheme: scheme,
      secret,
      description: z.string().max(500).nullable().optional(),
    })
    .meta({ examples: [{ url: EXAMPLE_URL, events: ['email.delivered', 'email.bounced'], description: 'Production receiver' }] }),
  response: {
    200: envelope(endpoint).meta({ examples: [{ success: true, message: 'Webhook created: the secret is shown only once', data: { ...exampleEndpoint, secret: 'whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0' } }] }),
    ...errorResponses({ key: true, extra: [409] }),
  },
};

export const listWebhooksSchema = {
  ...operation({ summary: 'List webhook endpoints', description: "The workspace's webhook endpoints, oldest first, secrets masked.", tag: TAG, extension: true }),
  response: {
    200: envelope(z.array(endpoint)).meta({ examples: [{ success: true, message: 'Webhooks retrieved', data: [exampleEndpoint] }] }),
    ...errorResponses({ key: true }),
  },
};

export const getWebhookSchema = {
  ...operation({ summary: 'Get a webhook endpoint', description: 'One endpoint, its secret masked; `status` shows whether it is `failing`.', tag: TAG, extension: true }),
  params: webhookId,
  response: {
    200: envelope(endpoint).meta({ examples: [{ success: true, message: 'Webhook retrieved', data: exampleEndpoint }] }),
    ...ERRORS,
  },
};

export const updateWebhookSchema = {
  ...operation({
    summary: 'Change a webhook endpoint',
    description: 'Changes the fields given. `status: "disabled"` stops deliveries (they wait, and go once it is `active` again); setting `active` also clears `failing`.',
    tag: TAG,
    extension: true,
  }),
  params: webhookId,
  body: optionalObjectBody(
    {
      url: z.string().optional(),
      events,
      signature_scheme: scheme,
      secret,
      description: z.string().max(500).nullable().optional(),
      status: z.enum(['active', 'disabled']).optional(),
    },
    [{ events: ['*'], signature_scheme: 's2' }],
  ),
  response: {
    200: envelope(endpoint).meta({ examples: [{ success: true, message: 'Webhook updated', data: { ...exampleEndpoint, events: ['*'], signature_scheme: 's2' } }] }),
    ...ERRORS,
  },
};

export const deleteWebhookSchema = {
  ...operation({ summary: 'Delete a webhook endpoint', description: 'Removes the endpoint with its deliveries; nothing more is sent to it.', tag: TAG, extension: true }),
  params: webhookId,
  response: {
    200: envelope(z.object({ id: z.string(), deleted: z.literal(true) })).meta({ examples: [{ success: true, message: 'Webhook deleted', data: { id: WEBHOOK_ID, deleted: true } }] }),
    ...ERRORS,
  },
};

export const testWebhookSchema = {
  ...operation({
    summary: 'Send a test event',
    description: "Sends a sample `email.delivered` event to the endpoint now, signed like every other, and answers with the receiver's status code and latency (200 whatever the receiver said).",
    tag: TAG,
    extension: true,
  }),
  params: webhookId,
  response: {
    200: envelope(
      z.object({
        delivery_id: z.string(),
        event: z.string(),
        success: z.boolean().describe('The receiver answered 2xx'),
        status_code: z.number().nullable(),
        latency_ms: z.number(),
        body_excerpt: z.string().nullable(),
        error: z.string().nullable(),
      }),
    ).meta({ examples: [{ success: true, message: 'Test event sent', data: { delivery_id: DELIVERY_ID, event: 'email.delivered', success: true, status_code: 200, latency_ms: 42, body_excerpt: 'ok', error: null } }] }),
    ...ERRORS,
  },
};

const attempt = z.object({ at: isoTime, status_code: z.number().nullable(), latency_ms: z.number(), body_excerpt: z.string().nullable().describe('The first KiB of the answer'), error: z.string().nullable() });
const delivery = z.object({
  id: z.string().describe('Also the payload `id`, `webhook-id` and X-Keplars-Delivery'),
  event: z.string(),
  status: z.enum(['pending', 'delivered', 'failed']),
  attempts: z.number().describe('Attempts since it was created or last replayed'),
  next_retry_at: z.string().nullable(),
  last_status_code: z.number().nullable(),
  last_latency_ms: z.number().nullable(),
  last_error: z.string().nullable(),
  created_at: isoTime,
  attempt_log: z.array(attempt).describe('Its attempts, oldest first (the latest 20)'),
});

export const listDeliveriesSchema = {
  ...operation({ summary: 'List deliveries', description: "An endpoint's deliveries, newest first, each with its attempts: status code, latency, an excerpt of the answer and the next retry.", tag: TAG, extension: true }),
  params: webhookId,
  querystring: z.object({ limit: limitQuery(20, 100), cursor: cursorQuery }),
  response: {
    200: envelope(z.object({ deliveries: z.array(delivery), ...pageMeta })).meta({
      examples: [
        {
          success: true,
          message: 'Deliveries retrieved',
          data: {
            deliveries: [
              {
                id: DELIVERY_ID,
                event: 'email.delivered',
                status: 'pending',
                attempts: 1,
                next_retry_at: '2026-01-05T10:00:35.000Z',
                last_status_code: 503,
                last_latency_ms: 120,
                last_error: 'answered 503',
                created_at: '2026-01-05T10:00:00.000Z',
                attempt_log: [{ at: '2026-01-05T10:00:05.000Z', status_code: 503, latency_ms: 120, body_excerpt: 'busy', error: 'answered 503' }],
              },
            ],
            next_cursor: null,
            has_more: false,
          },
        },
      ],
    }),
    ...ERRORS,
  },
};

export const replayDeliverySchema = {
  ...operation({ summary: 'Replay a delivery', description: 'Sends a delivery again now, with the same id (`webhook-id`, X-Keplars-Delivery) and body, and a fresh retry schedule.', tag: TAG, extension: true }),
  params: z.object({
    id: z.string().meta({ description: 'The webhook endpoint id', examples: [WEBHOOK_ID] }),
    delivery_id: z.string().meta({ description: 'The delivery id', examples: [DELIVERY_ID] }),
  }),
  response: {
    200: envelope(z.object({ id: z.string(), status: z.literal('pending') })).meta({ examples: [{ success: true, message: 'Delivery queued again', data: { id: DELIVERY_ID, status: 'pending' } }] }),
    ...ERRORS,
  },
};
