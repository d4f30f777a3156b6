import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { requireKey, type RouteAuth } from '../keys/index.js';
import type { TemplateService } from './service.js';
import { deleteTemplateSchema, getTemplateSchema, listTemplatesSchema, renderTemplateSchema, saveTemplateSchema, updateTemplateSchema } from './schemas.js';

// templates belong to the workspace: any sending key may read and use them, a domain-tied one may not change them
const read = { config: { auth: { key: 'any', scope: 'templates:manage', domainKey: 'all' } satisfies RouteAuth } };
const change = { config: { auth: { key: 'any', scope: 'templates:manage', domainKey: 'refused' } satisfies RouteAuth } };

/** `/api/v1/templates` and `/save` are the Keplars API; get, update, delete and render are our extensions. */
export function registerTemplateRoutes(app: FastifyInstance, templates: TemplateService): void {
  const api = app.withTypeProvider<ZodTypeProvider>();
  api.get('/api/v1/templates', { ...read, schema: listTemplatesSchema }, async (request) => {
    const list = await templates.list(requireKey(request).workspaceId);
    return { success: true, message: 'Templates retrieved', data: list, templates: list };
  });

  api.post('/api/v1/templates/save', { ...change, schema: saveTemplateSchema }, async (request) => {
    const saved = await templates.save(requireKey(request).workspaceId, request.body);
    return { success: true, message: 'Template saved', data: saved };
  });

  api.get('/api/v1/templates/:id', { ...read, schema: getTemplateSchema }, async (request) => {
    const t = await templates.get(requireKey(request).workspaceId, request.params.id);
    return { success: true, message: 'Template retrieved', data: t };
  });

  for (const method of ['PUT', 'PATCH'] as const) {
    api.route({
      method,
      url: '/api/v1/templates/:id',
      ...change,
      schema: updateTemplateSchema(method),
      handler: async (request) => {
        const t = await templates.update(requireKey(request).workspaceId, request.params.id, request.body);
        return { success: true, message: 'Template updated', data: t };
      },
    });
  }

  api.delete('/api/v1/templates/:id', { ...change, schema: deleteTemplateSchema }, async (request) => {
    const id = request.params.id;
    await templates.delete(requireKey(request).workspaceId, id);
    return { success: true, message: 'Template deleted', data: { id, deleted: true as const } };
  });

  api.post('/api/v1/templates/:id/render', { ...read, schema: renderTemplateSchema }, async (request) => {
    const { params, version } = request.body;
    const r = await templates.preview(requireKey(request).workspaceId, request.params.id, params, version);
    return { success: true, message: 'Template rendered', data: { template_id: r.templateId, version: r.version, subject: r.subject, html: r.html, text: r.text } };
  });
}
