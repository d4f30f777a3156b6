import { z } from 'zod';
import { ApiError } from '../../platform/http/errors.js';
import { cursorQuery, envelope, errorResponses, limitQuery, operation, pageMeta, timeQuery } from '../../platform/http/schemas.js';
import { EMAIL_STATUSES } from '../../platform/lifecycle.js';

const time = z.string().nullable();

const recipient = z.object({
  email: z.string(),
  name: z.string().nullable(),
  type: z.string().describe('to, cc or bcc'),
  status: z.string(),
  smtp_code: z.number().nullable(),
  smtp_response: z.string().nullable(),
  bounce_type: z.string().nullable().describe('A bounced or failed recipient: hard, soft, block or undetermined (README, "Bounces and the suppression list")'),
  bounce_reason: z.string().nullable().describe("The receiver's answer that bounced it"),
});

/**
 * An email as listed. Declared open: the email lifecycle adds per-recipient fields (issue 9 §2), and a field
 * the schema has not caught up with must still reach the client.
 */
const emailSummaryFields = {
  id: z.string(),
  object: z.string().describe('Always "email"'),
  status: z.string().describe(`One of ${EMAIL_STATUSES.join(', ')}`),
  priority: z.string().describe('The tier: instant, high, async or bulk'),
  from: z.string(),
  from_name: z.string().nullable(),
  to: z.array(z.string()),
  cc: z.array(z.string()),
  bcc: z.array(z.string()),
  subject: z.string(),
  message_id: z.string().nullable().describe('The Message-ID header'),
  created_at: time,
  sent_at: time,
  delivered_at: time,
  failed_at: time,
  scheduled_at: time,
  timezone: z.string().nullable(),
  template_id: z.string().nullable(),
  template_version: z.number().nullable(),
  attempts: z.number(),
  max_attempts: z.number(),
  next_attempt_at: time,
  transport: z.string().nullable(),
  last_error: z.string().nullable(),
  recipients_count: z.number(),
  bounce_type: z.string().nullable().describe("The first bounced or failed recipient's bounce_type, in recipient order; null when none"),
  bounce_reason: z.string().nullable().describe("That recipient's bounce_reason"),
  recipients: z.array(recipient),
  tags: z.array(z.string()),
  track_opens: z.boolean().describe('Whether opens are tracked (the pixel is in its HTML)'),
  track_clicks: z.boolean().describe('Whether its links are tracked'),
  opened_at: time.describe('The first open by a person (bots are not counted)'),
  clicked_at: time.describe('The first click by a person'),
  open_count: z.number().describe('Opens by people, repeats included'),
  click_count: z.number().describe('Clicks by people, repeats included'),
};
const emailSummary = z.looseObject(emailSummaryFields);

const event = z.object({
  type: z.string(),
  at: z.string(),
  recipient: z.string().nullable(),
  attempt: z.number().nullable(),
  smtp_host: z.string().nullable(),
  smtp_code: z.number().nullable(),
  smtp_response: z.string().nullable(),
  detail: z.record(z.string(), z.unknown()).nullable().describe('Free-form detail of the event'),
});

const emailFullFields = {
  ...emailSummaryFields,
  reply_to: z.array(z.string()),
  metadata: z.record(z.string(), z.unknown()).describe('The metadata given when sending'),
  events: z.array(event).describe('The timeline, oldest first'),
};
const emailFull = z.looseObject(emailFullFields);

const EMAIL_ID = '019a83de-2fc2-7b5f-bfbc-c951fe1200f7';
const exampleEmail = {
  id: EMAIL_ID,
  object: 'email',
  status: 'delivered',
  priority: 'instant',
  from: 'hello@mail.example.com',
  from_name: null,
  to: ['ada@example.org'],
  cc: [],
  bcc: [],
  subject: 'Welcome',
  message_id: `<${EMAIL_ID}@mail.example.com>`,
  created_at: '2026-01-05T10:00:00.000Z',
  sent_at: '2026-01-05T10:00:01.000Z',
  delivered_at: '2026-01-05T10:00:01.000Z',
  failed_at: null,
  scheduled_at: null,
  timezone: null,
  template_id: null,
  template_version: null,
  attempts: 1,
  max_attempts: 5,
  next_attempt_at: null,
  transport: 'smtp',
  last_error: null,
  recipients_count: 1,
  bounce_type: null,
  bounce_reason: null,
  recipients: [{ email: 'ada@example.org', name: null, type: 'to', status: 'delivered', smtp_code: 250, smtp_response: '250 2.0.0 OK', bounce_type: null, bounce_reason: null }],
  tags: [],
  track_opens: true,
  track_clicks: true,
  opened_at: '2026-01-05T10:04:12.000Z',
  clicked_at: null,
  open_count: 2,
  click_count: 0,
};
const exampleFull = {
  ...exampleEmail,
  reply_to: [],
  metadata: {},
  events: [{ type: 'accepted', at: '2026-01-05T10:00:00.000Z', recipient: null, attempt: null, smtp_host: null, smtp_code: null, smtp_response: null, detail: { tier: 'instant' } }],
};

