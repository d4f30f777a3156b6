import { Transform } from 'node:stream';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import FindMyWay, { type HTTPMethod } from 'find-my-way';
import type { Logger } from '../logger.js';
import { ApiError, errorEnvelope } from './errors.js';
import { ByteBudget } from './byte-budget.js';
import { answerClientError } from './client-errors.js';
import { parseJsonBody } from './json-body.js';
import { fastifyTrustProxy, type TrustProxy } from './trust-proxy.js';
import { serviceUnavailable } from './service-unavailable.js';
import { zodSerializerCompiler, zodValidatorCompiler } from './zod-compilers.js';

export const DEFAULT_BODY_LIMIT = 1024 * 1024;

export interface RouteEntry {
  method: string;
  url: string;
  config: unknown;
}

/** Every route an app registered, with its config, so a test can walk all of them (auth matrix). */
const routeTables = new WeakMap<FastifyInstance, RouteEntry[]>();
export const listRoutes = (app: FastifyInstance): RouteEntry[] => routeTables.get(app) ?? [];

const METHODS: HTTPMethod[] = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH']);

/** Maps framework errors to our codes so every answer, even a parser failure, is the spec's envelope. */
function toApiError(err: FastifyError | ApiError | Error): ApiError {
  if (err instanceof ApiError) return err;
  const code = (err as FastifyError).code;
  switch (code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ApiError('PAYLOAD_TOO_LARGE');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' ? new ApiError('UNSUPPORTED_MEDIA_TYPE') : new ApiError('VALIDATION_ERROR', err.message);
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new ApiError('VALIDATION_ERROR', 'Malformed JSON body');
    case 'FST_ERR_VALIDATION':
      return new ApiError('VALIDATION_ERROR', err.message);
    case 'FST_ERR_BAD_URL':
      return new ApiError('VALIDATION_ERROR', 'Malformed URL: a path segment is not valid percent-encoded UTF-8');
    case 'FST_ERR_MAX_PARAM_LENGTH':
      // ids in paths are never refused for their form (README, Compatibility): one this long names nothing
      return new ApiError('NOT_FOUND', `No resource has an id longer than ${MAX_PARAM_LENGTH} characters`);
  }
  const status = (err as FastifyError).statusCode;
  if (status && status >= 400 && status < 500) return new ApiError('VALIDATION_ERROR', err.message);
  return new ApiError('INTERNAL_ERROR');
}

const MAX_PARAM_LENGTH = 500;

const sendError = (reply: FastifyReply, apiError: ApiError) => {
  for (const [k, v] of Object.entries(apiError.extra.headers ?? {})) reply.header(k, v);
  return reply.status(apiError.status).send(errorEnvelope(apiError));
};

/** Strings of a query or path parameter object: PostgreSQL cannot store NUL, so it is refused before any use. */
function refuseNul(values: unknown, what: string): void {
  if (values === null || typeof values !== 'object') return;
  for (const [name, value] of Object.entries(values)) {
    const strings: unknown[] = Array.isArray(value) ? value : [value];
    if (name.includes('\0') || strings.some((v) => typeof v === 'string' && v.includes('\0'))) {
      throw new ApiError('VALIDATION_ERROR', `${what} '${name.replaceAll('\0', '\\u0000').slice(0, 100)}' must not contain NUL characters (\\u0000)`);
    }
  }
}

/**
 * `?id=a&id=b` parses to an array where a handler without a query schema reads a string: a parameter given more
 * than once is refused there (a route that takes lists declares them in its schema, which then decides).
 */
function refuseRepeated(query: unknown): void {
  if (query === null || typeof query !== 'object') return;
  for (const [name, value] of Object.entries(query)) {
    if (Array.isArray(value)) throw new ApiError('VALIDATION_ERROR', `Query parameter '${name.slice(0, 100)}' is given more than once; give it once`);
  }
}

/** Timeouts, connection cap and large-body memory budget of the server (README, Configuration: HTTP_*, SEND_BODY_*). */
export interface HttpServerLimits {
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  idleTimeoutMs: number;
  keepAliveTimeoutMs: number;
  maxConnections: number;
  sendBodyBudgetBytes: number;
  sendBodyWaitMs: number;
}

