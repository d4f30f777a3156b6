import { z } from 'zod';
import { ApiError } from '../../platform/http/errors.js';
import { envelope, errorResponses, operation, optionalObjectBody } from '../../platform/http/schemas.js';

const DOMAIN_ID = '019a83de-4b22-7d3f-8e51-7a2f3c4d5e6f';
const time = z.string().nullable();

const dnsRecord = z.object({
  type: z.enum(['TXT', 'MX']),
  name: z.string(),
  value: z.string(),
  priority: z.number(),
  purpose: z.string().describe('spf, dkim, dmarc, mail_from_mx, mail_from_spf, dkim_rotation or dkim_retiring'),
  required: z.boolean(),
  status: z.string().describe('pending, verified, failed, temporary_failure or retiring'),
  found: z.array(z.string()).nullable().describe('What the last check saw in DNS'),
  reason: z.string().nullable(),
  checked_at: time,
  delete_after: z.string().optional().describe('A retiring key: when its record may be deleted'),
  description: z.string(),
});

const domainFields = {
  id: z.string(),
  domain: z.string().describe('The name in A-label (ASCII) form'),
  domain_unicode: z.string().optional().describe('The name in Unicode, for an internationalised name'),
  verification_status: z.string().describe('pending, verified or failed'),
  mail_from_status: z.string(),
  mail_from_domain: z.string(),
  region: z.string(),
  verified_at: time,
  mail_from_verified_at: time,
  last_checked_at: time,
  created_at: time,
  dkim: z.object({ selector: z.string().nullable(), pending_selector: z.string().nullable(), algorithm: z.string(), key_bits: z.number() }),
  dns_records: z.array(dnsRecord),
  registrar: z.null(),
  registrar_name: z.null(),
  registrar_iana_id: z.null(),
  dns_provider: z.null(),
  registrar_last_checked_at: z.null(),
};
const domain = z.object(domainFields);

/** The last check of each record, keyed by purpose (the spec's `checks: {}`). */
const checks = z.record(z.string(), z.record(z.string(), z.unknown())).describe('The last check of each record, by purpose');
const event = z.object({ type: z.string(), at: z.string(), detail: z.record(z.string(), z.unknown()) });

const exampleDomain = {
  id: DOMAIN_ID,
  domain: 'mail.example.com',
  verification_status: 'pending',
  mail_from_status: 'pending',
  mail_from_domain: 'bounces.mail.example.com',
  region: 'us-east-1',
  verified_at: null,
  mail_from_verified_at: null,
  last_checked_at: null,
  created_at: '2026-01-05T10:00:00.000Z',
  dkim: { selector: 'keplars', pending_selector: null, algorithm: 'rsa-sha256', key_bits: 2048 },
  dns_records: [
    {
      type: 'TXT',
      name: 'keplars._domainkey.mail.example.com',
      value: 'v=DKIM1; k=rsa; p=MIIBIjANBgkq…',
      priority: 0,
      purpose: 'dkim',
      required: true,
      status: 'pending',
      found: null,
      reason: null,
      checked_at: null,
      description: 'DKIM: the public key receivers use to check the signature',
    },
  ],
  registrar: null,
  registrar_name: null,
  registrar_iana_id: null,
  dns_provider: null,
  registrar_last_checked_at: null,
};

/** Clients put the domain id in the path, the query or the body; each form is declared here. */
const idFields = {
  id: z.string().optional().describe('The domain id (or name), for clients that do not put it in the path'),
  domain_id: z.string().optional().describe('Alias of `id`'),
  domainId: z.string().optional().describe('Alias of `id`'),
};
export const domainIdQuery = z.object(idFields);
export const domainIdBody = optionalObjectBody(idFields, [{ domain_id: DOMAIN_ID }]);
const domainIdPath = z.object({ id: z.string().meta({ description: 'The domain id (or its name)', examples: [DOMAIN_ID] }) });

type IdSource = { id?: string | undefined; domain_id?: string | undefined; domainId?: string | undefined };

/** The domain id from the path, or (clients that put it elsewhere) from the query or the JSON body. */
export function pickDomainId(params: { id?: string | undefined }, query: IdSource, body: IdSource): string {
  for (const v of [params.id, query.id, query.domain_id, query.domainId, body.id, body.domain_id, body.domainId]) {
    if (typeof v === 'string' && v.trim() !== '') return v.trim();
  }
  throw new ApiError('VALIDATION_ERROR', 'The domain id is required (in the path, e.g. /domain-status/{id})');
}

