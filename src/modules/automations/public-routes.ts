import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { ApiError } from '../../platform/http/errors.js';
import { requireKey, type RouteAuth } from '../keys/index.js';
import { isValidEmail } from '../sending/index.js';
import { enrollSchema, getAllSchema, getAutomationSchema, trackSchema, unenrollSchema } from './schemas.js';
import type { AutomationService } from './service.js';
import { automationItemView, pageView } from './views.js';

const BASE = '/api/v1/public/automations';

// admin keys only (spec §6): a sending key gets 403 FORBIDDEN, an admin key without the scope 403 INSUFFICIENT_SCOPE
const read = { auth: { key: 'admin', scope: 'automations:read' } satisfies RouteAuth };
const write = { auth: { key: 'admin', scope: 'automations:write' } satisfies RouteAuth };
const trigger = { auth: { key: 'admin', scope: 'automations:trigger' } satisfies RouteAuth };

/** The first address given and not blank: the body's (PHP sends DELETE with a JSON body), else the query's. */
function addressOf(...values: (string | undefined)[]): string {
  const email = values.find((v) => typeof v === 'string' && v.trim() !== '')?.trim();
  if (email === undefined) throw new ApiError('VALIDATION_ERROR', "Field 'email' is required");
  if (!isValidEmail(email)) throw new ApiError('VALIDATION_ERROR', `Field 'email' has an invalid email address: ${JSON.stringify(email.slice(0, 100))}`);
  return email;
}

/** The Automations API of spec §6 and decisions §5. */
export function registerPublicAutomationRoutes(app: FastifyInstance, automations: AutomationService): void {
  const api = app.withTypeProvider<ZodTypeProvider>();

  api.get(`${BASE}/get-all`, { config: read, schema: getAllSchema }, async (request) => {
    const q = request.query;
    const found = await automations.page(requireKey(request).workspaceId, { page: q.page, limit: q.limit, ...(q.status ? { status: q.status } : {}) });
    return { success: true, message: 'Automations retrieved', data: { automations: found.automations.map(automationItemView), ...pageView(q.page, q.limit, found.total) } };
  });

  api.get(`${BASE}/get-automation/:id`, { config: read, schema: getAutomationSchema }, async (request) => {
    return { success: true, message: 'Success', data: automationItemView(await automations.getLive(requireKey(request).workspaceId, request.params.id)) };
  });

  api.post(`${BASE}/add-automation/:id/enroll`, { config: write, schema: enrollSchema }, async (request) => {
    const outcome = await automations.enroll(requireKey(request).workspaceId, request.params.id, request.body.email);
    const data = { automation_id: request.params.id, contact_id: outcome.contact.id, email: outcome.contact.email, enrolled: outcome.enrolled };
    // `Success` as spec §6 answers; whether anything changed is in data
    return { success: true, message: 'Success', data };
  });

  api.delete(`${BASE}/delete-automation/:id/subscribers`, { config: write, schema: unenrollSchema }, async (request) => {
    const email = addressOf(request.body.email, request.query.email?.replace(/ /g, '+'));
    const outcome = await automations.unenroll(requireKey(request).workspaceId, request.params.id, email);
    const data = { automation_id: request.params.id, contact_id: outcome.contact.id, email: outcome.contact.email, unenrolled: outcome.unenrolled };
    return { success: true, message: 'Success', data };
  });

  api.post(`${BASE}/events/track`, { config: trigger, schema: trackSchema }, async (request) => {
    const b = request.body;
    const eventName = b.event_name ?? b.eventName;
    if (eventName === undefined) throw new ApiError('VALIDATION_ERROR', "Field 'event_name' is required");
    const tracked = await automations.track(requireKey(request).workspaceId, { email: b.email, eventName, properties: b.properties ?? {} });
    return { success: true, message: 'Event tracked', data: { event_id: tracked.event_id, enrolled: tracked.enrolled } };
  });
}