export const DEFAULT_HTTP_LIMITS: HttpServerLimits = {
  headersTimeoutMs: 30_000,
  // 60 MB (the send body limit) at 1.6 Mbit/s
  requestTimeoutMs: 300_000,
  idleTimeoutMs: 60_000,
  // longer than the 60 s idle timeout of common proxies, so a proxy never reuses a connection being closed
  keepAliveTimeoutMs: 72_000,
  maxConnections: 1_000,
  // one send body of the largest size at a time (measured: each MB held costs about 4 MB of memory on
  // PostgreSQL and 10 MB on the embedded database, whose heap does not shrink)
  sendBodyBudgetBytes: 64 * 1024 * 1024,
  sendBodyWaitMs: 10_000,
};

/**
 * Large bodies (on routes whose body limit is above the server's: the send routes) hold several copies of
 * themselves in memory while they are parsed, checked and stored. The bytes of those being received and
 * processed at once share one budget:
 * - a body of at most the server's body limit (1 MB) is not counted, as on every other route;
 * - a larger declared length is reserved before the body is read: the request waits its turn (the socket
 *   applies back-pressure meanwhile) at most `sendBodyWaitMs`, then gets 503 with Retry-After;
 * - a chunked body is counted as it arrives beyond that first MB, without waiting (waiting while holding part
 *   of the budget could deadlock two bodies): over the budget, the rest is read and dropped, then 503 (fastify
 *   closes the connection after a body error, and closing on unread data would reset it, losing the answer).
 * The budget is taken after authentication, so clients without a key cannot hold it, and given back when
 * the answer is finished or the connection closes.
 */
function registerBodyBudget(app: FastifyInstance, bodyLimit: number, limits: HttpServerLimits): void {
  const budget = new ByteBudget(limits.sendBodyBudgetBytes);
  const busy = () => new ApiError('SERVICE_UNAVAILABLE', 'Too many large requests are being processed; retry shortly', { headers: { 'Retry-After': '1' } });
  app.addHook('preParsing', async (request, reply, payload) => {
    const routeLimit = request.routeOptions.bodyLimit ?? bodyLimit;
    if (routeLimit <= bodyLimit) return payload;
    const declared = Number(request.headers['content-length'] ?? 0);
    const chunked = request.headers['transfer-encoding'] !== undefined;
    // small, or over the route's limit (refused at once by the parser): nothing to hold
    if (!chunked && (declared <= bodyLimit || declared > routeLimit)) return payload;

    let taken = 0;
    let release: (() => void) | null = null;
    let closed = false;
    reply.raw.once('close', () => {
      closed = true;
      release?.();
      budget.give(taken);
      taken = 0;
    });
    if (chunked) {
      let seen = 0;
      let refused = false;
      return payload.pipe(
        new Transform({
          transform(chunk: Buffer, _encoding, next) {
            if (refused) return next(); // dropped: the rest is read so the answer is not lost to a reset connection
            seen += chunk.length;
            const counted = Math.max(0, seen - bodyLimit) - taken;
            if (counted > 0 && (closed || !budget.tryTake(counted))) refused = true;
            else if (counted > 0) taken += counted;
            next(null, refused ? undefined : chunk);
          },
          flush(done) {
            done(refused ? busy() : null);
          },
        }),
      );
    }
    release = await budget.acquire(declared, limits.sendBodyWaitMs);
    if (closed) release?.(); // the client left while waiting
    if (!release) throw busy();
    return payload;
  });
}

