import { z } from 'zod';
import { splitName } from './names.js';
import { ApiError } from '../../platform/http/errors.js';
import { envelope, errorResponses, limitQuery, operation, optionalObjectBody } from '../../platform/http/schemas.js';
import { isValidEmail } from '../sending/index.js';

/** Example ids (test/openapi.test.ts puts ids it made in their place). */
export const CONTACT_ID = '019a83de-2fc2-7b5f-bfbc-c951fe1200f7';
export const AUDIENCE_ID = '019dd571-7fd1-7182-b941-2bbc8331b331';
export const EXAMPLE_EMAIL = 'ada+news@example.com';

/** The bounds of a contact's fields (README, "Contacts and audiences"). */
export const CONTACT_LIMITS = {
  textChars: 200,
  tags: 100,
  tagChars: 100,
  customFieldKeys: 50,
  customFieldBytes: 16 * 1024,
  descriptionChars: 1000,
} as const;

/** How far `page` goes: with the largest page size, an offset of a billion rows. */
const MAX_PAGE = 1_000_000;

const complain = (ctx: z.core.ParsePayload<unknown>, message: string): void => {
  ctx.issues.push({ code: 'custom', message, input: ctx.value, continue: false });
};

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

// ---------------------------------------------------------------------------------------------------------
// Query parameters. Every one has a camelCase and a snake_case spelling (spec §4.1, §5, §15.8–9): both are
// declared so the reference shows them, and the route (routes.ts) reads whichever was given.

/** `page` as clients send it: absent, empty or 0 mean the first page (the CLI sends 0 for "unset"). */
const pageQuery = z
  .string()
  .optional()
  .meta({ description: 'Page number, from 1 (absent, empty or 0: the first page)', examples: ['1'] })
  .transform((value): number => {
    if (value === undefined || value === '' || value === '0') return 1;
    const n = Number(value);
    if (!Number.isInteger(n) || n < 0) throw new ApiError('VALIDATION_ERROR', "Query parameter 'page' must be a positive integer");
    return Math.min(n, MAX_PAGE);
  });

/** true/false/1/0 (any case); absent or empty: not given. */
const flagQuery = (name: string, description: string) =>
  z
    .string()
    .optional()
    .meta({ description })
    .transform((value): boolean | undefined => {
      if (value === undefined || value === '') return undefined;
      const v = value.toLowerCase();
      if (v === 'true' || v === '1') return true;
      if (v === 'false' || v === '0') return false;
      throw new ApiError('VALIDATION_ERROR', `Query parameter '${name}' must be true, false, 1 or 0`);
    });

/** A sort key in either spelling (`firstName`, `first_name`, any case): read without underscores and case. */
const sortQuery = <K extends string>(name: string, keys: readonly K[], description: string) => {
  const byLoose = new Map(keys.map((k) => [k.toLowerCase(), k]));
  return z
    .string()
    .optional()
    .meta({ description })
    .transform((value): K | undefined => {
      if (value === undefined || value === '') return undefined;
      const key = byLoose.get(value.slice(0, 100).replace(/_/g, '').toLowerCase());
      if (!key) throw new ApiError('VALIDATION_ERROR', `Query parameter '${name}' must be one of ${keys.join(', ')} (or their snake_case spellings)`);
      return key;
    });
};

const dirQuery = (name: string, fallback: 'asc' | 'desc') =>
  z
    .string()
    .optional()
    .meta({ description: `asc or desc (default ${fallback})` })
    .transform((value): 'asc' | 'desc' | undefined => {
      if (value === undefined || value === '') return undefined;
      const v = value.toLowerCase();
      if (v === 'asc' || v === 'desc') return v;
      throw new ApiError('VALIDATION_ERROR', `Query parameter '${name}' must be asc or desc`);
    });

const idQuery = (description: string, examples?: string[]) => z.string().optional().meta({ description, ...(examples ? { examples } : {}) });

/** The first value given and not blank: clients send "" and null for "not set". */
export const given = (...values: (string | null | undefined)[]): string | undefined => values.find((v): v is string => typeof v === 'string' && v.trim() !== '')?.trim();

const CONTACT_SORT_NAMES = ['firstName', 'lastName', 'email', 'createdAt', 'deliverabilityScore'] as const;
const AUDIENCE_SORT_NAMES = ['name', 'contactCount', 'createdAt'] as const;

