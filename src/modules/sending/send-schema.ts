import { z } from 'zod';

/**
 * PLACEHOLDER until the send body schema lands (issue 9 §1): the body is passed on unchanged, and the sending
 * service checks it exactly as before (normalize.ts), with the same errors. Only the reference text lives here.
 */

const VARIANTS = [
  'One body serves every client of the Keplars API (spec §3.1); each field has the spellings clients use:',
  '- `to`, `cc`, `bcc`: an address string (`"Ada <ada@example.org>"`), a comma-separated string, a list of strings, or objects `{ email, name }`; at most 50 recipients in all',
  '- `from`: a string or `{ email, name }`; `from_name`/`fromName` set the display name; absent, the server default sender',
  '- `reply_to`/`replyTo`: like `to`',
  '- content: `html`, `text`, or `body` (HTML when it looks like HTML, else text); or `template_id`/`templateId` with `params` or `template_data`',
  '- `subject`; `headers` (an object of extra headers); `attachments` (`{ filename, content (base64), content_type }`); `metadata` (an object); `tags` (a list)',
  '- a time (`scheduled_at`, `scheduled_for`, `scheduledAt`, `scheduledFor`, ISO 8601 or Unix seconds; `timezone`) schedules the email in this tier',
].join('\n');

const example = { from: 'hello@mail.example.com', to: 'ada@example.org', subject: 'Welcome', html: '<p>Hello Ada</p>' };

export const sendEmailBody = z.unknown().meta({
  description: VARIANTS,
  examples: [example],
});

export const scheduleEmailBody = z.unknown().meta({
  description: `${VARIANTS}\n\nThe schedule endpoint also takes the email nested as \`email: { … }\` beside \`scheduled_at\`, \`timezone\` and \`priority\` (instant, high, async or bulk; default async). The time is required.`,
  examples: [{ ...example, scheduled_at: '2026-01-05T09:00:00', timezone: 'Europe/Paris' }],
});