export function createHttpServer(opts: { logger: Logger; bodyLimit?: number; trustProxy?: TrustProxy; limits?: HttpServerLimits }): FastifyInstance {
  const limits = opts.limits ?? DEFAULT_HTTP_LIMITS;
  const bodyLimit = opts.bodyLimit ?? DEFAULT_BODY_LIMIT;
  const app = Fastify({
    loggerInstance: opts.logger as FastifyBaseLogger,
    bodyLimit,
    trustProxy: fastifyTrustProxy(opts.trustProxy ?? false),
    // Slow clients: the headers, then the whole request, must arrive in time; a silent socket and an idle
    // kept-alive one are closed. Node checks the first two on a timer, run here often enough for short limits.
    http: {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      connectionsCheckingInterval: Math.min(1_000, Math.max(25, Math.floor(limits.headersTimeoutMs / 4))),
    },
    requestTimeout: limits.requestTimeoutMs,
    connectionTimeout: limits.idleTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    logController: new LogController({ disableRequestLogging: true }),
    // answered below in the envelope instead of fastify's own body
    return503OnClosing: false,
    routerOptions: { ignoreTrailingSlash: true, ignoreDuplicateSlashes: true, maxParamLength: MAX_PARAM_LENGTH },
    // errors raised before a route is found (bad percent-encoding, an over-long parameter) get the envelope too
    frameworkErrors: (err: FastifyError, _request: FastifyRequest, reply: FastifyReply) => sendError(reply, toApiError(err)),
    // malformed HTTP, header overflow and timeouts happen below fastify: answered on the socket, in the envelope
    clientErrorHandler: answerClientError,
  });

  // route schemas are zod (fastify-type-provider-zod types the handlers): checked with our wording, answered
  // through compiled serializers
  app.setValidatorCompiler(zodValidatorCompiler);
  app.setSerializerCompiler(zodSerializerCompiler);

  // over the cap, Node closes a new connection at once
  app.server.maxConnections = limits.maxConnections;

  // Requests that arrive while the server drains (on a kept-alive connection) are told to go elsewhere.
  let closing = false;
  app.addHook('preClose', (done) => {
    closing = true;
    done();
  });
  app.addHook('onRequest', async (_request, reply) => {
    if (!closing) return;
    reply.header('Connection', 'close');
    throw new ApiError('SERVICE_UNAVAILABLE', 'The server is shutting down; retry on another connection', { headers: { 'Retry-After': '1' } });
  });
  registerBodyBudget(app, bodyLimit, limits);

  app.addHook('preValidation', async (request) => {
    refuseNul(request.params, 'Path parameter');
    refuseNul(request.query, 'Query parameter');
    if (!request.routeOptions.schema?.querystring) refuseRepeated(request.query);
    // no body and no Content-Type: nothing was parsed, and an empty body is an empty object (json-body.ts)
    if (request.body === undefined && BODY_METHODS.has(request.method)) request.body = {};
  });

  app.removeAllContentTypeParsers();
  app.addContentTypeParser(['application/json', 'application/*+json'], { parseAs: 'string' }, (_req, body, done) => {
    try {
      done(null, parseJsonBody(body as string));
    } catch (err) {
      done(err as Error, undefined);
    }
  });
  // Clients that forget the header still send JSON; an empty body with any type is harmless.
  app.addContentTypeParser('text/plain', { parseAs: 'string' }, (_req, body, done) => {
    try {
      done(null, parseJsonBody(body as string));
    } catch (err) {
      done(err as Error, undefined);
    }
  });

  app.setErrorHandler((err: FastifyError | ApiError, request, reply) => {
    const apiError = serviceUnavailable(err) ?? toApiError(err);
    // the route's pattern, not the URL: paths and query strings may carry tokens (/v/:token)
    if (apiError.status >= 500) request.log.error({ err, route: request.routeOptions.url ?? null }, 'request failed');
    return sendError(reply, apiError);
  });

  // A shadow router answers "which methods does this path have?" so a wrong method gets 405, not 404.
  const shadow = FindMyWay({ ignoreTrailingSlash: true, ignoreDuplicateSlashes: true });
  const table: RouteEntry[] = [];
  routeTables.set(app, table);
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) if (method !== 'HEAD') table.push({ method, url: route.url, config: route.config });
    for (const method of [route.method].flat()) {
      const m = method as HTTPMethod;
      if (METHODS.includes(m) && !shadow.hasRoute(m, route.url)) shadow.on(m, route.url, () => undefined);
    }
  });

  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0] ?? '/';
    const allowed = METHODS.filter((m) => m !== request.method && shadow.find(m, path) !== null);
    if (allowed.length > 0) {
      reply.header('Allow', allowed.join(', '));
      return reply.status(405).send(errorEnvelope(new ApiError('METHOD_NOT_ALLOWED', `Method ${request.method} is not allowed on ${path}; use ${allowed.join(', ')}`)));
    }
    return reply.status(404).send(errorEnvelope(new ApiError('NOT_FOUND', `No route for ${request.method} ${path}`)));
  });

  return app;
}