export const listContactsQuery = z.object({
  audienceId: idQuery('List the members of this audience; absent: every contact of the workspace', [AUDIENCE_ID]),
  audience_id: idQuery('Alias of `audienceId`'),
  page: pageQuery,
  limit: limitQuery(50, 1000),
  sortBy: sortQuery('sortBy', CONTACT_SORT_NAMES, `One of ${CONTACT_SORT_NAMES.join(', ')}, or their snake_case spellings (default createdAt)`),
  sort_by: sortQuery('sort_by', CONTACT_SORT_NAMES, 'Alias of `sortBy`'),
  sortDir: dirQuery('sortDir', 'asc'),
  sort_dir: dirQuery('sort_dir', 'asc'),
  subscribedOnly: flagQuery('subscribedOnly', 'true/1: only contacts not blocked and (with an audience) subscribed to it (default false)'),
  subscribed_only: flagQuery('subscribed_only', 'Alias of `subscribedOnly`'),
});

export const listAudiencesQuery = z.object({
  page: pageQuery,
  limit: limitQuery(50, 1000),
  sortBy: sortQuery('sortBy', AUDIENCE_SORT_NAMES, `One of ${AUDIENCE_SORT_NAMES.join(', ')}, or their snake_case spellings (default createdAt)`),
  sort_by: sortQuery('sort_by', AUDIENCE_SORT_NAMES, 'Alias of `sortBy`'),
  sortDir: dirQuery('sortDir', 'desc'),
  sort_dir: dirQuery('sort_dir', 'desc'),
});

/** get, update and delete name the contact by `?id=` or `?email=` (spec §4.2, §4.4, §4.5). */
export const contactSelectorQuery = z.object({
  id: idQuery('The contact id (give `id` or `email`)', [CONTACT_ID]),
  email: idQuery("The contact's address, URL-encoded (`+` as %2B; a raw `+` is read as `+` too)"),
});

export const audienceSelectorQuery = z.object({
  id: idQuery('The audience id', [AUDIENCE_ID]),
  audience_id: idQuery('Alias of `id`'),
  audienceId: idQuery('Alias of `id`'),
});

// ---------------------------------------------------------------------------------------------------------
// Bodies

/** An address: trimmed, then checked (its length first, before any pattern reads it). */
const emailField = z
  .string()
  .trim()
  .check((ctx) => {
    if (!isValidEmail(ctx.value)) complain(ctx, `has an invalid email address: ${JSON.stringify(ctx.value.slice(0, 100))}`);
  });

/** A profile text: null or "" clears it. */
const text = (description: string) => z.string().max(CONTACT_LIMITS.textChars).nullable().optional().describe(description);

const tags = z
  .array(z.string().max(CONTACT_LIMITS.tagChars))
  .max(CONTACT_LIMITS.tags)
  .nullable()
  .optional()
  .meta({ description: `Labels: at most ${CONTACT_LIMITS.tags} of at most ${CONTACT_LIMITS.tagChars} characters; replaces the contact's tags`, examples: [['vip', 'newsletter']] });

/** A JSON object of at most 50 keys and 16 KiB; the key count is checked before anything is serialised. */
const customFields = (description: string) =>
  z
    .unknown()
    .check((ctx) => {
      const v = ctx.value;
      if (v === undefined || v === null) return;
      if (!isRecord(v)) return complain(ctx, 'must be an object');
      let keys = 0;
      for (const key in v) if (Object.hasOwn(v, key) && ++keys > CONTACT_LIMITS.customFieldKeys) return complain(ctx, `must have at most ${CONTACT_LIMITS.customFieldKeys} keys`);
      if (Buffer.byteLength(JSON.stringify(v)) > CONTACT_LIMITS.customFieldBytes) complain(ctx, `must be at most ${CONTACT_LIMITS.customFieldBytes} bytes as JSON`);
    })
    .optional()
    .meta({ type: 'object', description });

