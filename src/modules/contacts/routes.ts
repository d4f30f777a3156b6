import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { ApiError } from '../../platform/http/errors.js';
import { requireKey, type RouteAuth } from '../keys/index.js';
import type { AudienceService } from './audiences.js';
import type { z } from 'zod';
import {
  addAudienceSchema,
  type addContactBody,
  addContactSchema,
  audienceIdOf,
  deleteAudienceSchema,
  deleteContactSchema,
  getAudienceSchema,
  getContactSchema,
  given,
  listAudiencesSchema,
  listContactsSchema,
  type listContactsQuery,
  profileOf,
  restAddContactSchema,
  restDeleteContactSchema,
  restGetContactSchema,
  restListContactsSchema,
  restUpdateContactSchema,
  type updateContactBody,
  updateContactSchema,
} from './schemas.js';
import type { ContactSelector, ContactService } from './service.js';
import { audienceView, contactDetailView, contactListItemView, deletedContactView, pageView } from './views.js';

const CONTACTS = '/api/v1/public/contacts';
const AUDIENCES = '/api/v1/public/audiences';

// admin keys only (spec §4, §5): a sending key gets 403 FORBIDDEN, an admin key without the scope 403 INSUFFICIENT_SCOPE
const read = { auth: { key: 'admin', scope: 'contacts:read' } satisfies RouteAuth };
const write = { auth: { key: 'admin', scope: 'contacts:write' } satisfies RouteAuth };
const manage = { auth: { key: 'admin', scope: 'audiences:manage' } satisfies RouteAuth };

type Selector = { id?: string | null | undefined; email?: string | null | undefined };

/**
 * `?id=` or `?email=` (or, on DELETE, the same in a JSON body); `id` wins when both are given. A query string
 * decodes a raw `+` as a space, and no address holds a space: so a space in `email` is read back as the `+`
 * the client meant (ada+news@…), while `%2B` arrives as `+` already.
 */
function contactSelector(query: Selector, body: Selector = {}): ContactSelector {
  const id = given(query.id, body.id);
  if (id !== undefined) return { id };
  const fromQuery = given(query.email);
  if (fromQuery !== undefined) return { email: fromQuery.replace(/ /g, '+') };
  const fromBody = given(body.email);
  if (fromBody !== undefined) return { email: fromBody };
  throw new ApiError('VALIDATION_ERROR', "Query parameter 'id' or 'email' is required");
}

type AudienceSelector = { id?: string | null | undefined; audience_id?: string | null | undefined; audienceId?: string | null | undefined };

function audienceId(query: AudienceSelector, body: AudienceSelector = {}): string {
  const id = given(query.id, query.audience_id, query.audienceId, body.id, body.audience_id, body.audienceId);
  if (id === undefined) throw new ApiError('VALIDATION_ERROR', "Query parameter 'id' is required");
  return id;
}

type UpdateBody = z.output<typeof updateContactBody>;
type ListQuery = z.output<typeof listContactsQuery>;

/** A path's `{email}` (Elixir's `/contacts/{email}`): an address when it holds an @, else a contact id. */
const pathSelector = (value: string): ContactSelector => (value.includes('@') ? { email: value } : { id: value });

