import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import type { LookupFunction } from 'node:net';
import { isNoRecord, type Resolver } from '../dns/resolver.js';
import { nonPublicAddressKind } from '../mail/mx-address-policy.js';

/**
 * Outbound HTTP to addresses a tenant chose (webhook endpoints), with the guard against server-side request
 * forgery: the host is resolved with the server's resolver, every address it resolves to must be public
 * unicast (platform/mail/mx-address-policy.ts says what is not), and the connection goes to the address that
 * was checked, so a second DNS answer cannot swap in another. Redirects are never followed.
 */

export class TargetRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TargetRefused';
  }
}

export interface TargetPolicy {
  resolver: Resolver;
  /** loopback, private and other non-public addresses allowed (a trusted network; tests) */
  allowPrivate: boolean;
}

/** Most addresses looked at per host name: a hostile zone may answer with many. */
const MAX_ADDRESSES = 16;

/** Checks a URL's form: http or https, a host, no credentials; returns the parsed URL. */
export function parseTargetUrl(value: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new TargetRefused('is not a URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TargetRefused('must be an http:// or https:// URL');
  if (url.username || url.password) throw new TargetRefused('must not carry credentials');
  if (!url.hostname) throw new TargetRefused('has no host');
  return url;
}

const bareHost = (url: URL): string => url.hostname.replace(/^\[(.*)\]$/, '$1');

/** The address to connect to for the URL's host, after the policy check; throws TargetRefused with the reason. */
export async function resolveTarget(url: URL, policy: TargetPolicy): Promise<{ address: string; family: 4 | 6 }> {
  const host = bareHost(url);
  let addresses: string[];
  if (isIP(host)) addresses = [host];
  else {
    const settle = (p: Promise<string[]>) => p.catch((err: unknown) => (isNoRecord(err) ? [] : Promise.reject(err)));
    try {
      const [v4, v6] = await Promise.all([settle(policy.resolver.resolve4(host)), settle(policy.resolver.resolve6(host))]);
      addresses = [...v4, ...v6].slice(0, MAX_ADDRESSES);
    } catch (err) {
      throw new TargetRefused(`host ${host} could not be resolved (${(err as Error).message})`);
    }
    if (addresses.length === 0) throw new TargetRefused(`host ${host} has no address`);
  }
  if (!policy.allowPrivate) {
    // every answer, not just the first: otherwise a zone could list a public address and a private one
    for (const address of addresses) {
      const kind = nonPublicAddressKind(address);
      if (kind) throw new TargetRefused(`host ${host} resolves to ${address}, ${kind}; only public addresses are allowed (WEBHOOK_ALLOW_PRIVATE_TARGETS)`);
    }
  }
  const address = addresses[0]!;
  return { address, family: isIP(address) === 6 ? 6 : 4 };
}

export interface PostResult {
  /** null when no answer came (refused target, connection error, timeout) */
  statusCode: number | null;
  latencyMs: number;
  /** the first `excerptBytes` of the answer's body */
  bodyExcerpt: string | null;
  error: string | null;
}

const agents = {
  http: new http.Agent({ keepAlive: true, maxSockets: 256 }),
  https: new https.Agent({ keepAlive: true, maxSockets: 256 }),
};

/**
 * POSTs `body` to `url` under the policy: resolution, connection and the whole answer within `timeoutMs`.
 * Never throws; what went wrong is in `error`.
 */
export async function guardedPost(
  target: string,
  body: string,
  headers: Record<string, string>,
  opts: TargetPolicy & { timeoutMs: number; excerptBytes: number },
): Promise<PostResult> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  let timer: NodeJS.Timeout | undefined;
  const abort = new AbortController();
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      abort.abort();
      reject(new TargetRefused(`no answer within ${opts.timeoutMs} ms`));
    }, opts.timeoutMs);
  });
  try {
    const url = parseTargetUrl(target);
    const { address, family } = await Promise.race([resolveTarget(url, opts), deadline]);
    const answer = await Promise.race([send(url, address, family, body, headers, opts.excerptBytes, abort.signal), deadline]);
    return { statusCode: answer.statusCode, latencyMs: elapsed(), bodyExcerpt: answer.excerpt, error: null };
  } catch (err) {
    return { statusCode: null, latencyMs: elapsed(), bodyExcerpt: null, error: (err as Error).message };
  } finally {
    clearTimeout(timer);
  }
}

function send(url: URL, address: string, family: 4 | 6, body: string, headers: Record<string, string>, excerptBytes: number, signal: AbortSignal): Promise<{ statusCode: number; excerpt: string }> {
  const https_ = url.protocol === 'https:';
  const host = bareHost(url);
  // the connection goes to the checked address whatever the name resolves to now
  const lookup: LookupFunction = (_hostname, options, callback) => {
    if (options.all) (callback as (err: null, addresses: { address: string; family: number }[]) => void)(null, [{ address, family }]);
    else callback(null, address, family);
  };
  return new Promise((resolve, reject) => {
    const req = (https_ ? https : http).request(
      {
        protocol: url.protocol,
        hostname: host,
        port: url.port || (https_ ? 443 : 80),
        path: `${url.pathname}${url.search}`,
        method: 'POST',
        agent: https_ ? agents.https : agents.http,
        lookup,
        // certificate checked against the name, not the address
        ...(https_ && !isIP(host) ? { servername: host } : {}),
        headers: { ...headers, host: url.host, 'content-length': String(Buffer.byteLength(body)) },
        signal,
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        let done = false;
        const finish = () => {
          if (done) return;
          done = true;
          resolve({ statusCode: res.statusCode ?? 0, excerpt: Buffer.concat(chunks).subarray(0, excerptBytes).toString('utf8') });
        };
        res.on('data', (chunk: Buffer) => {
          if (size < excerptBytes) {
            chunks.push(chunk);
            size += chunk.length;
          }
          // the rest of a long answer is not worth waiting for
          if (size >= excerptBytes) {
            finish();
            res.destroy();
          }
        });
        res.on('end', finish);
        res.on('error', (err) => (done ? undefined : reject(err)));
        res.on('close', finish);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}
