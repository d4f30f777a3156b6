/** Looks like an attempt at a DMARC record, well-formed or not (so a typo is reported rather than ignored). */
export const looksLikeDmarc = (txt: string): boolean => /^\s*v\s*=\s*dmarc/i.test(txt);

export interface DmarcRecord {
  policy: 'none' | 'quarantine' | 'reject';
  tags: Record<string, string>;
}

const POLICIES = ['none', 'quarantine', 'reject'] as const;

const TAG_RULES: Record<string, (v: string) => string | null> = {
  p: (v) => ((POLICIES as readonly string[]).includes(v.toLowerCase()) ? null : 'p= must be none, quarantine or reject'),
  sp: (v) => ((POLICIES as readonly string[]).includes(v.toLowerCase()) ? null : 'sp= must be none, quarantine or reject'),
  adkim: (v) => (/^[rs]$/i.test(v) ? null : 'adkim= must be r or s'),
  aspf: (v) => (/^[rs]$/i.test(v) ? null : 'aspf= must be r or s'),
  pct: (v) => (/^\d{1,3}$/.test(v) && Number(v) <= 100 ? null : 'pct= must be a whole number from 0 to 100'),
  ri: (v) => (/^\d+$/.test(v) ? null : 'ri= must be a number of seconds'),
  fo: (v) => (/^[01ds](:[01ds])*$/i.test(v) ? null : 'fo= must be a colon list of 0, 1, d and s'),
  rf: (v) => (/^[a-z0-9-]+(:[a-z0-9-]+)*$/i.test(v) ? null : 'rf= must name report formats such as afrf'),
  rua: uriList('rua'),
  ruf: uriList('ruf'),
};

function uriList(tag: string): (v: string) => string | null {
  return (v) => {
    const uris = v.split(',').map((u) => u.trim());
    const bad = uris.find((u) => !/^[a-z][a-z0-9+.-]*:\S+$/i.test(u) || (/^mailto:/i.test(u) && !/^mailto:[^@\s]+@[^@\s]+(!\d+[kmgt]?)?$/i.test(u)));
    return bad === undefined ? null : `${tag}= has an invalid URI "${bad}" (expected e.g. mailto:reports@example.com)`;
  };
}

/**
 * Parses a DMARC record by RFC 7489 §6.3/§6.4: tag=value pairs separated by ';', v=DMARC1 first, p= required
 * (we only check organisational records), known tags validated, unknown tags ignored as receivers do.
 */
export function parseDmarc(txt: string): { ok: true; record: DmarcRecord } | { ok: false; error: string } {
  const parts = txt.split(';').map((p) => p.trim());
  while (parts.length > 0 && parts[parts.length - 1] === '') parts.pop();
  const tags: Record<string, string> = {};
  for (const [i, part] of parts.entries()) {
    const m = /^([A-Za-z]+)\s*=\s*(.*)$/.exec(part);
    if (!m) return { ok: false, error: `"${part}" is not a tag=value pair` };
    const name = m[1]!.toLowerCase();
    const value = m[2]!.trim();
    if (i === 0) {
      if (name !== 'v' || value !== 'DMARC1') return { ok: false, error: 'the record must start with v=DMARC1' };
      continue;
    }
    if (name in tags) return { ok: false, error: `tag ${name}= appears twice` };
    const problem = TAG_RULES[name]?.(value);
    if (problem) return { ok: false, error: problem };
    tags[name] = value;
  }
  if (parts.length === 0) return { ok: false, error: 'the record is empty' };
  if (tags.p === undefined) return { ok: false, error: 'p= (the policy) is missing; it must come right after v=DMARC1' };
  return { ok: true, record: { policy: tags.p.toLowerCase() as DmarcRecord['policy'], tags } };
}
