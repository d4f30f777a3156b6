import net from 'node:net';

/**
 * A TCP proxy on 127.0.0.1 in front of a real server, for outage tests: put it between the app and its
 * database, then cut the line and restore it.
 *
 * - `blackhole`: connections stay open and new ones are accepted, but nothing is forwarded (held until
 *   restore), like a network partition: no reset ever tells the client. The case that hangs clients.
 * - `reset`: open connections are reset and new ones are reset at once, like a server that went away.
 */
export type CutMode = 'blackhole' | 'reset';

export interface TcpProxy {
  port: number;
  /** the same URL with its host and port replaced by the proxy's */
  via(url: string): string;
  cut(mode: CutMode): void;
  restore(): void;
  /** connections accepted so far */
  readonly accepted: number;
  close(): Promise<void>;
}

interface Pair {
  client: net.Socket;
  upstream: net.Socket | null;
  upstreamReady: boolean;
  toUpstream: Buffer[];
  toClient: Buffer[];
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  let mode: 'forward' | CutMode = 'forward';
  let accepted = 0;
  const pairs = new Set<Pair>();

  const drop = (pair: Pair) => {
    pairs.delete(pair);
    pair.client.destroy();
    pair.upstream?.destroy();
  };

  const flush = (pair: Pair) => {
    if (mode !== 'forward') return;
    if (!pair.upstream) connectUpstream(pair);
    if (pair.upstreamReady) for (const chunk of pair.toUpstream.splice(0)) pair.upstream!.write(chunk);
    for (const chunk of pair.toClient.splice(0)) pair.client.write(chunk);
  };

  function connectUpstream(pair: Pair): void {
    const upstream = net.connect(target.port, target.host);
    pair.upstream = upstream;
    upstream.on('connect', () => {
      pair.upstreamReady = true;
      flush(pair);
    });
    upstream.on('data', (chunk: Buffer) => {
      pair.toClient.push(chunk);
      flush(pair);
    });
    upstream.on('error', () => undefined);
    upstream.on('close', () => drop(pair));
  }

  const server = net.createServer((client) => {
    accepted++;
    client.on('error', () => undefined);
    if (mode === 'reset') {
      client.resetAndDestroy();
      return;
    }
    const pair: Pair = { client, upstream: null, upstreamReady: false, toUpstream: [], toClient: [] };
    pairs.add(pair);
    client.on('data', (chunk: Buffer) => {
      pair.toUpstream.push(chunk);
      flush(pair);
    });
    client.on('close', () => drop(pair));
    flush(pair);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;

  return {
    port,
    via(url) {
      const u = new URL(url);
      u.hostname = '127.0.0.1';
      u.port = String(port);
      return u.toString();
    },
    cut(m) {
      mode = m;
      if (m === 'reset') {
        for (const pair of [...pairs]) {
          pairs.delete(pair);
          pair.client.resetAndDestroy();
          pair.upstream?.destroy();
        }
      }
    },
    restore() {
      mode = 'forward';
      for (const pair of [...pairs]) flush(pair);
    },
    get accepted() {
      return accepted;
    },
    async close() {
      for (const pair of [...pairs]) drop(pair);
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
