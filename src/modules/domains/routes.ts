import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ApiError } from '../../platform/http/errors.js';
import { requireKey } from '../keys/index.js';
import type { DomainService } from './service.js';

const BASE = '/api/v1/public/domains';
const manage = { auth: { key: 'admin' as const, scope: 'domains:manage' as const } };
const createKeys = { auth: { key: 'admin' as const, scope: 'api-keys:create' as const } };

type Fields = Record<string, unknown>;
const fields = (value: unknown): Fields => (typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Fields) : {});

/** The domain id from the path, or (clients that put it elsewhere) from the query or the JSON body. */
function domainId(request: FastifyRequest): string {
  const params = fields(request.params);
  const query = fields(request.query);
  const body = fields(request.body);
  for (const v of [params.id, query.id, query.domain_id, query.domainId, body.id, body.domain_id, body.domainId]) {
    if (typeof v === 'string' && v.trim() !== '') return v.trim();
  }
  throw new ApiError('VALIDATION_ERROR', "The domain id is required (in the path, e.g. /domain-status/{id})");
}

function optionalString(body: Fields, name: string): string | undefined {
  const v = body[name];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') throw new ApiError('VALIDATION_ERROR', `Field '${name}' must be a string`);
  return v;
}

function parseExpiry(value: unknown): Date | null {
  if (value === undefined || value === null || value === '') return null;
  const at = typeof value === 'string' || typeof value === 'number' ? new Date(typeof value === 'number' ? value * 1000 : value) : new Date(Number.NaN);
  if (Number.isNaN(at.getTime())) throw new ApiError('VALIDATION_ERROR', "Field 'expires_at' must be an ISO 8601 time, e.g. 2027-01-01T00:00:00Z");
  if (at.getTime() <= Date.now()) throw new ApiError('VALIDATION_ERROR', "Field 'expires_at' must be in the future");
  return at;
}

/** The Domains API (§7) plus the rotate-dkim extension. Every path also takes its id from query or body. */
export function registerDomainRoutes(app: FastifyInstance, domains: DomainService): void {
  app.post(`${BASE}/add-domain`, { config: manage }, async (request) => {
    const body = fields(request.body);
    const data = await domains.add(requireKey(request).workspaceId, { domain: body.domain ?? body.domain_name ?? body.name, region: body.region });
    return { success: true, message: 'Domain added: publish the DNS records in data.dns_records, then call verify-domain', data };
  });

  app.get(`${BASE}/get-domains`, { config: manage }, async (request) => {
    return { success: true, message: 'Domains retrieved', data: await domains.list(requireKey(request).workspaceId) };
  });

  for (const path of [`${BASE}/domain-status/:id`, `${BASE}/domain-status`]) {
    app.get(path, { config: manage }, async (request) => {
      return { success: true, message: 'Domain status retrieved', data: await domains.status(requireKey(request).workspaceId, domainId(request)) };
    });
  }

  for (const path of [`${BASE}/verify-domain/:id`, `${BASE}/verify-domain`]) {
    app.post(path, { config: manage }, async (request) => {
      const data = await domains.verify(requireKey(request).workspaceId, domainId(request));
      return { success: true, message: data.message, data };
    });
  }

  for (const path of [`${BASE}/delete-domain/:id`, `${BASE}/delete-domain`]) {
    app.delete(path, { config: manage }, async (request) => {
      return { success: true, message: 'Domain deleted', data: await domains.delete(requireKey(request).workspaceId, domainId(request)) };
    });
  }

  app.post(`${BASE}/:id/rotate-dkim`, { config: manage }, async (request) => {
    const { domain, started } = await domains.rotateDkim(requireKey(request).workspaceId, domainId(request));
    const message = started
      ? `New DKIM key created: publish the record with purpose "dkim_rotation" (selector ${domain.dkim.pending_selector}); signing switches to it once it is seen in DNS`
      : `A rotation to selector ${domain.dkim.pending_selector} is already waiting for its DNS record`;
    return { success: true, message, data: domain };
  });

  app.post(`${BASE}/api-keys/create`, { config: createKeys }, async (request) => {
    const body = fields(request.body);
    const id = optionalString(body, 'custom_domain_id') ?? optionalString(body, 'domain_id') ?? optionalString(body, 'domainId');
    if (!id) throw new ApiError('VALIDATION_ERROR', "Field 'custom_domain_id' (or 'domain_id') is required");
    const name = optionalString(body, 'name');
    if (name !== undefined && name.length > 200) throw new ApiError('VALIDATION_ERROR', "Field 'name' must be at most 200 characters");
    const data = await domains.createSendingKey(requireKey(request).workspaceId, { domainId: id, ...(name ? { name } : {}), expiresAt: parseExpiry(body.expires_at ?? body.expiresAt) });
    return { success: true, message: 'API key created: the secret key is shown only once', data };
  });
}
