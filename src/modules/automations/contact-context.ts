import type { EngineContact } from './engine-store.js';

/**
 * What a send_email step's template sees (README, "Automations"): the contact's custom fields by name, its profile
 * as firstName, lastName, email, companyName, jobTitle, phone (these win over a custom field of the same name), and
 * `event` — the properties of the events/track call that started a contact_event enrollment ({} otherwise).
 */
export function templateVariables(contact: EngineContact, triggerData: Record<string, unknown>): Record<string, unknown> {
  const event = triggerData.event;
  return {
    ...contact.custom_fields,
    firstName: contact.first_name ?? '',
    lastName: contact.last_name ?? '',
    email: contact.email,
    companyName: contact.company_name ?? '',
    jobTitle: contact.job_title ?? '',
    phone: contact.phone ?? '',
    event: typeof event === 'object' && event !== null && !Array.isArray(event) ? event : {},
  };
}

/** A contact field as a condition reads it: a profile column, else the custom field of that name. */
export function fieldValue(contact: EngineContact, field: string): unknown {
  switch (field) {
    case 'email':
      return contact.email;
    case 'first_name':
    case 'last_name':
    case 'company_name':
    case 'job_title':
    case 'phone':
      return contact[field];
    default:
      return Object.hasOwn(contact.custom_fields, field) ? contact.custom_fields[field] : undefined;
  }
}
