import type { RemoteInfo } from 'node:dgram';
import type { Socket } from 'node:net';
import { Packet, createTCPServer, createUDPServer, type Resource, type TCPServer, type UDPServer } from 'dns2';

/**
 * An authoritative-style DNS server for tests, on 127.0.0.1 only, answering over UDP and TCP on
 * the same port (resolvers retry truncated UDP answers over TCP on the port they already use).
 *
 * Names are case-insensitive and written without the trailing dot. Unknown names get NXDOMAIN;
 * names that exist (or have names below them) but lack the asked type get NODATA. A CNAME is
 * followed within the zone, as a recursive resolver would.
 */

export type DnsRecordType = 'A' | 'AAAA' | 'MX' | 'TXT' | 'CNAME';

export interface MxRecordData {
  exchange: string;
  priority: number;
}

export interface DnsRecordSets {
  A: string[];
  AAAA: string[];
  /** An exchange of "." (or "") is a null MX (RFC 7505). */
  MX: MxRecordData[];
  /** A string longer than 255 bytes is split into several character-strings; an array gives them explicitly. */
  TXT: (string | string[])[];
  /** At most one target is meaningful. */
  CNAME: string[];
}

export type DnsNameRecords = Partial<DnsRecordSets>;
export type DnsZone = Record<string, DnsNameRecords>;

/** SERVFAIL answers with that rcode; TIMEOUT never answers. */
export type DnsFailureMode = 'SERVFAIL' | 'TIMEOUT';

export interface DnsQuery {
  name: string;
  type: string;
  transport: 'udp' | 'tcp';
}

export interface TestDnsServer {
  port: number;
  address: '127.0.0.1';
  /** "127.0.0.1:PORT", ready for createResolver([server]). */
  server: string;
  /** Every question received, oldest first. */
  queries: DnsQuery[];
  set<T extends DnsRecordType>(name: string, type: T, records: DnsRecordSets[T]): void;
  clear(name: string, type?: DnsRecordType): void;
  /** Makes every query for `name` fail in the given way; null restores normal answers. */
  setFailure(name: string, mode: DnsFailureMode | null): void;
  close(): Promise<void>;
}

const TTL = 60;
const MAX_CNAME_CHAIN = 8;
const MAX_CHARACTER_STRING = 255;
const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3 } as const;
const TYPE_NAMES = new Map<number, string>(Object.entries(Packet.TYPE).map(([name, code]) => [code, name]));

function normalizeName(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}

/** Splits text into character-strings of at most 255 bytes without cutting a UTF-8 sequence. */
export function splitCharacterStrings(text: string): string[] {
  if (text === '') return [''];
  const chunks: string[] = [];
  let chunk = '';
  let bytes = 0;
  for (const char of text) {
    const size = Buffer.byteLength(char);
    if (bytes + size > MAX_CHARACTER_STRING) {
      chunks.push(chunk);
      chunk = '';
      bytes = 0;
    }
    chunk += char;
    bytes += size;
  }
  chunks.push(chunk);
  return chunks;
}

/** How each record type's zone value becomes dns2 resource fields. */
const ENCODERS: { [K in DnsRecordType]: (value: DnsRecordSets[K][number]) => Partial<Resource> } = {
  A: (address) => ({ address }),
  AAAA: (address) => ({ address }),
  CNAME: (domain) => ({ domain }),
  MX: ({ exchange, priority }) => ({ exchange: exchange === '.' ? '' : exchange, priority }),
  TXT: (value) => ({ data: (typeof value === 'string' ? [value] : value).flatMap(splitCharacterStrings) }),
};

function isRecordType(type: string | undefined): type is DnsRecordType {
  return type !== undefined && Object.hasOwn(ENCODERS, type);
}

function resource(name: string, type: number, data: Partial<Resource>): Resource {
  return Object.assign(new Packet.Resource(name, type, Packet.CLASS.IN, TTL), data);
}

function encodeRecords<K extends DnsRecordType>(sets: DnsNameRecords, type: K, ownerName: string, typeCode: number): Resource[] {
  const values: readonly DnsRecordSets[K][number][] = sets[type] ?? [];
  const encode: (value: DnsRecordSets[K][number]) => Partial<Resource> = ENCODERS[type];
  return values.map((value) => resource(ownerName, typeCode, encode(value)));
}

