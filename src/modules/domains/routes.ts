import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { requireKey } from '../keys/index.js';
import type { DomainService } from './service.js';
import {
  addDomainSchema,
  createKeySchema,
  deleteDomainSchema,
  domainStatusSchema,
  listDomainsSchema,
  pickDomainId,
  rotateDkimSchema,
  verifyDomainSchema,
} from './schemas.js';

const BASE = '/api/v1/public/domains';
const manage = { auth: { key: 'admin' as const, scope: 'domains:manage' as const } };
const createKeys = { auth: { key: 'admin' as const, scope: 'api-keys:create' as const } };

/** The Domains API (§7) plus the rotate-dkim extension. Every path also takes its id from query or body. */
export function registerDomainRoutes(app: FastifyInstance, domains: DomainService): void {
  const api = app.withTypeProvider<ZodTypeProvider>();
  api.post(`${BASE}/add-domain`, { config: manage, schema: addDomainSchema }, async (request) => {
    const data = await domains.add(requireKey(request).workspaceId, request.body);
    return { success: true, message: 'Domain added: publish the DNS records in data.dns_records, then call verify-domain', data };
  });

  api.get(`${BASE}/get-domains`, { config: manage, schema: listDomainsSchema }, async (request) => {
    return { success: true, message: 'Domains retrieved', data: await domains.list(requireKey(request).workspaceId) };
  });

  // every path also takes its id from the query (and, for verify and delete, the body): `…/:id` is the spec's form
  for (const inPath of [true, false]) {
    const at = (name: string) => `${BASE}/${name}${inPath ? '/:id' : ''}`;
    api.get(at('domain-status'), { config: manage, schema: domainStatusSchema(inPath) }, async (request) => {
      const id = pickDomainId(request.params as { id?: string }, (request.query ?? {}) as { id?: string }, {});
      return { success: true, message: 'Domain status retrieved', data: await domains.status(requireKey(request).workspaceId, id) };
    });
    api.post(at('verify-domain'), { config: manage, schema: verifyDomainSchema(inPath) }, async (request) => {
      const id = pickDomainId(request.params as { id?: string }, (request.query ?? {}) as { id?: string }, request.body);
      const data = await domains.verify(requireKey(request).workspaceId, id);
      return { success: true, message: data.message, data };
    });
    api.delete(at('delete-domain'), { config: manage, schema: deleteDomainSchema(inPath) }, async (request) => {
      const id = pickDomainId(request.params as { id?: string }, (request.query ?? {}) as { id?: string }, (request.body ?? {}) as { id?: string });
      return { success: true, message: 'Domain deleted', data: await domains.delete(requireKey(request).workspaceId, id) };
    });
  }

  api.post(`${BASE}/:id/rotate-dkim`, { config: manage, schema: rotateDkimSchema }, async (request) => {
    const { domain, started } = await domains.rotateDkim(requireKey(request).workspaceId, pickDomainId(request.params, {}, {}));
    const message = started
      ? `New DKIM key created: publish the record with purpose "dkim_rotation" (selector ${domain.dkim.pending_selector}); signing switches to it once it is seen in DNS`
      : `A rotation to selector ${domain.dkim.pending_selector} is already waiting for its DNS record`;
    return { success: true, message, data: domain };
  });

  api.post(`${BASE}/api-keys/create`, { config: createKeys, schema: createKeySchema }, async (request) => {
    const data = await domains.createSendingKey(requireKey(request).workspaceId, request.body);
    return { success: true, message: 'API key created: the secret key is shown only once', data };
  });
}
