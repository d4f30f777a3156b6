import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ApiError } from '../../platform/http/errors.js';
import { requireKey, type RouteAuth } from '../keys/index.js';
import type { TemplateService } from './service.js';

type Body = Record<string, unknown>;
// templates belong to the workspace: any sending key may read and use them, a domain-tied one may not change them
const read = { config: { auth: { key: 'any', scope: 'templates:manage', domainKey: 'all' } satisfies RouteAuth } };
const change = { config: { auth: { key: 'any', scope: 'templates:manage', domainKey: 'refused' } satisfies RouteAuth } };

/** `/api/v1/templates` and `/save` are the Keplars API; get, update, delete and render are our extensions. */
export function registerTemplateRoutes(app: FastifyInstance, templates: TemplateService): void {
  app.get('/api/v1/templates', read, async (request) => {
    const list = await templates.list(requireKey(request).workspaceId);
    return { success: true, message: 'Templates retrieved', data: list, templates: list };
  });

  app.post('/api/v1/templates/save', change, async (request) => {
    const saved = await templates.save(requireKey(request).workspaceId, request.body as Body);
    return { success: true, message: 'Template saved', data: saved };
  });

  app.get('/api/v1/templates/:id', read, async (request) => {
    const t = await templates.get(requireKey(request).workspaceId, (request.params as { id: string }).id);
    return { success: true, message: 'Template retrieved', data: t };
  });

  const update = async (request: FastifyRequest) => {
    const t = await templates.update(requireKey(request).workspaceId, (request.params as { id: string }).id, request.body as Body);
    return { success: true, message: 'Template updated', data: t };
  };
  app.put('/api/v1/templates/:id', change, update);
  app.patch('/api/v1/templates/:id', change, update);

  app.delete('/api/v1/templates/:id', change, async (request) => {
    const id = (request.params as { id: string }).id;
    await templates.delete(requireKey(request).workspaceId, id);
    return { success: true, message: 'Template deleted', data: { id, deleted: true } };
  });

  app.post('/api/v1/templates/:id/render', read, async (request) => {
    const body = request.body as Body;
    const params = body.params ?? body.template_data ?? {};
    if (typeof params !== 'object' || params === null || Array.isArray(params)) throw new ApiError('VALIDATION_ERROR', "Field 'params' must be an object");
    const version = body.version === undefined ? undefined : Number(body.version);
    if (version !== undefined && !Number.isInteger(version)) throw new ApiError('VALIDATION_ERROR', "Field 'version' must be an integer");
    const r = await templates.preview(requireKey(request).workspaceId, (request.params as { id: string }).id, params as Record<string, unknown>, version);
    return { success: true, message: 'Template rendered', data: { template_id: r.templateId, version: r.version, subject: r.subject, html: r.html, text: r.text } };
  });
}
