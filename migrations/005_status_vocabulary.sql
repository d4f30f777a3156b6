-- One vocabulary for an email's lifecycle (src/platform/lifecycle.ts; the README's "Email status and logs"):
-- a recipient refused for good (5xx) is `bounced`, one whose temporary failures outlasted the retries is `failed`,
-- one taken by the relay (SMTP_URL) is `sent` and one taken by its own mail server `delivered`. Before, both
-- kinds of failure were stored as `failed`, relay acceptance as `delivered`, and running out of retries was a
-- `bounced` event. Rows written then are renamed: running out of retries is told apart by the note the delivery
-- worker adds to the reply text.

ALTER TABLE message_recipients DROP CONSTRAINT message_recipients_status_check;

UPDATE message_recipients
   SET status = 'bounced'
 WHERE status = 'failed' AND COALESCE(smtp_response, '') NOT LIKE '%(gave up after % attempts)';

UPDATE message_recipients r
   SET status = 'sent'
  FROM messages m
 WHERE m.id = r.message_id AND m.transport = 'smtp' AND r.status = 'delivered';

UPDATE message_events
   SET type = 'failed'
 WHERE type = 'bounced' AND recipient IS NOT NULL AND smtp_response LIKE '%(gave up after % attempts)';

ALTER TABLE message_recipients ADD CONSTRAINT message_recipients_status_check
  CHECK (status IN ('pending', 'sent', 'delivered', 'deferred', 'bounced', 'failed'));

ALTER TABLE messages ADD CONSTRAINT messages_status_check
  CHECK (status IN ('queued', 'scheduled', 'sending', 'sent', 'delivered', 'deferred', 'bounced', 'failed', 'cancelled', 'suppressed'));

-- GET /api/v1/emails?status=bounced (or failed, deferred) also finds an email by its recipients: this small index
-- holds only the recipients that did not get through, so that lookup never reads the accepted majority.
CREATE INDEX message_recipients_unsent_idx ON message_recipients (status, message_id) WHERE status IN ('deferred', 'bounced', 'failed');