const profileFields = {
  name: text('Full name, split at the first space into first and last name where those are not given'),
  first_name: text('First name (also `firstName`)'),
  firstName: text('Alias of `first_name`'),
  last_name: text('Last name (also `lastName`)'),
  lastName: text('Alias of `last_name`'),
  company_name: text('Company (also `companyName`, `company`)'),
  companyName: text('Alias of `company_name`'),
  company: text('Alias of `company_name`'),
  job_title: text('Job title (also `jobTitle`)'),
  jobTitle: text('Alias of `job_title`'),
  phone: text('Phone number (also `phone_number`, `phoneNumber`)'),
  phone_number: text('Alias of `phone`'),
  phoneNumber: text('Alias of `phone`'),
  tags,
  custom_fields: customFields(
    `Custom fields, merged into the contact's (a null value removes a key); at most ${CONTACT_LIMITS.customFieldKeys} keys and 16 KiB. Also \`customFields\`, \`custom_attributes\`, \`customAttributes\``,
  ),
  customFields: customFields('Alias of `custom_fields`'),
  custom_attributes: customFields('Alias of `custom_fields`'),
  customAttributes: customFields('Alias of `custom_fields`'),
  audience_id: z.string().nullable().optional().describe('Also add the contact to this audience (also `audienceId`)'),
  audienceId: z.string().nullable().optional().describe('Alias of `audience_id`'),
};

const addExample = { email: EXAMPLE_EMAIL, name: 'Ada Lovelace', audience_id: AUDIENCE_ID, tags: ['vip'], custom_fields: { plan: 'pro' } };

export const addContactBody = z.preprocess(
  (value) => value ?? {},
  z
    .object({ email: emailField.describe('The address (required); a contact with this address, in any case, is reused'), ...profileFields })
    .meta({ examples: [addExample] }),
);

export const updateContactBody = optionalObjectBody(
  {
    email: emailField.optional().describe("A new address (409 CONFLICT when another contact has it)"),
    ...profileFields,
    status: z.enum(['subscribed', 'blocked']).optional().describe('Extension: `blocked` blocks the contact by hand (every audience), `subscribed` lifts any block'),
    subscription: z
      .enum(['subscribed', 'unsubscribed'])
      .optional()
      .describe("Extension: the contact's state in `audience_id` (needed with it); other audiences are not touched"),
  },
  [{ first_name: 'Ada', last_name: 'Byron', tags: ['vip', 'founder'] }],
);

type ProfileBody = z.output<typeof addContactBody> | z.output<typeof updateContactBody>;

const cleanText = (v: string | null): string | null => (v === null || v.trim() === '' ? null : v.trim());

/** The first spelling given (present, even as null) of a field. */
function pick<T>(...values: (T | undefined)[]): T | undefined {
  return values.find((v) => v !== undefined);
}

/** A request's profile fields in the one spelling the service takes (store.ts, ProfileColumns). */
export function profileOf(b: ProfileBody) {
  let first = pick(b.first_name, b.firstName);
  let last = pick(b.last_name, b.lastName);
  const name = b.name === undefined ? undefined : cleanText(b.name);
  if (name !== undefined && (first === undefined || last === undefined)) {
    const split = name === null ? { first: null, last: null } : splitName(name);
    first ??= split.first;
    last ??= split.last;
  }
  const company = pick(b.company_name, b.companyName, b.company);
  const jobTitle = pick(b.job_title, b.jobTitle);
  const phone = pick(b.phone, b.phone_number, b.phoneNumber);
  const fields = pick(b.custom_fields, b.customFields, b.custom_attributes, b.customAttributes);
  return {
    ...(first !== undefined ? { first_name: cleanText(first) } : {}),
    ...(last !== undefined ? { last_name: cleanText(last) } : {}),
    ...(company !== undefined ? { company_name: cleanText(company) } : {}),
    ...(jobTitle !== undefined ? { job_title: cleanText(jobTitle) } : {}),
    ...(phone !== undefined ? { phone: cleanText(phone) } : {}),
    ...(b.tags !== undefined ? { tags: b.tags === null ? [] : [...new Set(b.tags.map((t) => t.trim()).filter((t) => t !== ''))] } : {}),
    ...(isRecord(fields) ? { custom_fields: fields } : {}),
  };
}

export const audienceIdOf = (b: ProfileBody): string | undefined => given(b.audience_id, b.audienceId);

