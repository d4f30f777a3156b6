import net from 'node:net';

/**
 * Starts a TCP connection for an SMTP client with Nagle's algorithm disabled.
 *
 * SMTP is a chatty request/response protocol: with Nagle on, a small write that follows a larger
 * one (e.g. the end-of-data dot after the message body) waits for the peer's delayed ACK, which
 * costs ~40 ms per message on a reused connection.
 *
 * The socket is returned while still connecting. nodemailer's SMTPConnection accepts it as its
 * `connection` option and reports connect errors (ECONNREFUSED, ...) through its own error path,
 * with its greeting timeout bounding connect + greeting.
 */
export function openSmtpSocket(host: string, port: number): net.Socket {
  return net.connect({ host, port, noDelay: true });
}
