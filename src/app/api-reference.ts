import { readFileSync } from 'node:fs';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { jsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { RouteAuth } from '../modules/keys/index.js';
import { errorResponses, operation } from '../platform/http/schemas.js';

const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

export const OPENAPI_PATH = '/api/v1/openapi.json';
export const DOCS_PATH = '/docs';

/** The two key types of the Keplars API (spec §1.2): both sent as `Authorization: Bearer <key>`. */
const SECURITY_SCHEMES = {
  adminKey: {
    type: 'http',
    scheme: 'bearer',
    description: 'An admin key (`kms_<id>.adm_<secret>`), carrying scopes; manages domains, keys, templates, contacts and audiences and reads emails.',
  },
  sendingKey: {
    type: 'http',
    scheme: 'bearer',
    description:
      'A regular (sending) key (`kms_<id>.live_<secret>`): sends email and reads what it sent. A key tied to a custom domain sends only from that domain and sees only its emails.',
  },
} as const;

const DOMAIN_KEY_WORDS: Record<string, string> = {
  all: 'a key tied to a custom domain may use it',
  'own-domain': "a key tied to a custom domain sees and acts on its own domain's emails only",
  refused: 'a key tied to a custom domain is refused (403 FORBIDDEN)',
};

/**
 * What the document says about a route's access, derived from its `config.auth` (the rule the auth hook
 * enforces), so the reference can never disagree with the server.
 */
export function accessOf(auth: RouteAuth | undefined): { security: Record<string, string[]>[]; scope: string | null; words: string } {
  if (!auth) return { security: [], scope: null, words: 'Public: no key.' };
  const scope = auth.scope ?? null;
  const admin = scope ? `an admin key with the \`${scope}\` scope` : 'an admin key';
  if (auth.key === 'admin') return { security: [{ adminKey: [] }], scope, words: `Needs ${admin}.` };
  const domain = DOMAIN_KEY_WORDS[auth.domainKey] ?? '';
  if (auth.key === 'regular') return { security: [{ sendingKey: [] }], scope: null, words: `Needs a sending (regular) key; ${domain}.` };
  return { security: [{ sendingKey: [] }, { adminKey: [] }], scope, words: `Needs a sending (regular) key or ${admin}; ${domain}.` };
}

/** The document itself is free-form JSON (declared open, so every part of it is written out). */
const openapiDocumentSchema = {
  ...operation({ summary: 'This API reference', description: 'The OpenAPI 3.1 document of this server, generated from the route schemas; `GET /docs` renders it.', tag: 'Operations', extension: true }),
  response: {
    200: z
      .looseObject({ openapi: z.string(), info: z.looseObject({ title: z.string(), version: z.string() }), paths: z.record(z.string(), z.unknown()) })
      .meta({ examples: [{ openapi: '3.1.0', info: { title: 'keplars-server API', version: VERSION }, paths: {} }] }),
    ...errorResponses({ key: false }),
  },
};

type TransformInput = Parameters<typeof jsonSchemaTransform>[0];

/** The type provider's transform, with each operation's security and scope added from the route's auth rule. */
function transform(input: TransformInput): ReturnType<typeof jsonSchemaTransform> {
  const schema = (input.schema ?? {}) as Record<string, unknown>;
  if (schema.hide) return jsonSchemaTransform(input);
  const auth = (input.route.config as { auth?: RouteAuth } | undefined)?.auth;
  const access = accessOf(auth);
  const description = [schema.description, `**Access:** ${access.words}`].filter(Boolean).join('\n\n');
  const withAccess = { ...schema, description, security: access.security, ...(access.scope ? { 'x-keplars-scope': access.scope } : {}) };
  return jsonSchemaTransform({ ...input, schema: withAccess as typeof input.schema });
}

/** The document as served: the server's own public URL, known only once it listens. */
const withServer = (publicUrl: () => string) => (document: Record<string, unknown>) => ({
  ...document,
  servers: [{ url: publicUrl(), description: 'This server' }],
});

/**
 * The OpenAPI 3.1 document generated from the route schemas (GET /api/v1/openapi.json) and the reference page
 * that renders it (GET /docs), every asset served from this server: nothing from a CDN, no validator badge.
 * Registered before the routes, whose declarations it collects.
 */
export function registerApiReference(app: FastifyInstance, opts: { publicUrl: () => string }): void {
  void app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'keplars-server API',
        version: VERSION,
        description:
          'A self-hosted implementation of the Keplars email API. Operations marked `x-keplars-extension: true` are extensions this server adds to the Keplars API; ' +
          'deprecated operations are aliases kept for older clients. Each operation names the key it needs (`security`) and, for admin keys, the scope (`x-keplars-scope`). ' +
          'Every error answers the `ErrorEnvelope` schema.',
        license: { name: 'MIT', identifier: 'MIT' },
      },
      components: { securitySchemes: SECURITY_SCHEMES },
      tags: [
        { name: 'Sending', description: 'Send and schedule email' },
        { name: 'Emails', description: 'What was sent and what became of it' },
        { name: 'Captured', description: 'Messages kept by the capture transport (DELIVERY_MODE=capture)' },
        { name: 'Domains', description: 'Custom sending domains and their keys' },
        { name: 'Templates', description: 'Stored templates' },
        { name: 'Contacts', description: "The workspace's contacts and their audience memberships" },
        { name: 'Audiences', description: 'Lists of contacts, each with a hosted subscribe form' },
        { name: 'Automations', description: 'Triggers and graphs of steps that mail contacts over time' },
        { name: 'Suppressions', description: 'Addresses the workspace does not mail: bounces, complaints, unsubscribes, by hand' },
        { name: 'Keys', description: 'API keys' },
        { name: 'Hosted pages', description: 'Pages behind the links in emails' },
        { name: 'Operations', description: 'Health and readiness' },
      ],
    },
    transform,
    transformObject: jsonSchemaTransformObject,
  });
  const document = withServer(opts.publicUrl);
  void app.register(swaggerUi, {
    routePrefix: DOCS_PATH,
    // no validator badge: it would load an image from validator.swagger.io
    uiConfig: { deepLinking: true, validatorUrl: null },
    staticCSP:
      "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; connect-src 'self'; base-uri 'self'; form-action 'none'; frame-ancestors 'none'",
    transformSpecification: (spec) => document(spec as Record<string, unknown>),
    theme: { title: 'keplars-server API reference' },
  });
  void app.register(async (scope) => {
    scope.get(OPENAPI_PATH, { schema: openapiDocumentSchema }, async () => document(app.swagger() as unknown as Record<string, unknown>));
  });
}
