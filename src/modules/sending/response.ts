import type { Tier } from '../../config/config.js';
import { TIER_POLICIES } from './tiers.js';

export interface AcceptedEmailSummary {
  id: string;
  tier: Tier;
  from: string;
  to: string[];
  subject: string;
  createdAt: Date;
  recipientsCount: number;
}

/**
 * One object that satisfies every response shape real clients read (spec §3.3 variants A–D): the email
 * object at top level, the SKILLS fields, and the job envelope under `data`.
 */
export function sendResponse(e: AcceptedEmailSummary): Record<string, unknown> {
  const message = 'Email queued successfully';
  const estimated = TIER_POLICIES[e.tier].estimatedDelivery;
  return {
    success: true,
    message,
    id: e.id,
    object: 'email',
    status: 'queued',
    from: e.from,
    to: e.to,
    subject: e.subject,
    created_at: e.createdAt.toISOString(),
    metadata: { priority: e.tier, estimated_delivery: estimated, recipients_count: e.recipientsCount },
    email_id: e.id,
    queue: e.tier,
    estimated_delivery: estimated,
    data: { id: e.id, job_id: e.id, email_id: e.id, priority: e.tier, status: 'queued', message },
  };
}
