/** The first MIME part of a raw message with this content type, its transfer encoding undone (what nodemailer writes). */
export function decodedPart(raw: string, contentType: string): string | null {
  const start = raw.search(new RegExp(`^Content-Type: ${contentType.replace('/', '\\/')}`, 'im'));
  if (start === -1) return null;
  const rest = raw.slice(start);
  const split = rest.indexOf('\r\n\r\n');
  const headers = rest.slice(0, split);
  const bodyAndMore = rest.slice(split + 4);
  const end = bodyAndMore.search(/\r\n--/);
  const body = end === -1 ? bodyAndMore : bodyAndMore.slice(0, end);
  if (/Content-Transfer-Encoding: quoted-printable/i.test(headers)) {
    const bytes = body.replace(/=\r\n/g, '').replace(/=([0-9A-F]{2})/gi, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
    return Buffer.from(bytes, 'latin1').toString('utf8');
  }
  if (/Content-Transfer-Encoding: base64/i.test(headers)) return Buffer.from(body.replace(/\r\n/g, ''), 'base64').toString('utf8');
  return body;
}

/**
 * Polls GET /health every 50 ms while `work` runs; resolves with work's result and the slowest answer seen,
 * which shows whether the event loop stayed free.
 */
export async function healthWhile<T>(baseUrl: string, work: Promise<T>): Promise<{ result: T; slowestHealthMs: number; probes: number }> {
  let settled = false;
  const done = work.finally(() => {
    settled = true;
  });
  let slowest = 0;
  let probes = 0;
  const probe = async () => {
    do {
      const started = Date.now();
      const res = await fetch(`${baseUrl}/health`, { signal: AbortSignal.timeout(30_000) });
      await res.text();
      if (res.status !== 200) throw new Error(`/health answered ${res.status}`);
      slowest = Math.max(slowest, Date.now() - started);
      probes++;
      await new Promise((r) => setTimeout(r, 50));
    } while (!settled);
  };
  const [result] = await Promise.all([done, probe()]);
  return { result, slowestHealthMs: slowest, probes };
}
