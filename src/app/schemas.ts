import { z } from 'zod';
import { envelope, errorResponses, operation } from '../platform/http/schemas.js';

const databaseKind = z.enum(['pglite', 'postgres']).describe('pglite: the embedded database');

export const healthSchema = {
  ...operation({
    summary: 'Liveness',
    description: 'Answers 200 while the process serves, with the last known state of the database from the background probe (never a query of its own, so it cannot hang).',
    tag: 'Operations',
    extension: true,
  }),
  response: {
    200: z
      .object({
        success: z.boolean(),
        status: z.literal('ok'),
        database: databaseKind,
        database_state: z.enum(['up', 'down', 'unknown']),
        database_state_since: z.string().nullable(),
      })
      .meta({ examples: [{ success: true, status: 'ok', database: 'postgres', database_state: 'up', database_state_since: null }] }),
    ...errorResponses({ key: false }),
  },
};

export const readySchema = {
  ...operation({
    summary: 'Readiness',
    description: 'Answers 503 while the database is unreachable, so a load balancer sends traffic elsewhere; the embedded database is always ready.',
    tag: 'Operations',
    extension: true,
  }),
  response: {
    200: z.object({ success: z.boolean(), status: z.literal('ready'), database: databaseKind }).meta({ examples: [{ success: true, status: 'ready', database: 'pglite' }] }),
    ...errorResponses({ key: false }),
  },
};

export const verifyKeySchema = {
  ...operation({ summary: 'Verify an API key', description: 'Says whether the key is valid and what it is: its type, workspace, scopes and the custom domain it is tied to.', tag: 'Keys' }),
  response: {
    200: envelope(
      z.object({
        key_type: z.enum(['regular', 'admin']),
        workspace_id: z.string(),
        scopes: z.array(z.string()).describe("An admin key's scopes; empty for a sending key"),
        domain: z.string().nullable().describe('The custom domain a sending key is tied to, else null'),
      }),
    ).meta({
      examples: [{ success: true, message: 'API key is valid', data: { key_type: 'regular', workspace_id: '019a83de-0000-7000-8000-000000000001', scopes: [], domain: null } }],
    }),
    ...errorResponses({ key: true }),
  },
};
