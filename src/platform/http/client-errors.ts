import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { ApiError, errorEnvelope } from './errors.js';

/** What Node's HTTP parser or its timers reported, as one of our codes. */
export function clientErrorToApiError(code: string | undefined): ApiError {
  switch (code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return new ApiError('REQUEST_TIMEOUT', 'The request (headers and body) was not received in time');
    case 'HPE_HEADER_OVERFLOW':
      return new ApiError('HEADERS_TOO_LARGE');
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return new ApiError('PAYLOAD_TOO_LARGE', 'Chunk extensions are too large');
    case 'HPE_INVALID_CONTENT_LENGTH':
    case 'HPE_UNEXPECTED_CONTENT_LENGTH':
      return new ApiError('VALIDATION_ERROR', 'Invalid Content-Length header');
    case 'HPE_INVALID_TRANSFER_ENCODING':
    case 'HPE_INVALID_CHUNK_SIZE':
      return new ApiError('VALIDATION_ERROR', 'Invalid Transfer-Encoding or chunked body');
    default:
      return new ApiError('VALIDATION_ERROR', 'Malformed HTTP request');
  }
}

/**
 * Node's `clientError`: the request could not be parsed or did not arrive in time, so no route runs. The answer
 * is written on the socket (the envelope, as every answer), which is then closed. Nothing is written when a
 * response on this connection has already begun: it would corrupt that response. An answer to HEAD has no body
 * (RFC 9110 §9.3.2: a client reads none, so one would be taken for the next response); the method is read from
 * the bytes the parser stopped in, which hold the request line when it is the request line that is too long.
 */
export function answerClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const inFlight = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } | null })._httpMessage;
  if (socket.writable && !inFlight?.headersSent) {
    const apiError = clientErrorToApiError(err.code);
    const body = JSON.stringify(errorEnvelope(apiError));
    const head = (err as NodeJS.ErrnoException & { rawPacket?: Buffer }).rawPacket?.subarray(0, 5).toString('latin1') === 'HEAD ';
    socket.write(
      `HTTP/1.1 ${apiError.status} ${STATUS_CODES[apiError.status] ?? 'Error'}\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${head ? '' : body}`,
    );
  }
  socket.destroy();
}