export const addAudienceBody = z.preprocess(
  (value) => value ?? {},
  z
    .object({
      name: z.string().trim().min(1).max(CONTACT_LIMITS.textChars).describe('The name (required)'),
      description: z.string().max(CONTACT_LIMITS.descriptionChars).nullable().optional(),
      double_opt_in: z.boolean().nullable().optional().describe('Extension: a subscription through the hosted form waits for a click on a mailed link (also `doubleOptIn`)'),
      doubleOptIn: z.boolean().nullable().optional().describe('Alias of `double_opt_in`'),
    })
    .meta({ examples: [{ name: 'Newsletter', description: 'Monthly product news' }] }),
);

/** DELETE may carry the selector in a JSON body too (decisions §16). */
export const contactSelectorBody = optionalObjectBody(
  { id: z.string().nullable().optional().describe('The contact id, when not in the query'), email: z.string().nullable().optional().describe('The address, when not in the query') },
  [{}],
);
export const audienceSelectorBody = optionalObjectBody(
  {
    id: z.string().nullable().optional().describe('The audience id, when not in the query'),
    audience_id: z.string().nullable().optional().describe('Alias of `id`'),
    audienceId: z.string().nullable().optional().describe('Alias of `id`'),
  },
  [{}],
);

// ---------------------------------------------------------------------------------------------------------
// Responses

const time = z.string();
const nullableTime = z.string().nullable();
const nullableText = z.string().nullable();

const contactListItem = z.object({
  id: z.string(),
  email: z.string(),
  firstName: nullableText,
  lastName: nullableText,
  companyName: nullableText,
  jobTitle: nullableText,
  phoneNumber: nullableText,
  status: z.string().describe('`blocked` when blocked; else, listing an audience, the state there (`subscribed`, `unsubscribed`, `pending`); else `subscribed`'),
  tags: z.array(z.string()),
  customFields: z.record(z.string(), z.unknown()),
  subscriptionStatus: nullableText.describe("The contact's state in the audience listed; null without `audienceId`"),
  blockedReason: nullableText.describe('hard_bounce, complaint or manual when blocked'),
  deliverabilityScore: z.number(),
  createdAt: time,
  updatedAt: time,
});

const membership = z.object({
  audience_id: z.string(),
  name: z.string(),
  status: z.string().describe('subscribed, unsubscribed, or pending (a double opt-in waiting for its click)'),
  subscribed_at: nullableTime,
  unsubscribed_at: nullableTime,
  created_at: time,
});

const contactDetail = z.object({
  id: z.string(),
  email: z.string(),
  first_name: nullableText,
  last_name: nullableText,
  phone: nullableText,
  status: z.string().describe('The global status: subscribed or blocked'),
  tags: z.array(z.string()),
  custom_fields: z.record(z.string(), z.unknown()),
  created_at: time,
  updated_at: time,
  company_name: nullableText,
  job_title: nullableText,
  blocked_reason: nullableText.describe('hard_bounce, complaint or manual when blocked'),
  blocked_at: nullableTime,
  deliverability_score: z.number(),
  audiences: z.array(membership).describe("Extension: the contact's audiences, each with its own subscription state"),
});

const audienceItem = z.object({
  id: z.string(),
  name: z.string(),
  description: nullableText,
  contactCount: z.number().describe('Members in any state, exact'),
  contact_count: z.number(),
  subscribeUrl: z.string().describe('The hosted subscribe form: signed, stable for the audience'),
  subscribe_url: z.string(),
  double_opt_in: z.boolean(),
  doubleOptIn: z.boolean(),
  createdAt: time,
  created_at: time,
  updatedAt: time,
  updated_at: time,
});

