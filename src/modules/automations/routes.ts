import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { requireKey, type RouteAuth } from '../keys/index.js';
import { createSchema, deleteSchema, enrollmentsSchema, getSchema, listSchema, TRANSITION_NAMES, transitionSchema, transitionTarget, updateSchema } from './schemas.js';
import type { AutomationService } from './service.js';
import { automationDetailView, enrollmentView } from './views.js';

const BASE = '/api/v1/automations';
const read = { auth: { key: 'admin', scope: 'automations:read' } satisfies RouteAuth };
const write = { auth: { key: 'admin', scope: 'automations:write' } satisfies RouteAuth };

/** Creating and managing automations: an extension (spec §6 has no way to create one; README, "Automations"). */
export function registerAutomationRoutes(app: FastifyInstance, automations: AutomationService): void {
  const api = app.withTypeProvider<ZodTypeProvider>();

  api.post(BASE, { config: write, schema: createSchema }, async (request) => {
    const b = request.body;
    const created = await automations.create(requireKey(request).workspaceId, { name: b.name, description: b.description ?? null, trigger: b.trigger, steps: b.steps });
    return { success: true, message: 'Automation created', data: automationDetailView(created) };
  });

  api.get(BASE, { config: read, schema: listSchema }, async (request) => {
    const q = request.query;
    const page = await automations.list(requireKey(request).workspaceId, { limit: q.limit, ...(q.cursor ? { cursor: q.cursor } : {}), ...(q.status ? { status: q.status } : {}) });
    return { success: true, message: 'Automations retrieved', data: { automations: page.automations.map(automationDetailView), next_cursor: page.next_cursor, has_more: page.has_more } };
  });

  api.get(`${BASE}/:id`, { config: read, schema: getSchema }, async (request) => {
    return { success: true, message: 'Automation retrieved', data: automationDetailView(await automations.get(requireKey(request).workspaceId, request.params.id)) };
  });

  api.patch(`${BASE}/:id`, { config: write, schema: updateSchema }, async (request) => {
    const b = request.body;
    const updated = await automations.update(requireKey(request).workspaceId, request.params.id, {
      ...(b.name !== undefined ? { name: b.name } : {}),
      ...(b.description !== undefined ? { description: b.description } : {}),
      ...(b.trigger !== undefined ? { trigger: b.trigger } : {}),
      ...(b.steps !== undefined ? { steps: b.steps } : {}),
    });
    return { success: true, message: 'Automation updated', data: automationDetailView(updated) };
  });

  for (const t of TRANSITION_NAMES) {
    api.post(`${BASE}/:id/${t}`, { config: write, schema: transitionSchema(t) }, async (request) => {
      const changed = await automations.transition(requireKey(request).workspaceId, request.params.id, transitionTarget(t));
      return { success: true, message: `Automation ${changed.status}`, data: automationDetailView(changed) };
    });
  }

  api.delete(`${BASE}/:id`, { config: write, schema: deleteSchema }, async (request) => {
    const deleted = await automations.delete(requireKey(request).workspaceId, request.params.id);
    return { success: true, message: 'Automation deleted', data: { id: deleted.id, deleted: true as const, ended_enrollments: deleted.ended_enrollments } };
  });

  api.get(`${BASE}/:id/enrollments`, { config: read, schema: enrollmentsSchema }, async (request) => {
    const q = request.query;
    const page = await automations.enrollments(requireKey(request).workspaceId, request.params.id, { limit: q.limit, ...(q.cursor ? { cursor: q.cursor } : {}), ...(q.status ? { status: q.status } : {}) });
    return { success: true, message: 'Enrollments retrieved', data: { enrollments: page.enrollments.map(enrollmentView), next_cursor: page.next_cursor, has_more: page.has_more } };
  });
}