/** `id`, `email_id` or `emailId`: the CLI and the SDKs disagree on the name. */
const getEmailQuery = z
  .object({
    id: z.string().optional().meta({ description: 'The email id (also accepted as `email_id` or `emailId`)', examples: [EMAIL_ID] }),
    email_id: z.string().optional().describe('Alias of `id`'),
    emailId: z.string().optional().describe('Alias of `id`'),
  })
  .transform((q) => {
    const id = q.id ?? q.email_id ?? q.emailId;
    if (!id) throw new ApiError('VALIDATION_ERROR', "Query parameter 'id' is required");
    return { id };
  });

export const getEmailByQuery = {
  ...operation({ summary: 'Get an email', description: 'Status and details of one email: recipients, their outcome and the timeline of events. The email fields are also at the top level, where the Keplars CLI reads them.', tag: 'Emails' }),
  querystring: getEmailQuery,
  response: {
    200: envelope(emailFull)
      .extend(emailFullFields)
      .meta({ examples: [{ success: true, message: 'Email retrieved', data: exampleFull, ...exampleFull }] }),
    ...errorResponses({ key: true, extra: [404] }),
  },
};

export const getEmailByPath = {
  ...operation({ summary: 'Get an email by id', description: 'Status and details of one email, its recipients and the timeline of events.', tag: 'Emails', extension: true }),
  params: z.object({ id: z.string().meta({ description: 'The email id', examples: [EMAIL_ID] }) }),
  response: {
    200: envelope(emailFull).meta({ examples: [{ success: true, message: 'Email retrieved', data: exampleFull }] }),
    ...errorResponses({ key: true, extra: [404] }),
  },
};

/** `status` is one word or a comma-separated list. */
const statusList = z
  .string()
  .optional()
  .meta({ description: `Only emails in these statuses: a comma-separated list of ${EMAIL_STATUSES.join(', ')}`, examples: ['delivered,bounced'] })
  .transform((value): string[] | undefined => {
    const statuses = value?.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
    const unknown = statuses?.filter((s) => !(EMAIL_STATUSES as readonly string[]).includes(s)) ?? [];
    if (unknown.length > 0) throw new ApiError('VALIDATION_ERROR', `Unknown status '${unknown[0]}'; use one of ${EMAIL_STATUSES.join(', ')}`);
    return statuses?.length ? statuses : undefined;
  });

const listQuery = z
  .object({
    status: statusList,
    recipient: z.string().optional().describe('Only emails to this address'),
    since: timeQuery('since', 'Only emails created at or after this time: ISO 8601 or Unix seconds'),
    from: timeQuery('since', 'Alias of `since`'),
    until: timeQuery('until', 'Only emails created before this time: ISO 8601 or Unix seconds'),
    to: timeQuery('until', 'Alias of `until`'),
    limit: limitQuery(50, 200),
    cursor: cursorQuery,
  })
  .transform(({ since, from, until, to, ...rest }) => ({ ...rest, since: since ?? from, until: until ?? to }));

export const listEmailsSchema = {
  ...operation({ summary: 'List emails', description: 'Emails of the workspace, newest first, with filters; pages by cursor.', tag: 'Emails', extension: true }),
  querystring: listQuery,
  response: {
    200: envelope(z.object({ emails: z.array(emailSummary), ...pageMeta })).meta({
      examples: [{ success: true, message: 'Emails retrieved', data: { emails: [exampleEmail], next_cursor: null, has_more: false } }],
    }),
    ...errorResponses({ key: true }),
  },
};