const DOMAIN_ERRORS = errorResponses({ key: true, extra: [404] });

export const addDomainSchema = {
  ...operation({ summary: 'Add a domain', description: 'Registers a custom sending domain and answers the DNS records to publish; then call verify-domain.', tag: 'Domains' }),
  body: optionalObjectBody({
    domain: z.string().optional().describe('The domain name, e.g. mail.example.com (also accepted as `domain_name` or `name`)'),
    domain_name: z.string().optional().describe('Alias of `domain`'),
    name: z.string().optional().describe('Alias of `domain`'),
    region: z.string().nullable().optional().describe('Where the domain sends from (default us-east-1)'),
  }, [{ domain: 'mail.example.com', region: 'us-east-1' }]).transform((b) => ({ domain: b.domain ?? b.domain_name ?? b.name, region: b.region })),
  response: {
    200: envelope(domain).meta({ examples: [{ success: true, message: 'Domain added: publish the DNS records in data.dns_records, then call verify-domain', data: exampleDomain }] }),
    ...errorResponses({ key: true, extra: [404, 409] }),
  },
};

export const listDomainsSchema = {
  ...operation({ summary: 'List domains', description: 'Every custom domain of the workspace with its DNS records and their state.', tag: 'Domains' }),
  response: {
    200: envelope(z.array(domain)).meta({ examples: [{ success: true, message: 'Domains retrieved', data: [exampleDomain] }] }),
    ...errorResponses({ key: true }),
  },
};

const statusExample = { ...exampleDomain, checks: {}, events: [{ type: 'domain.created', at: '2026-01-05T10:00:00.000Z', detail: { region: 'us-east-1' } }] };

export const domainStatusSchema = (inPath: boolean) => ({
  ...operation({
    summary: inPath ? 'Get a domain' : 'Get a domain (id in the query)',
    description: 'The current verification state of a domain, its records, their last checks and its events. DOCS-EXAMPLES polls `data.verification_status` until it is `verified`.',
    tag: 'Domains',
    ...(inPath ? {} : { aliasOf: 'GET /api/v1/public/domains/domain-status/{id}', extension: true }),
  }),
  ...(inPath ? { params: domainIdPath } : { querystring: domainIdQuery.extend({ id: idFields.id.meta({ examples: [DOMAIN_ID] }) }) }),
  response: {
    200: envelope(z.object({ ...domainFields, checks, events: z.array(event) })).meta({ examples: [{ success: true, message: 'Domain status retrieved', data: statusExample }] }),
    ...DOMAIN_ERRORS,
  },
});

export const verifyDomainSchema = (inPath: boolean) => ({
  ...operation({
    summary: inPath ? 'Verify a domain' : 'Verify a domain (id in the query or body)',
    description: 'Checks the DNS records now and answers what was found; the server also re-checks in the background.',
    tag: 'Domains',
    ...(inPath ? {} : { aliasOf: 'POST /api/v1/public/domains/verify-domain/{id}', extension: true }),
  }),
  ...(inPath ? { params: domainIdPath } : { querystring: domainIdQuery }),
  body: inPath ? optionalObjectBody({}, [{}]) : domainIdBody,
  response: {
    200: envelope(z.object({ ...domainFields, status: z.string(), message: z.string(), checks })).meta({
      examples: [{ success: true, message: 'Domain not verified yet: dkim: not checked', data: { ...exampleDomain, status: 'pending', message: 'Domain not verified yet: dkim: not checked', checks: {} } }],
    }),
    ...DOMAIN_ERRORS,
  },
});

export const deleteDomainSchema = (inPath: boolean) => ({
  ...operation({
    summary: inPath ? 'Delete a domain' : 'Delete a domain (id in the query)',
    description: 'Irreversible: the DKIM keys are destroyed and the sending keys tied to the domain stop working.',
    tag: 'Domains',
    ...(inPath ? {} : { aliasOf: 'DELETE /api/v1/public/domains/delete-domain/{id}', extension: true }),
  }),
  ...(inPath ? { params: domainIdPath } : { querystring: domainIdQuery.extend({ id: idFields.id.meta({ examples: [DOMAIN_ID] }) }), body: domainIdBody }),
  response: {
    200: envelope(z.object({ id: z.string(), domain: z.string(), deleted: z.literal(true), revoked_keys: z.number() })).meta({
      examples: [{ success: true, message: 'Domain deleted', data: { id: DOMAIN_ID, domain: 'mail.example.com', deleted: true, revoked_keys: 1 } }],
    }),
    ...DOMAIN_ERRORS,
  },
});

