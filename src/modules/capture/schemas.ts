import { z } from 'zod';
import { cursorQuery, envelope, errorResponses, limitQuery, operation, pageMeta } from '../../platform/http/schemas.js';

const CAPTURED_ID = '019a83de-3a11-7c2e-9d40-6f1e2b3c4d5e';
const EMAIL_ID = '019a83de-2fc2-7b5f-bfbc-c951fe1200f7';

const capturedFields = {
  id: z.string(),
  email_id: z.string().describe('The email this message was sent for'),
  envelope_from: z.string(),
  envelope_to: z.array(z.string()),
  subject: z.string(),
  size: z.number().describe('Bytes of the message'),
  captured_at: z.string(),
};
const example = {
  id: CAPTURED_ID,
  email_id: EMAIL_ID,
  envelope_from: 'bounces@mail.example.com',
  envelope_to: ['ada@example.org'],
  subject: 'Welcome',
  size: 1234,
  captured_at: '2026-01-05T10:00:01.000Z',
};
const RAW = 'From: hello@mail.example.com\r\nTo: ada@example.org\r\nSubject: Welcome\r\n\r\nHello Ada\r\n';

const capturedId = z.object({ id: z.string().meta({ description: 'The captured message id', examples: [CAPTURED_ID] }) });

export const listCapturedSchema = {
  ...operation({ summary: 'List captured messages', description: 'What the capture transport kept (DELIVERY_MODE=capture), newest first; pages by cursor.', tag: 'Captured', extension: true }),
  querystring: z.object({
    limit: limitQuery(50, 200),
    cursor: cursorQuery,
    email_id: z.string().optional().describe('Only the messages of this email'),
    recipient: z.string().optional().describe('Only the messages to this address'),
  }),
  response: {
    200: envelope(z.object({ messages: z.array(z.object(capturedFields)), ...pageMeta })).meta({
      examples: [{ success: true, message: 'Captured messages', data: { messages: [example], next_cursor: null, has_more: false } }],
    }),
    ...errorResponses({ key: true }),
  },
};

export const getCapturedSchema = {
  ...operation({ summary: 'Get a captured message', description: 'One captured message with its raw MIME text, exactly as it would have gone out.', tag: 'Captured', extension: true }),
  params: capturedId,
  response: {
    200: envelope(z.object({ ...capturedFields, raw: z.string().describe('The whole message (RFC 5322)') })).meta({
      examples: [{ success: true, message: 'Captured message', data: { ...example, raw: RAW } }],
    }),
    ...errorResponses({ key: true, extra: [404] }),
  },
};

export const getCapturedRawSchema = {
  ...operation({ summary: 'Download a captured message', description: 'The raw message as an .eml file (message/rfc822).', tag: 'Captured', extension: true }),
  params: capturedId,
  response: {
    200: { description: 'The message', content: { 'message/rfc822': { schema: z.string().meta({ examples: [RAW] }) } } },
    ...errorResponses({ key: true, extra: [404] }),
  },
};
