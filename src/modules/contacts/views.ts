import type { ContactRow } from '../../platform/db/schema.js';
import type { AudienceView } from './audiences.js';
import type { AudienceItemView, ContactDetailView, ContactListItemView } from './schemas.js';
import type { ContactDetail, ContactListItem } from './service.js';

const iso = (d: Date): string => d.toISOString();
const isoOrNull = (d: Date | null): string | null => d?.toISOString() ?? null;

/** A get-contacts item: camelCase as spec §4.1 shows it, with a few fields of ours. */
export function contactListItemView(c: ContactListItem): ContactListItemView {
  return {
    id: c.id,
    email: c.email,
    firstName: c.first_name,
    lastName: c.last_name,
    companyName: c.company_name,
    jobTitle: c.job_title,
    phoneNumber: c.phone,
    // a block outranks any membership: a blocked contact gets no mail from any audience (spec §4.6)
    status: c.status === 'blocked' ? 'blocked' : (c.membership_status ?? 'subscribed'),
    tags: c.tags,
    customFields: c.custom_fields,
    subscriptionStatus: c.membership_status,
    blockedReason: c.blocked_reason,
    deliverabilityScore: c.deliverability_score,
    createdAt: iso(c.created_at),
    updatedAt: iso(c.updated_at),
  };
}

/** get-contact: snake_case as spec §4.2 shows it, plus the fields and memberships of ours. */
export function contactDetailView(c: ContactDetail): ContactDetailView {
  return {
    id: c.id,
    email: c.email,
    first_name: c.first_name,
    last_name: c.last_name,
    phone: c.phone,
    status: c.status,
    tags: c.tags,
    custom_fields: c.custom_fields,
    created_at: iso(c.created_at),
    updated_at: iso(c.updated_at),
    company_name: c.company_name,
    job_title: c.job_title,
    blocked_reason: c.blocked_reason,
    blocked_at: isoOrNull(c.blocked_at),
    deliverability_score: c.deliverability_score,
    audiences: c.audiences.map((m) => ({
      audience_id: m.audience_id,
      name: m.audience_name,
      status: m.status,
      subscribed_at: isoOrNull(m.subscribed_at),
      unsubscribed_at: isoOrNull(m.unsubscribed_at),
      created_at: iso(m.created_at),
    })),
  };
}

export const deletedContactView = (c: ContactRow) => ({ id: c.id, email: c.email, deleted: true as const });

/** An audience in both spellings (spec §5: the docs' camelCase and the OpenAPI pages' snake_case). */
export function audienceView(a: AudienceView): AudienceItemView {
  return {
    id: a.id,
    name: a.name,
    description: a.description,
    contactCount: a.contact_count,
    contact_count: a.contact_count,
    subscribeUrl: a.subscribe_url,
    subscribe_url: a.subscribe_url,
    double_opt_in: a.double_opt_in,
    doubleOptIn: a.double_opt_in,
    createdAt: iso(a.created_at),
    created_at: iso(a.created_at),
    updatedAt: iso(a.updated_at),
    updated_at: iso(a.updated_at),
  };
}

/** Both pagination styles of spec §5: flat (`page`, `limit`, `total`, `totalPages`) and `meta`. */
export function pageView(page: number, limit: number, total: number) {
  return { page, limit, total, totalPages: Math.ceil(total / limit), meta: { total, page, limit, has_more: page * limit < total } };
}