export const rotateDkimSchema = {
  ...operation({
    summary: 'Rotate the DKIM key',
    description: 'Creates a new DKIM key: publish its record (purpose `dkim_rotation`); signing switches to it once it is seen in DNS, and the old record is listed as retiring.',
    tag: 'Domains',
    extension: true,
  }),
  params: domainIdPath,
  response: {
    200: envelope(domain).meta({ examples: [{ success: true, message: 'New DKIM key created', data: { ...exampleDomain, verification_status: 'verified' } }] }),
    ...errorResponses({ key: true, extra: [404, 409] }),
  },
};

/** `expires_at` (or `expiresAt`): ISO 8601 or Unix seconds, in the future. */
function parseExpiry(value: string | number | null | undefined): Date | null {
  if (value === undefined || value === null || value === '') return null;
  const at = new Date(typeof value === 'number' ? value * 1000 : value);
  if (Number.isNaN(at.getTime())) throw new ApiError('VALIDATION_ERROR', "Field 'expires_at' must be an ISO 8601 time, e.g. 2027-01-01T00:00:00Z");
  if (at.getTime() <= Date.now()) throw new ApiError('VALIDATION_ERROR', "Field 'expires_at' must be in the future");
  return at;
}

const blankIsAbsent = (v: string | null | undefined): string | undefined => (v === null || v === '' ? undefined : v);
const optionalText = z.string().nullable().optional();
const expiry = z.union([z.string(), z.number()]).nullable().optional();

export const createKeySchema = {
  ...operation({
    summary: 'Create a sending key for a domain',
    description: 'Mints a regular (sending) key tied to a verified custom domain: it sends only from that domain and sees only its emails. The secret is shown once.',
    tag: 'Keys',
  }),
  body: optionalObjectBody({
    custom_domain_id: optionalText.describe('The verified domain the key is for (also accepted as `domain_id` or `domainId`)'),
    domain_id: optionalText.describe('Alias of `custom_domain_id`'),
    domainId: optionalText.describe('Alias of `custom_domain_id`'),
    name: z.string().max(200).nullable().optional(),
    expires_at: expiry.describe('When the key stops working: ISO 8601 or Unix seconds (also accepted as `expiresAt`)'),
    expiresAt: expiry.describe('Alias of `expires_at`'),
  }, [{ custom_domain_id: DOMAIN_ID, name: 'Production' }]).transform((b) => {
      const domainId = blankIsAbsent(b.custom_domain_id) ?? blankIsAbsent(b.domain_id) ?? blankIsAbsent(b.domainId);
      if (!domainId) throw new ApiError('VALIDATION_ERROR', "Field 'custom_domain_id' (or 'domain_id') is required");
      const name = blankIsAbsent(b.name);
      return { domainId, ...(name ? { name } : {}), expiresAt: parseExpiry(b.expires_at ?? b.expiresAt) };
    }),
  response: {
    200: envelope(
      z.object({
        api_key: z.object({
          id: z.string(),
          key_id: z.string(),
          name: z.string(),
          is_active: z.boolean(),
          expires_at: z.string().nullable(),
          created_at: z.string(),
          domain_id: z.string(),
          domain: z.string(),
        }),
        secret_key: z.string().describe('kms_<id>.live_<secret>: shown only once'),
      }),
    ).meta({
      examples: [
        {
          success: true,
          message: 'API key created: the secret key is shown only once',
          data: {
            api_key: { id: '019a83de-5c33-7e40-9f62-8b3d4e5f6a7b', key_id: 'kms_3f2a9c1d', name: 'Production', is_active: true, expires_at: null, created_at: '2026-01-05T10:00:00.000Z', domain_id: DOMAIN_ID, domain: 'mail.example.com' },
            secret_key: 'kms_3f2a9c1d.live_…',
          },
        },
      ],
    }),
    ...errorResponses({ key: true, extra: [404] }),
  },
};