export async function startDnsServer(zone: DnsZone = {}): Promise<TestDnsServer> {
  const records = new Map<string, DnsNameRecords>();
  const failures = new Map<string, DnsFailureMode>();
  const queries: DnsQuery[] = [];
  for (const [name, sets] of Object.entries(zone)) records.set(normalizeName(name), { ...sets });

  /** A name exists if it has records or is an ancestor of one that does (empty non-terminal). */
  const nameExists = (name: string): boolean => {
    if (records.has(name)) return true;
    for (const known of records.keys()) if (known.endsWith(`.${name}`)) return true;
    return false;
  };

  const addAnswers = (response: Packet, ownerName: string, typeCode: number, depth: number): number => {
    const name = normalizeName(ownerName);
    if (!nameExists(name)) return RCODE.NXDOMAIN;
    const sets = records.get(name) ?? {};
    const cname = sets.CNAME?.[0];
    if (cname !== undefined && typeCode !== Packet.TYPE.CNAME) {
      response.answers.push(resource(ownerName, Packet.TYPE.CNAME, ENCODERS.CNAME(cname)));
      return depth < MAX_CNAME_CHAIN ? addAnswers(response, cname, typeCode, depth + 1) : RCODE.SERVFAIL;
    }
    const type = TYPE_NAMES.get(typeCode);
    if (isRecordType(type)) response.answers.push(...encodeRecords(sets, type, ownerName, typeCode));
    return RCODE.NOERROR;
  };

  const handle =
    (transport: 'udp' | 'tcp') =>
    (request: Packet, send: (response: Packet) => unknown): void => {
      const response = Packet.createResponseFromRequest(request);
      response.header.aa = 1;
      response.header.ra = 1;
      const question = request.questions[0];
      if (question === undefined) {
        response.header.rcode = RCODE.FORMERR;
      } else {
        queries.push({ name: question.name, type: TYPE_NAMES.get(question.type) ?? String(question.type), transport });
        const failure = failures.get(normalizeName(question.name));
        if (failure === 'TIMEOUT') return;
        response.header.rcode = failure === 'SERVFAIL' ? RCODE.SERVFAIL : addAnswers(response, question.name, question.type, 0);
        if (response.header.rcode === RCODE.SERVFAIL) response.answers = [];
      }
      // UDP sends return a promise, TCP sends return nothing; a client gone by now is not our problem.
      Promise.resolve(send(response)).catch(() => undefined);
    };

  const { udp, tcp, port } = await listenOnSharedPort(handle('udp'), handle('tcp'));
  const tcpSockets = new Set<Socket>();
  tcp.on('connection', (socket: Socket) => {
    tcpSockets.add(socket);
    socket.on('close', () => tcpSockets.delete(socket));
  });

  return {
    port,
    address: '127.0.0.1',
    server: `127.0.0.1:${port}`,
    queries,
    set(name, type, values) {
      const key = normalizeName(name);
      const sets = records.get(key) ?? {};
      sets[type] = values;
      records.set(key, sets);
    },
    clear(name, type) {
      const key = normalizeName(name);
      if (type === undefined) {
        records.delete(key);
        return;
      }
      const sets = records.get(key);
      if (sets) delete sets[type];
    },
    setFailure(name, mode) {
      if (mode === null) failures.delete(normalizeName(name));
      else failures.set(normalizeName(name), mode);
    },
    async close() {
      for (const socket of tcpSockets) socket.destroy();
      await Promise.all([
        new Promise<void>((resolve) => udp.close(() => resolve())),
        new Promise<void>((resolve) => tcp.close(() => resolve())),
      ]);
    },
  };
}

type Handler = (request: Packet, send: (response: Packet) => unknown) => void;

/** Binds UDP to a free port, then TCP to the same one; retries if TCP finds it taken. */
async function listenOnSharedPort(
  onUdp: Handler,
  onTcp: Handler,
): Promise<{ udp: UDPServer; tcp: TCPServer; port: number }> {
  const MDNS_PORT = 5353;
  let lastError: unknown;
  for (let attempt = 0; attempt < 20; attempt++) {
    const udp = createUDPServer({ type: 'udp4' });
    udp.on('request', (request: Packet, send: (response: Packet) => unknown, _client: RemoteInfo) => onUdp(request, send));
    udp.on('error', () => undefined);
    await udp.listen(0, '127.0.0.1');
    const port = udp.address().port;
    if (port === MDNS_PORT) {
      udp.close();
      continue;
    }
    const tcp = createTCPServer();
    tcp.on('request', (request: Packet, send: (response: Packet) => unknown) => onTcp(request, send));
    try {
      await new Promise<void>((resolve, reject) => {
        tcp.once('error', reject);
        tcp.listen(port, '127.0.0.1', () => {
          tcp.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      lastError = err;
      udp.close();
      continue;
    }
    tcp.on('error', () => undefined);
    return { udp, tcp, port };
  }
  throw new Error(`could not bind a DNS test server to one UDP+TCP port: ${String(lastError)}`);
}
