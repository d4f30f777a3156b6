import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import FindMyWay, { type HTTPMethod } from 'find-my-way';
import type { Logger } from '../logger.js';
import { ApiError, errorEnvelope } from './errors.js';
import { answerClientError } from './client-errors.js';
import { parseJsonBody } from './json-body.js';

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

export function createHttpServer(opts: { logger: Logger; bodyLimit?: number; trustProxy?: boolean }): FastifyInstance {
  const app = Fastify({
    loggerInstance: opts.logger as FastifyBaseLogger,
    bodyLimit: opts.bodyLimit ?? DEFAULT_BODY_LIMIT,
    trustProxy: opts.trustProxy ?? false,
    logController: new LogController({ disableRequestLogging: true }),
    // answered below in the envelope instead of fastify's own body
    return503OnClosing: false,
    routerOptions: { ignoreTrailingSlash: true, ignoreDuplicateSlashes: true, maxParamLength: MAX_PARAM_LENGTH },
    // errors raised before a route is found (bad percent-encoding, an over-long parameter) get the envelope too
    frameworkErrors: (err: FastifyError, _request: FastifyRequest, reply: FastifyReply) => sendError(reply, toApiError(err)),
    // malformed HTTP, header overflow and timeouts happen below fastify: answered on the socket, in the envelope
    clientErrorHandler: answerClientError,
  });

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
  app.addHook('preValidation', async (request) => {
    refuseNul(request.params, 'Path parameter');
    refuseNul(request.query, 'Query parameter');
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
    const apiError = toApiError(err);
    if (apiError.status >= 500) request.log.error({ err, url: request.url }, 'request failed');
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
