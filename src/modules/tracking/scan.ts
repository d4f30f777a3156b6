import { decodeHTMLAttribute } from 'entities';

/**
 * Finds what open and click tracking changes in an email's HTML (README, "Tracking"): the `href` of every `<a>`
 * tag that points to an http(s) URL, and where the open pixel goes. It runs on the event loop for small HTML and
 * on a content thread for large HTML (thread.ts), so it is plain data in, plain data out, and the signing secret
 * never leaves the main thread: the caller puts the signed links in (`applyTracking`).
 *
 * One forward pass: every `<` is looked at once, an attribute value is found with one indexOf for its closing
 * quote, and a tag that never closes ends the scan (a browser reads the rest as that tag too). No regular
 * expression runs over tenant HTML except literal searches for a raw-text element's end, so hostile HTML (deep
 * nesting, a megabyte of `<a`) costs time in proportion to its length.
 */

export interface ScanOptions {
  /** PUBLIC_URL: links to our own hosted pages (/u/, /v/, /s/, /t/) are left as they are */
  publicUrl: string;
  clicks: boolean;
  opens: boolean;
}

/** One rewritten link: `html.slice(start, end)` is its href value (with its quotes, if any); `url` the URL it leads to. */
export type FoundLink = [start: number, end: number, url: string];

export interface TrackingPlan {
  links: FoundLink[];
  /** where the open pixel goes: before the last `</body>`, else at the end; null without open tracking */
  pixelAt: number | null;
}

/** Links past this many are left as they are: the URL list is stored with the email. */
export const MAX_TRACKED_LINKS = 1000;
/** A longer href is left as it is (browsers cap URLs near this too); it also bounds the stored URL list. */
export const MAX_TRACKED_URL_CHARS = 4096;

/** HTML's ASCII whitespace: tab, LF, FF, CR, space. */
const isSpace = (c: number) => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0c || c === 0x0d;
const isAsciiLetter = (c: number) => (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);

/** Elements whose content is text, not tags: a `<a` inside them is not a link. */
const RAW_TEXT = new Set(['style', 'script', 'textarea', 'title', 'xmp']);
/** Tag names we act on are short; a longer run of letters is another tag, read no further. */
const MAX_NAME = 8;

/** The own hosted pages: a link there is the unsubscribe, view or subscribe link, or already a tracked one. */
export function ownPrefixes(publicUrl: string): string[] {
  return ['u', 'v', 's', 't'].map((p) => `${publicUrl}/${p}/`.toLowerCase());
}

