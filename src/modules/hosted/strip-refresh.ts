/**
 * Removes `<meta http-equiv="refresh">` tags from tenant HTML before the view page serves it, so the page
 * cannot redirect a reader elsewhere from our origin. Two linear passes, no backtracking:
 *
 * 1. `<meta` start tags are tokenised the way an HTML parser tokenises a start tag (attribute names end at
 *    whitespace, `/`, `>` or `=`; values are double-quoted, single-quoted or unquoted; `/` between attributes
 *    separates them; numeric character references in values are decoded), and a tag is removed when an
 *    `http-equiv` value, reduced to its letters, contains "refresh": every spelling (case, quotes,
 *    whitespace, entities, attribute order) falls under that rule. A removed tag becomes an empty comment, so
 *    the text around it can never join into a new tag (`<me<meta …>ta http-equiv=refresh …>`).
 * 2. This pass does not follow every tokenizer state of a browser (comments, raw-text elements, other tags'
 *    attribute values), so a tag hidden by such a mismatch could survive it. Every `http-equiv` left anywhere
 *    is therefore rewritten to `http_equiv`, which no browser obeys: whatever the first pass missed is inert.
 *    (`http-equiv` has no self-overlap and the rewrite cannot combine with its neighbours into a new one.)
 */
export function stripRefreshMeta(html: string): string {
  return removeRefreshTags(html).replace(/http-equiv/gi, 'http_equiv');
}

function removeRefreshTags(html: string): string {
  const out: string[] = [];
  let copied = 0;
  let i = 0;
  while (i < html.length) {
    const lt = html.indexOf('<', i);
    if (lt < 0) break;
    if (!isMetaOpen(html, lt)) {
      i = lt + 1;
      continue;
    }
    const tag = scanStartTag(html, lt + 5);
    if (tag.refresh) {
      out.push(html.slice(copied, lt), REPLACEMENT);
      copied = tag.end;
    }
    i = tag.end;
  }
  if (copied === 0) return html;
  out.push(html.slice(copied));
  return out.join('');
}

const REPLACEMENT = '<!---->';

const isSpace = (c: number) => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0c || c === 0x0d;
const lower = (c: number) => (c >= 0x41 && c <= 0x5a ? c + 0x20 : c);

/** `<meta` (any case) followed by what ends a tag name: whitespace, `/`, `>` or the end of the text. */
function isMetaOpen(s: string, at: number): boolean {
  if (at + 5 > s.length) return false;
  if (lower(s.charCodeAt(at + 1)) !== 0x6d || lower(s.charCodeAt(at + 2)) !== 0x65 || lower(s.charCodeAt(at + 3)) !== 0x74 || lower(s.charCodeAt(at + 4)) !== 0x61) {
    return false;
  }
  if (at + 5 === s.length) return true;
  const next = s.charCodeAt(at + 5);
  return isSpace(next) || next === 0x2f || next === 0x3e;
}

/** Reads the attributes of a start tag from `from` (just after its name) to just past its `>` (or the end of the text). */
function scanStartTag(s: string, from: number): { end: number; refresh: boolean } {
  let i = from;
  let refresh = false;
  const n = s.length;
  for (;;) {
    // before an attribute name: whitespace and stray slashes separate attributes
    while (i < n && (isSpace(s.charCodeAt(i)) || s.charCodeAt(i) === 0x2f)) i++;
    if (i >= n) return { end: n, refresh };
    if (s.charCodeAt(i) === 0x3e) return { end: i + 1, refresh };
    // attribute name; a leading '=' belongs to the name
    const nameStart = i;
    i++;
    while (i < n) {
      const c = s.charCodeAt(i);
      if (isSpace(c) || c === 0x2f || c === 0x3e || c === 0x3d) break;
      i++;
    }
    const isHttpEquiv = i - nameStart === 10 && s.slice(nameStart, i).toLowerCase() === 'http-equiv';
    while (i < n && isSpace(s.charCodeAt(i))) i++;
    if (i >= n || s.charCodeAt(i) !== 0x3d) continue; // no value: the next attribute, '/' or '>' follows
    i++;
    while (i < n && isSpace(s.charCodeAt(i))) i++;
    if (i >= n) return { end: n, refresh };
    const q = s.charCodeAt(i);
    if (q === 0x3e) return { end: i + 1, refresh };
    let valueStart: number;
    let valueEnd: number;
    if (q === 0x22 || q === 0x27) {
      valueStart = i + 1;
      const close = s.indexOf(q === 0x22 ? '"' : "'", valueStart);
      // an unterminated quote swallows the rest of the document, as it does in a browser
      valueEnd = close < 0 ? n : close;
      i = close < 0 ? n : close + 1;
    } else {
      valueStart = i;
      while (i < n && !isSpace(s.charCodeAt(i)) && s.charCodeAt(i) !== 0x3e) i++;
      valueEnd = i;
    }
    if (isHttpEquiv && lettersOf(s, valueStart, valueEnd).includes('refresh')) refresh = true;
  }
}

/** The ASCII letters of an attribute value, lower-cased, with numeric character references decoded. */
function lettersOf(s: string, start: number, end: number): string {
  let letters = '';
  let i = start;
  while (i < end) {
    let c = s.charCodeAt(i);
    if (c === 0x26 && i + 1 < end && s.charCodeAt(i + 1) === 0x23) {
      const ref = numericReference(s, i + 2, end);
      if (ref) {
        c = ref.code;
        i = ref.next;
      } else i++;
    } else i++;
    c = lower(c);
    if (c >= 0x61 && c <= 0x7a) letters += String.fromCharCode(c);
  }
  return letters;
}

/** `&#114;` or `&#x72;` (the `;` optional, as browsers accept): the code point and where the reference ends. */
function numericReference(s: string, from: number, end: number): { code: number; next: number } | null {
  let i = from;
  const hex = i < end && (s.charCodeAt(i) === 0x78 || s.charCodeAt(i) === 0x58);
  if (hex) i++;
  let code = 0;
  const digitsStart = i;
  while (i < end) {
    const c = s.charCodeAt(i);
    const d = c >= 0x30 && c <= 0x39 ? c - 0x30 : hex && lower(c) >= 0x61 && lower(c) <= 0x66 ? lower(c) - 0x61 + 10 : -1;
    if (d < 0) break;
    code = Math.min(code * (hex ? 16 : 10) + d, 0x110000); // clamped: a long run of digits stays a small number
    i++;
  }
  if (i === digitsStart) return null;
  if (i < end && s.charCodeAt(i) === 0x3b) i++;
  return { code, next: i };
}
