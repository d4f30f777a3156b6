/** Every error code the API can answer with, declared once: HTTP status and default message. */
export const ERROR_CODES = {
  VALIDATION_ERROR: { status: 400, message: 'Invalid request' },
  INVALID_TEMPLATE: { status: 400, message: 'Template not found in this workspace' },
  INVALID_SCHEDULE_TIME: { status: 400, message: 'Invalid schedule time' },
  DOMAIN_NOT_VERIFIED: { status: 403, message: 'Domain is not verified' },
  UNAUTHORIZED: { status: 401, message: 'Missing or invalid API key' },
  FORBIDDEN: { status: 403, message: 'Key type not allowed for this endpoint' },
  INSUFFICIENT_SCOPE: { status: 403, message: 'Admin key is missing the required scope' },
  PLAN_REQUIRED: { status: 403, message: 'This feature requires the LAUNCH plan or higher' },
  NOT_FOUND: { status: 404, message: 'Not found' },
  METHOD_NOT_ALLOWED: { status: 405, message: 'Method not allowed' },
  REQUEST_TIMEOUT: { status: 408, message: 'The request was not received in time' },
  CONFLICT: { status: 409, message: 'Conflict' },
  IDEMPOTENCY_CONFLICT: { status: 409, message: 'Idempotency-Key was already used with a different request' },
  PAYLOAD_TOO_LARGE: { status: 413, message: 'Request body is too large' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, message: 'Content-Type must be application/json' },
  TEMPLATE_PARAMETER_MISSING: { status: 422, message: 'Template parameter missing' },
  TEMPLATE_LIMIT_EXCEEDED: { status: 422, message: 'The template exceeded a size or time limit' },
  RATE_LIMITED: { status: 429, message: 'Rate limit exceeded' },
  HEADERS_TOO_LARGE: { status: 431, message: 'Request headers are too large' },
  INTERNAL_ERROR: { status: 500, message: 'Internal error; retry with exponential backoff' },
  SERVICE_UNAVAILABLE: { status: 503, message: 'Service temporarily unavailable' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

export class ApiError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message?: string,
    /** `status` overrides the code's usual one where the spec pairs a code with two statuses (DOMAIN_NOT_VERIFIED: 400 or 403) */
    readonly extra: { headers?: Record<string, string>; details?: Record<string, unknown>; status?: number } = {},
  ) {
    super(message ?? ERROR_CODES[code].message);
    this.name = 'ApiError';
    this.status = extra.status ?? ERROR_CODES[code].status;
  }
}

export interface ErrorEnvelope {
  success: false;
  error: ErrorCode;
  code: ErrorCode;
  message: string;
  [key: string]: unknown;
}

/** The superset envelope: `error` and `code` both carry the code, `message` the human text. */
export function errorEnvelope(err: ApiError): ErrorEnvelope {
  return { success: false, error: err.code, code: err.code, message: err.message, ...(err.extra.details ?? {}) };
}

export const validationError = (message: string) => new ApiError('VALIDATION_ERROR', message);
export const notFound = (what = 'Resource') => new ApiError('NOT_FOUND', `${what} not found`);
