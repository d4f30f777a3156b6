import net from 'node:net';

export interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** everything the server wrote before it closed the connection (or before the wait ended) */
  raw: string;
}

/** Parses the first HTTP/1.1 answer of a raw transcript (Content-Length bodies only). */
export function parseRawAnswer(raw: string): RawAnswer | null {
  const end = raw.indexOf('\r\n\r\n');
  if (end < 0) return null;
  const [statusLine, ...lines] = raw.slice(0, end).split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const length = Number(headers['content-length'] ?? 0);
  return { status: Number(statusLine!.split(' ')[1]), headers, body: raw.slice(end + 4, end + 4 + length), raw };
}

/** A TCP connection to an http:// URL's host and port, with everything the server sent and when it closed. */
export class RawConnection {
  readonly socket: net.Socket;
  received = '';
  closed = false;
  private readonly closedPromise: Promise<void>;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (this.received += chunk));
    socket.on('error', () => undefined);
    this.closedPromise = new Promise((resolve) =>
      socket.once('close', () => {
        this.closed = true;
        resolve();
      }),
    );
  }

  static open(url: string): Promise<RawConnection> {
    const u = new URL(url);
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: u.hostname, port: Number(u.port) }, () => resolve(new RawConnection(socket)));
      socket.once('error', reject);
    });
  }

  write(text: string | Buffer): void {
    this.socket.write(text);
  }

  /** Resolves true once the server closed the connection, false if it is still open after `ms`. */
  async closedWithin(ms: number): Promise<boolean> {
    const timer = new Promise<false>((resolve) => setTimeout(() => resolve(false), ms).unref());
    return Promise.race([this.closedPromise.then(() => true as const), timer]);
  }

  answer(): RawAnswer | null {
    return parseRawAnswer(this.received);
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** Sends raw bytes, then waits for the server to answer and close (or for `ms`). */
export async function rawExchange(url: string, request: string | Buffer, ms = 5_000): Promise<RawAnswer | null> {
  const c = await RawConnection.open(url);
  c.write(request);
  await c.closedWithin(ms);
  c.destroy();
  return c.answer();
}