/** The URL an href leads to, as a browser resolves it (entities decoded, spaces trimmed), or null when it is not tracked. */
export function trackableUrl(raw: string, own: string[]): string | null {
  if (raw.length > MAX_TRACKED_URL_CHARS) return null;
  const decoded = decodeHTMLAttribute(raw);
  // a cheap check before parsing: only absolute http(s) URLs are tracked (not mailto:, tel:, #anchors, relative ones)
  let k = 0;
  while (k < decoded.length && decoded.charCodeAt(k) <= 0x20) k++;
  const scheme = decoded.slice(k, k + 8).toLowerCase();
  if (!scheme.startsWith('http://') && !scheme.startsWith('https:/')) return null;
  let url: URL;
  try {
    url = new URL(decoded);
  } catch {
    return null;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
  const href = url.href;
  if (href.length > MAX_TRACKED_URL_CHARS) return null;
  const lower = href.toLowerCase();
  if (own.some((prefix) => lower.startsWith(prefix))) return null;
  return href;
}

/** The lower-case tag name starting at `at` (after `<`, or `</` with `closing`), if one of at most MAX_NAME letters ends there. */
function tagName(html: string, at: number): { name: string; end: number } | null {
  let j = at;
  while (j < html.length && j - at <= MAX_NAME && isAsciiLetter(html.charCodeAt(j))) j++;
  if (j === at || j - at > MAX_NAME) return null;
  if (j < html.length) {
    const c = html.charCodeAt(j);
    if (!isSpace(c) && c !== 0x2f /* / */ && c !== 0x3e /* > */) return null;
  }
  return { name: html.slice(at, j).toLowerCase(), end: j };
}

/**
 * Reads the attributes of a tag from `from` (just after its name) to its `>`. Returns the position after the
 * tag and the first href value's range (HTML ignores repeated attributes), or end -1 when the tag never closes.
 */
function readTag(html: string, from: number): { end: number; href: [number, number, string] | null } {
  const n = html.length;
  let j = from;
  let href: [number, number, string] | null = null;
  for (;;) {
    while (j < n && (isSpace(html.charCodeAt(j)) || html.charCodeAt(j) === 0x2f)) j++;
    if (j >= n) return { end: -1, href: null };
    if (html.charCodeAt(j) === 0x3e) return { end: j + 1, href };
    const nameStart = j++;
    while (j < n) {
      const c = html.charCodeAt(j);
      if (isSpace(c) || c === 0x2f || c === 0x3e || c === 0x3d /* = */) break;
      j++;
    }
    const isHref = j - nameStart === 4 && html.slice(nameStart, j).toLowerCase() === 'href';
    while (j < n && isSpace(html.charCodeAt(j))) j++;
    if (j >= n || html.charCodeAt(j) !== 0x3d) continue;
    j++;
    while (j < n && isSpace(html.charCodeAt(j))) j++;
    if (j >= n) return { end: -1, href: null };
    const q = html.charCodeAt(j);
    let start = j;
    let raw: string;
    if (q === 0x22 || q === 0x27) {
      const close = html.indexOf(q === 0x22 ? '"' : "'", j + 1);
      if (close < 0) return { end: -1, href: null };
      raw = isHref && href === null ? html.slice(j + 1, close) : '';
      j = close + 1;
    } else {
      start = j;
      while (j < n && !isSpace(html.charCodeAt(j)) && html.charCodeAt(j) !== 0x3e) j++;
      raw = isHref && href === null ? html.slice(start, j) : '';
    }
    if (isHref && href === null) href = [start, j, raw];
  }
}

/** A literal search each (no backtracking), made once; `lastIndex` is set before every use. */
const RAW_TEXT_END = new Map([...RAW_TEXT].map((name) => [name, new RegExp(`</${name}`, 'gi')]));

/** Where the element `name` that starts its raw text at `from` ends (the `<` of its end tag), or -1. */
function rawTextEnd(html: string, name: string, from: number): number {
  const end = RAW_TEXT_END.get(name)!;
  end.lastIndex = from;
  return end.exec(html)?.index ?? -1;
}

export function scanForTracking(html: string, opts: ScanOptions): TrackingPlan {
  const own = ownPrefixes(opts.publicUrl);
  const links: FoundLink[] = [];
  let bodyEnd = -1;
  let i = 0;
  while (i < html.length) {
    const lt = html.indexOf('<', i);
    if (lt < 0) break;
    const closing = html.charCodeAt(lt + 1) === 0x2f;
    const tag = tagName(html, lt + (closing ? 2 : 1));
    if (!tag) {
      i = lt + 1;
      continue;
    }
    if (closing) {
      if (tag.name === 'body') bodyEnd = lt;
      i = tag.end;
      continue;
    }
    if (tag.name === 'a') {
      const read = readTag(html, tag.end);
      if (read.end < 0) break;
      if (read.href && opts.clicks && links.length < MAX_TRACKED_LINKS) {
        const url = trackableUrl(read.href[2], own);
        if (url !== null) links.push([read.href[0], read.href[1], url]);
      }
      i = read.end;
      continue;
    }
    if (RAW_TEXT.has(tag.name)) {
      const read = readTag(html, tag.end);
      if (read.end < 0) break;
      const end = rawTextEnd(html, tag.name, read.end);
      if (end < 0) break;
      i = end;
      continue;
    }
    i = tag.end;
  }
  return { links, pixelAt: opts.opens ? (bodyEnd >= 0 ? bodyEnd : html.length) : null };
}

/**
 * The HTML with each found link's href replaced by `hrefFor(index)` (double-quoted; the caller's value must be
 * safe in an attribute) and `pixel` inserted at `pixelAt`. Linear: slices of the original joined once.
 */
export function applyTracking(html: string, plan: TrackingPlan, hrefFor: (index: number) => string, pixel: string): string {
  const parts: string[] = [];
  let at = 0;
  let pixelDone = plan.pixelAt === null;
  plan.links.forEach(([start, end], index) => {
    if (!pixelDone && plan.pixelAt! <= start) {
      parts.push(html.slice(at, plan.pixelAt!), pixel);
      at = plan.pixelAt!;
      pixelDone = true;
    }
    parts.push(html.slice(at, start), `"${hrefFor(index)}"`);
    at = end;
  });
  if (!pixelDone) {
    parts.push(html.slice(at, plan.pixelAt!), pixel);
    at = plan.pixelAt!;
  }
  parts.push(html.slice(at));
  return parts.join('');
}
