import type { Tier } from '../../platform/lifecycle.js';
import { TIER_POLICIES } from './tiers.js';
import type { SendResponse } from './schemas.js';

export interface AcceptedEmailSummary {
  id: string;
  tier: Tier;
  from: string;
  to: string[];
  subject: string;
  createdAt: Date;
  recipientsCount: number;
  schedule?: { at: Date; timezone: string };
}

/**
 * One object that satisfies every response shape real clients read (spec §3.3 variants A–D): the email
 * object at top level, the SKILLS fields, and the job envelope under `data`.
 */
export function sendResponse(e: AcceptedEmailSummary): SendResponse {
  const message = e.schedule ? 'Email scheduled successfully' : 'Email queued successfully';
  const status = e.schedule ? 'scheduled' : 'queued';
  const estimated = e.schedule ? `at ${e.schedule.at.toISOString()}` : TIER_POLICIES[e.tier].estimatedDelivery;
  return {
    success: true,
    message,
    id: e.id,
    object: e.schedule ? 'scheduled_email' : 'email',
    status,
    ...(e.schedule ? { scheduled_at: e.schedule.at.toISOString(), timezone: e.schedule.timezone } : {}),
    from: e.from,
    to: e.to,
    subject: e.subject,
    created_at: e.createdAt.toISOString(),
    metadata: { priority: e.tier, estimated_delivery: estimated, recipients_count: e.recipientsCount },
    email_id: e.id,
    queue: e.tier,
    estimated_delivery: estimated,
    data: { id: e.id, job_id: e.id, email_id: e.id, priority: e.tier, status, message, ...(e.schedule ? { scheduled_at: e.schedule.at.toISOString() } : {}) },
  };
}