const T0 = '2026-04-01T10:00:00.000Z';
const exampleListItem = {
  id: CONTACT_ID,
  email: EXAMPLE_EMAIL,
  firstName: 'Ada',
  lastName: 'Lovelace',
  companyName: 'Analytical Engines',
  jobTitle: 'Engineer',
  phoneNumber: '+1 555 000 0001',
  status: 'subscribed',
  tags: ['vip', 'newsletter'],
  customFields: { plan: 'pro' },
  subscriptionStatus: 'subscribed',
  blockedReason: null,
  deliverabilityScore: 100,
  createdAt: T0,
  updatedAt: T0,
};
const exampleDetail = {
  id: CONTACT_ID,
  email: EXAMPLE_EMAIL,
  first_name: 'Ada',
  last_name: 'Lovelace',
  phone: null,
  status: 'subscribed',
  tags: ['vip'],
  custom_fields: { plan: 'pro' },
  created_at: T0,
  updated_at: T0,
  company_name: null,
  job_title: null,
  blocked_reason: null,
  blocked_at: null,
  deliverability_score: 100,
  audiences: [{ audience_id: AUDIENCE_ID, name: 'Newsletter', status: 'subscribed', subscribed_at: T0, unsubscribed_at: null, created_at: T0 }],
};
const exampleAudience = {
  id: AUDIENCE_ID,
  name: 'Newsletter',
  description: 'Monthly product news',
  contactCount: 1,
  contact_count: 1,
  subscribeUrl: 'https://mail.example.com/s/a3f9bc4d',
  subscribe_url: 'https://mail.example.com/s/a3f9bc4d',
  double_opt_in: false,
  doubleOptIn: false,
  createdAt: T0,
  created_at: T0,
  updatedAt: T0,
  updated_at: T0,
};

const meta = z.object({ total: z.number(), page: z.number(), limit: z.number(), has_more: z.boolean() });
const pagination = { page: z.number(), limit: z.number(), total: z.number(), totalPages: z.number(), meta };
const examplePagination = { page: 1, limit: 50, total: 1, totalPages: 1, meta: { total: 1, page: 1, limit: 50, has_more: false } };

export type ContactListItemView = z.output<typeof contactListItem>;
export type ContactDetailView = z.output<typeof contactDetail>;
export type AudienceItemView = z.output<typeof audienceItem>;

const SELECTED_ERRORS = errorResponses({ key: true, extra: [404] });
const contacts = 'Contacts';
const audiences = 'Audiences';

export const listContactsSchema = {
  ...operation({
    summary: 'List contacts',
    description:
      'One page of contacts (camelCase, spec §4.1): the members of `audienceId` (or `audience_id`), or every contact of the workspace without it. `page=0` and `limit=0` mean the defaults; a larger `limit` is clamped to 1000. The pagination is both flat and in `meta`.',
    tag: contacts,
  }),
  querystring: listContactsQuery,
  response: {
    200: envelope(z.object({ contacts: z.array(contactListItem), ...pagination })).meta({
      examples: [{ success: true, message: 'Contacts retrieved', data: { contacts: [exampleListItem], ...examplePagination } }],
    }),
    ...SELECTED_ERRORS,
  },
};

export const getContactSchema = {
  ...operation({ summary: 'Get a contact', description: 'A contact by `?id=` or `?email=` (snake_case, spec §4.2), with its audiences and its state in each.', tag: contacts }),
  querystring: contactSelectorQuery,
  response: {
    200: envelope(contactDetail).meta({ examples: [{ success: true, message: 'Contact retrieved', data: exampleDetail }] }),
    ...SELECTED_ERRORS,
  },
};

export const addContactSchema = {
  ...operation({
    summary: 'Add a contact',
    description:
      'Creates the contact, or reuses the one with this address (changing the fields given), and adds it to `audience_id` when given. Repeating the call changes nothing. Every profile field takes its camelCase and snake_case spellings; `name` is split into first and last names. Answers the contact as get-contact does, with `created`.',
    tag: contacts,
  }),
  body: addContactBody,
  response: {
    200: envelope(contactDetail.extend({ created: z.boolean().describe('false when a contact with this address was reused') })).meta({
      examples: [{ success: true, message: 'Contact added', data: { ...exampleDetail, created: true } }],
    }),
    ...SELECTED_ERRORS,
  },
};

export const updateContactSchema = {
  ...operation({
    summary: 'Update a contact',
    description:
      'Changes the fields given of the contact named by `?id=` or `?email=`; the others stay. `audience_id` adds the contact to that audience; the extensions `status` and `subscription` block or unblock it, and set its state in `audience_id`. Answers the contact as get-contact does.',
    tag: contacts,
  }),
  querystring: contactSelectorQuery,
  body: updateContactBody,
  response: {
    200: envelope(contactDetail).meta({ examples: [{ success: true, message: 'Contact updated', data: { ...exampleDetail, last_name: 'Byron', tags: ['vip', 'founder'] } }] }),
    ...errorResponses({ key: true, extra: [404, 409] }),
  },
};

