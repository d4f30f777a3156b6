import type { z } from 'zod';
import { ApiError } from '../../platform/http/errors.js';
import { firstIssueMessage } from '../../platform/http/validation-message.js';
import { scheduleEmailBody, sendEmailBody, type ScheduleRequest, type SendRequest } from './send-schema.js';

/**
 * A body through its schema, refused in the envelope's words. Refusals with codes of their own (413
 * PAYLOAD_TOO_LARGE, INVALID_SCHEDULE_TIME) are ApiErrors thrown by the schema and pass through as they are.
 * Until the routes declare `schema: { body }`, the handlers call these.
 */
function parseWith<T>(schema: z.ZodType<T>, body: unknown): T {
  const result = schema.safeParse(body);
  if (!result.success) throw new ApiError('VALIDATION_ERROR', firstIssueMessage(result.error));
  return result.data;
}

export const parseSendBody = (body: unknown): SendRequest => parseWith(sendEmailBody, body);
export const parseScheduleBody = (body: unknown): ScheduleRequest => parseWith(scheduleEmailBody, body);