/** The Contacts (spec §4) and Audiences (spec §5) APIs, and the Elixir SDK's REST-style contact paths (§4.7). */
export function registerContactRoutes(app: FastifyInstance, contacts: ContactService, audiences: AudienceService): void {
  const api = app.withTypeProvider<ZodTypeProvider>();

  const list = async (workspaceId: string, q: ListQuery) => {
    const audience = given(q.audienceId, q.audience_id);
    const found = await contacts.list(workspaceId, {
      ...(audience !== undefined ? { audienceId: audience } : {}),
      page: q.page,
      limit: q.limit,
      sortBy: q.sortBy ?? q.sort_by ?? 'createdAt',
      sortDir: q.sortDir ?? q.sort_dir ?? 'asc',
      subscribedOnly: q.subscribedOnly ?? q.subscribed_only ?? false,
    });
    return { success: true, message: 'Contacts retrieved', data: { contacts: found.contacts.map(contactListItemView), ...pageView(q.page, q.limit, found.total) } };
  };

  const get = async (workspaceId: string, selector: ContactSelector) => {
    return { success: true, message: 'Contact retrieved', data: contactDetailView(await contacts.get(workspaceId, selector)) };
  };

  const add = async (workspaceId: string, b: z.output<typeof addContactBody>) => {
    const audience = audienceIdOf(b);
    const { contact, created } = await contacts.add(workspaceId, b.email, { profile: profileOf(b), ...(audience !== undefined ? { audienceId: audience } : {}) });
    const detail = await contacts.get(workspaceId, { id: contact.id });
    return { success: true, message: created ? 'Contact added' : 'Contact already existed: updated', data: { ...contactDetailView(detail), created } };
  };

  const update = async (workspaceId: string, selector: ContactSelector, b: UpdateBody) => {
    const audience = audienceIdOf(b);
    const updated = await contacts.update(workspaceId, selector, {
      profile: profileOf(b),
      ...(audience !== undefined ? { audienceId: audience } : {}),
      ...(b.email !== undefined ? { email: b.email } : {}),
      ...(b.status !== undefined ? { status: b.status } : {}),
      ...(b.subscription !== undefined ? { subscription: b.subscription } : {}),
    });
    const detail = await contacts.get(workspaceId, { id: updated.id });
    return { success: true, message: 'Contact updated', data: contactDetailView(detail) };
  };

  const remove = async (workspaceId: string, selector: ContactSelector) => {
    return { success: true, message: 'Contact deleted', data: deletedContactView(await contacts.delete(workspaceId, selector)) };
  };

  api.get(`${CONTACTS}/get-contacts`, { config: read, schema: listContactsSchema }, (request) => list(requireKey(request).workspaceId, request.query));
  api.get(`${CONTACTS}/get-contact`, { config: read, schema: getContactSchema }, (request) => get(requireKey(request).workspaceId, contactSelector(request.query)));
  api.post(`${CONTACTS}/add-contact`, { config: write, schema: addContactSchema }, (request) => add(requireKey(request).workspaceId, request.body));
  api.patch(`${CONTACTS}/update-contact`, { config: write, schema: updateContactSchema }, (request) =>
    update(requireKey(request).workspaceId, contactSelector(request.query), request.body),
  );
  api.delete(`${CONTACTS}/delete-contact`, { config: write, schema: deleteContactSchema }, (request) =>
    remove(requireKey(request).workspaceId, contactSelector(request.query, request.body)),
  );

  api.get('/contacts', { config: read, schema: restListContactsSchema }, (request) => list(requireKey(request).workspaceId, request.query));
  api.post('/contacts', { config: write, schema: restAddContactSchema }, (request) => add(requireKey(request).workspaceId, request.body));
  api.get('/contacts/:email', { config: read, schema: restGetContactSchema }, (request) => get(requireKey(request).workspaceId, pathSelector(request.params.email)));
  api.put('/contacts/:email', { config: write, schema: restUpdateContactSchema }, (request) =>
    update(requireKey(request).workspaceId, pathSelector(request.params.email), request.body),
  );
  api.delete('/contacts/:email', { config: write, schema: restDeleteContactSchema }, (request) => remove(requireKey(request).workspaceId, pathSelector(request.params.email)));

  api.get(`${AUDIENCES}/get-audiences`, { config: manage, schema: listAudiencesSchema }, async (request) => {
    const q = request.query;
    const list = await audiences.list(requireKey(request).workspaceId, { page: q.page, limit: q.limit, sortBy: q.sortBy ?? q.sort_by ?? 'createdAt', sortDir: q.sortDir ?? q.sort_dir ?? 'desc' });
    return { success: true, message: 'Audiences retrieved', data: { audiences: list.audiences.map(audienceView), ...pageView(q.page, q.limit, list.total) } };
  });

  api.get(`${AUDIENCES}/get-audience`, { config: manage, schema: getAudienceSchema }, async (request) => {
    const a = await audiences.get(requireKey(request).workspaceId, audienceId(request.query));
    return { success: true, message: 'Audience retrieved', data: audienceView(a) };
  });

  api.post(`${AUDIENCES}/add-audience`, { config: manage, schema: addAudienceSchema }, async (request) => {
    const b = request.body;
    const a = await audiences.create(requireKey(request).workspaceId, {
      name: b.name,
      description: given(b.description) ?? null,
      doubleOptIn: b.double_opt_in ?? b.doubleOptIn ?? false,
    });
    return { success: true, message: 'Audience created', data: audienceView(a) };
  });

  api.delete(`${AUDIENCES}/delete-audience`, { config: manage, schema: deleteAudienceSchema }, async (request) => {
    const id = audienceId(request.query, request.body);
    await audiences.delete(requireKey(request).workspaceId, id);
    return { success: true, message: 'Audience deleted', data: { id, deleted: true as const } };
  });
}
