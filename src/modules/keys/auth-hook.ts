import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../../config/config.js';
import { ApiError } from '../../platform/http/errors.js';
import type { RateDecision, RateLimiter } from '../../platform/http/rate-limiter.js';
import type { AdminScope } from './key-format.js';
import type { AuthenticatedKey, KeyService } from './service.js';

/**
 * What a sending key tied to a custom domain may do on a route that regular keys reach: everything (`all`),
 * only what concerns its own domain's emails (`own-domain`: the handler narrows what it reads with
 * `emailVisibility`), or nothing (`refused`: 403 FORBIDDEN).
 */
export type DomainKeyAccess = 'all' | 'own-domain' | 'refused';

/**
 * A route's access rule. `scope` is what an admin key needs (on `any` routes regular keys need none); every
 * route that regular keys reach says what a domain-tied key may do there, so nobody forgets to decide.
 */
export type RouteAuth =
  | { key: 'admin'; scope?: AdminScope }
  | { key: 'regular' | 'any'; scope?: AdminScope; domainKey: DomainKeyAccess };

declare module 'fastify' {
  interface FastifyContextConfig {
    auth?: RouteAuth;
    /**
     * A public route (no `auth`) that the per-client limit for unauthenticated requests does not apply to: the
     * tracking pixel and links, which many readers behind one address fetch (modules/tracking/routes.ts).
     */
    unthrottled?: boolean;
  }
  interface FastifyRequest {
    apiKey: AuthenticatedKey | null;
  }
}

function setRateHeaders(reply: FastifyReply, d: RateDecision): void {
  reply.header('X-RateLimit-Limit', String(d.limit));
  reply.header('X-RateLimit-Remaining', String(d.remaining));
  reply.header('X-RateLimit-Reset', String(d.reset));
}

function rateLimited(d: RateDecision, what: string): ApiError {
  return new ApiError('RATE_LIMITED', `Too many requests: ${what} allows ${d.limit} per second`, { headers: { 'Retry-After': String(d.retryAfterSeconds) } });
}

function bearer(request: FastifyRequest): string | null {
  const header = request.headers.authorization;
  if (!header) return null;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m ? m[1]! : null;
}

/**
 * Resolves the key and enforces what each route declares in `config.auth`, so access rules live next to
 * each route and a matrix test can walk them all. Every response carries the rate-limit headers.
 */
export function registerAuth(app: FastifyInstance, deps: { keys: KeyService; limiter: RateLimiter; config: Pick<Config, 'plans' | 'unauthenticatedRequestsPerSecond'> }): void {
  app.decorateRequest('apiKey', null);
  app.addHook('onRequest', async (request, reply) => {
    const auth = request.routeOptions.config.auth;
    const token = auth ? bearer(request) : null;
    const key = token ? await deps.keys.authenticate(token) : null;
    if (!key) {
      if (!auth && request.routeOptions.config.unthrottled) return;
      const d = deps.limiter.check(`ip:${request.ip}`, deps.config.unauthenticatedRequestsPerSecond);
      setRateHeaders(reply, d);
      if (!d.allowed) throw rateLimited(d, 'an unauthenticated client');
      if (!auth) return;
      throw new ApiError('UNAUTHORIZED', token ? 'Invalid, revoked or expired API key' : 'Missing API key: send Authorization: Bearer <key>');
    }
    const d = deps.limiter.check(`key:${key.id}`, deps.config.plans[key.plan].requestsPerSecond);
    setRateHeaders(reply, d);
    if (!d.allowed) throw rateLimited(d, `the ${key.plan} plan`);
    request.apiKey = key;
    if (auth!.key === 'regular' && key.kind !== 'regular') throw new ApiError('FORBIDDEN', 'This endpoint needs a regular API key (kms_….live_…)');
    if (auth!.key === 'admin' && key.kind !== 'admin') throw new ApiError('FORBIDDEN', 'This endpoint needs an admin API key (kms_….adm_…)');
    if (key.kind === 'admin' && auth!.scope && !key.scopes.includes(auth!.scope)) throw new ApiError('INSUFFICIENT_SCOPE', `This endpoint needs the '${auth!.scope}' scope`);
    if (key.domainId !== null && auth!.key !== 'admin' && auth!.domainKey === 'refused') {
      throw new ApiError('FORBIDDEN', 'A sending key tied to a custom domain may not use this endpoint; use a workspace sending key or an admin key');
    }
  });
}

/**
 * Whose emails a key may read: an admin key (with `emails:read`) and a workspace sending key see the whole
 * workspace, a key tied to a custom domain only the emails sent from that domain or its subdomains.
 */
export interface EmailVisibility {
  workspaceId: string;
  /** A-label form; null = every sender of the workspace */
  senderDomain: string | null;
}

export function emailVisibility(key: AuthenticatedKey): EmailVisibility {
  if (key.domainId === null) return { workspaceId: key.workspaceId, senderDomain: null };
  // authentication refuses a key whose domain is gone, so a tied key always knows its domain's name
  if (key.domainName === null) throw new ApiError('UNAUTHORIZED', 'The domain this key was made for has been deleted');
  return { workspaceId: key.workspaceId, senderDomain: key.domainName };
}

/** The authenticated key of a route that declared `config.auth`. */
export function requireKey(request: FastifyRequest): AuthenticatedKey {
  if (!request.apiKey) throw new ApiError('UNAUTHORIZED');
  return request.apiKey;
}