export const deleteContactSchema = {
  ...operation({
    summary: 'Delete a contact',
    description: 'Removes the contact named by `?id=` or `?email=` (or the same fields in a JSON body) and its memberships, for good; the audience counts follow.',
    tag: contacts,
  }),
  querystring: contactSelectorQuery,
  body: contactSelectorBody,
  response: {
    200: envelope(z.object({ id: z.string(), email: z.string(), deleted: z.literal(true) })).meta({
      examples: [{ success: true, message: 'Contact deleted', data: { id: CONTACT_ID, email: EXAMPLE_EMAIL, deleted: true } }],
    }),
    ...SELECTED_ERRORS,
  },
};

export const listAudiencesSchema = {
  ...operation({
    summary: 'List audiences',
    description:
      "One page of the workspace's audiences. Items carry both spellings (`contactCount` and `contact_count`, …) and the pagination is both flat and in `meta` (spec §5). Sort by name, contactCount or createdAt (either spelling), newest first by default.",
    tag: audiences,
  }),
  querystring: listAudiencesQuery,
  response: {
    200: envelope(z.object({ audiences: z.array(audienceItem), ...pagination })).meta({
      examples: [{ success: true, message: 'Audiences retrieved', data: { audiences: [exampleAudience], ...examplePagination } }],
    }),
    ...errorResponses({ key: true }),
  },
};

export const getAudienceSchema = {
  ...operation({ summary: 'Get an audience', description: 'An audience by `?id=`, with its exact contact count and its subscribe URL.', tag: audiences }),
  querystring: audienceSelectorQuery,
  response: {
    200: envelope(audienceItem).meta({ examples: [{ success: true, message: 'Audience retrieved', data: exampleAudience }] }),
    ...SELECTED_ERRORS,
  },
};

export const addAudienceSchema = {
  ...operation({
    summary: 'Create an audience',
    description: 'Creates an audience; its `subscribeUrl` is the hosted subscribe form. The extension `double_opt_in` makes that form mail a confirmation link first.',
    tag: audiences,
  }),
  body: addAudienceBody,
  response: {
    200: envelope(audienceItem).meta({ examples: [{ success: true, message: 'Audience created', data: { ...exampleAudience, contactCount: 0, contact_count: 0 } }] }),
    ...errorResponses({ key: true }),
  },
};

export const deleteAudienceSchema = {
  ...operation({ summary: 'Delete an audience', description: 'Removes the audience and its memberships, for good; its contacts stay in the workspace.', tag: audiences }),
  querystring: audienceSelectorQuery,
  body: audienceSelectorBody,
  response: {
    200: envelope(z.object({ id: z.string(), deleted: z.literal(true) })).meta({ examples: [{ success: true, message: 'Audience deleted', data: { id: AUDIENCE_ID, deleted: true } }] }),
    ...SELECTED_ERRORS,
  },
};

// ---------------------------------------------------------------------------------------------------------
// The Elixir SDK's REST-style paths (spec §4.7): `/contacts`, `/contacts/{email}`, kept as aliases.

const contactPath = z.object({
  email: z.string().meta({ description: 'The address, URL-encoded (or the contact id)', examples: [EXAMPLE_EMAIL] }),
});
const restAlias = (summary: string, of: string) =>
  operation({ summary, description: `The Elixir SDK's REST-style path (spec §4.7) for \`${of}\`; \`{email}\` may also be the contact id.`, tag: contacts, aliasOf: of });

export const restListContactsSchema = { ...listContactsSchema, ...restAlias('List contacts (REST path)', 'GET /api/v1/public/contacts/get-contacts') };
export const restAddContactSchema = { ...addContactSchema, ...restAlias('Add a contact (REST path)', 'POST /api/v1/public/contacts/add-contact') };
export const restGetContactSchema = {
  ...restAlias('Get a contact (REST path)', 'GET /api/v1/public/contacts/get-contact'),
  params: contactPath,
  response: getContactSchema.response,
};
export const restUpdateContactSchema = {
  ...restAlias('Update a contact (REST path)', 'PATCH /api/v1/public/contacts/update-contact'),
  params: contactPath,
  body: updateContactBody,
  response: updateContactSchema.response,
};
export const restDeleteContactSchema = {
  ...restAlias('Delete a contact (REST path)', 'DELETE /api/v1/public/contacts/delete-contact'),
  params: contactPath,
  response: deleteContactSchema.response,
};
