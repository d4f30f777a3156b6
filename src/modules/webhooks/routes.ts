import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { requireKey, type RouteAuth } from '../keys/index.js';
import type { WebhookService } from './service.js';
import {
  createWebhookSchema,
  deleteWebhookSchema,
  getWebhookSchema,
  listDeliveriesSchema,
  listWebhooksSchema,
  replayDeliverySchema,
  testWebhookSchema,
  updateWebhookSchema,
} from './schemas.js';

const BASE = '/api/v1/webhooks';
const manage = { config: { auth: { key: 'admin', scope: 'webhooks:manage' } satisfies RouteAuth } };

/** The webhooks API: an extension (spec §9 has webhooks configured only in the dashboard). */
export function registerWebhookRoutes(app: FastifyInstance, webhooks: WebhookService): void {
  const api = app.withTypeProvider<ZodTypeProvider>();
  api.post(BASE, { ...manage, schema: createWebhookSchema }, async (request) => {
    const b = request.body;
    const data = await webhooks.create(requireKey(request).workspaceId, {
      url: b.url,
      events: b.events,
      signature_scheme: b.signature_scheme,
      secret: b.secret,
      description: b.description,
    });
    return { success: true, message: 'Webhook created: the secret is shown only once', data };
  });

  api.get(BASE, { ...manage, schema: listWebhooksSchema }, async (request) => {
    return { success: true, message: 'Webhooks retrieved', data: await webhooks.list(requireKey(request).workspaceId) };
  });

  api.get(`${BASE}/:id`, { ...manage, schema: getWebhookSchema }, async (request) => {
    return { success: true, message: 'Webhook retrieved', data: await webhooks.get(requireKey(request).workspaceId, request.params.id) };
  });

  api.patch(`${BASE}/:id`, { ...manage, schema: updateWebhookSchema }, async (request) => {
    const b = request.body;
    const data = await webhooks.update(requireKey(request).workspaceId, request.params.id, {
      url: b.url,
      events: b.events,
      signature_scheme: b.signature_scheme,
      secret: b.secret,
      description: b.description,
      status: b.status,
    });
    return { success: true, message: 'Webhook updated', data };
  });

  api.delete(`${BASE}/:id`, { ...manage, schema: deleteWebhookSchema }, async (request) => {
    const id = request.params.id;
    await webhooks.delete(requireKey(request).workspaceId, id);
    return { success: true, message: 'Webhook deleted', data: { id, deleted: true as const } };
  });

  api.post(`${BASE}/:id/test`, { ...manage, schema: testWebhookSchema }, async (request) => {
    return { success: true, message: 'Test event sent', data: await webhooks.test(requireKey(request).workspaceId, request.params.id) };
  });

  api.get(`${BASE}/:id/deliveries`, { ...manage, schema: listDeliveriesSchema }, async (request) => {
    const data = await webhooks.deliveries(requireKey(request).workspaceId, request.params.id, { limit: request.query.limit, cursor: request.query.cursor });
    return { success: true, message: 'Deliveries retrieved', data };
  });

  api.post(`${BASE}/:id/deliveries/:delivery_id/replay`, { ...manage, schema: replayDeliverySchema }, async (request) => {
    return { success: true, message: 'Delivery queued again', data: await webhooks.replay(requireKey(request).workspaceId, request.params.id, request.params.delivery_id) };
  });
}
