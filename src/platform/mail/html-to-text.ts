/**
 * A small HTML → plain-text converter for the text/plain alternative of HTML-only messages.
 *
 * It is deliberately not a full HTML parser: email HTML is tag soup, and the goal is a readable
 * fallback (spam filters penalise HTML-only mail and some clients show the text part), not a
 * faithful rendering.
 */

/** Elements whose content is never visible text. */
const SKIPPED_ELEMENTS = new Set(['head', 'title', 'script', 'style', 'noscript', 'template', 'svg', 'object']);

/** Block elements that separate paragraphs with a blank line. */
const PARAGRAPH_ELEMENTS = new Set([
  'p', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'blockquote', 'pre', 'table', 'ul', 'ol', 'dl', 'hr', 'figure',
]);

/** Block elements that only need to start on their own line. */
const LINE_ELEMENTS = new Set([
  'address', 'article', 'aside', 'body', 'caption', 'center', 'dd', 'div', 'dt', 'fieldset', 'figcaption',
  'footer', 'form', 'header', 'html', 'li', 'main', 'nav', 'section', 'tbody', 'tfoot', 'thead', 'tr',
]);

/** HTML 4 names for U+00A0..U+00FF, in code point order. */
const LATIN1_ENTITY_NAMES = (
  'nbsp iexcl cent pound curren yen brvbar sect uml copy ordf laquo not shy reg macr deg plusmn sup2 sup3 ' +
  'acute micro para middot cedil sup1 ordm raquo frac14 frac12 frac34 iquest Agrave Aacute Acirc Atilde Auml ' +
  'Aring AElig Ccedil Egrave Eacute Ecirc Euml Igrave Iacute Icirc Iuml ETH Ntilde Ograve Oacute Ocirc Otilde ' +
  'Ouml times Oslash Ugrave Uacute Ucirc Uuml Yacute THORN szlig agrave aacute acirc atilde auml aring aelig ' +
  'ccedil egrave eacute ecirc euml igrave iacute icirc iuml eth ntilde ograve oacute ocirc otilde ouml divide ' +
  'oslash ugrave uacute ucirc uuml yacute thorn yuml'
).split(' ');

const NAMED_ENTITIES: Record<string, string> = {
  ...Object.fromEntries(LATIN1_ENTITY_NAMES.map((name, index) => [name, String.fromCharCode(0xa0 + index)])),
  amp: '&', lt: '<', gt: '>', quot: '"', apos: "'",
  trade: '™', hellip: '…', mdash: '—', ndash: '–', lsquo: '‘', rsquo: '’', sbquo: '‚',
  ldquo: '“', rdquo: '”', bdquo: '„', bull: '•', euro: '€', oelig: 'œ', OElig: 'Œ', scaron: 'š', Scaron: 'Š',
  // A soft hyphen is invisible unless a line breaks there, which plain text never does.
  shy: '', zwnj: '\u200c', zwj: '\u200d', ensp: '\u2002', emsp: '\u2003', thinsp: '\u2009',
};

const COMMENT = /<!--[\s\S]*?(?:-->|$)/y;
const DECLARATION = /<[!?][^>]*>/y;
const TAG = /<(\/?)([a-zA-Z][\w:-]*)((?:[^>"']|"[^"]*"|'[^']*')*)>/y;
const ATTRIBUTE = /([^\s=/>]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+)))?/g;

export function decodeHtmlEntities(text: string): string {
  return text.replace(/&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[a-zA-Z][a-zA-Z0-9]{1,31});/g, (whole, body: string) => {
    if (body.startsWith('#')) {
      const codePoint = body[1] === 'x' || body[1] === 'X' ? parseInt(body.slice(2), 16) : parseInt(body.slice(1), 10);
      const invalid = codePoint === 0 || codePoint > 0x10ffff || (codePoint >= 0xd800 && codePoint <= 0xdfff);
      return invalid ? '\ufffd' : String.fromCodePoint(codePoint);
    }
    return NAMED_ENTITIES[body] ?? NAMED_ENTITIES[body.toLowerCase()] ?? whole;
  });
}

function parseAttributes(source: string): Map<string, string> {
  const attributes = new Map<string, string>();
  for (const match of source.matchAll(ATTRIBUTE)) {
    const name = match[1];
    if (name === undefined) continue;
    const value = match[2] ?? match[3] ?? match[4] ?? '';
    attributes.set(name.toLowerCase(), decodeHtmlEntities(value));
  }
  return attributes;
}

/** Accumulates output while keeping whitespace tidy at line boundaries. */
class TextBuilder {
  private out = '';

  get length(): number {
    return this.out.length;
  }

  slice(start: number): string {
    return this.out.slice(start);
  }

  /** Appends text whose whitespace has already been collapsed to single spaces. */
  inline(text: string): void {
    let value = text;
    if (this.out === '' || this.out.endsWith('\n') || this.out.endsWith(' ')) value = value.replace(/^ +/, '');
    this.out += value;
  }

  /** Appends text verbatim (for <pre>). */
  verbatim(text: string): void {
    this.out += text;
  }

  /** Ensures the output ends with at least `count` line breaks (never at the very start). */
  breakLines(count: 1 | 2): void {
    this.out = this.out.replace(/[ \t]+$/, '');
    if (this.out === '') return;
    const existing = /\n*$/.exec(this.out)?.[0].length ?? 0;
    if (existing < count) this.out += '\n'.repeat(count - existing);
  }

  lineBreak(): void {
    this.out = this.out.replace(/[ \t]+$/, '');
    this.out += '\n';
  }

  toString(): string {
    return this.out;
  }
}

interface OpenLink {
  href: string;
  start: number;
}

function linkSuffix(href: string, linkText: string): string {
  const target = href.trim();
  if (target === '' || target.startsWith('#') || /^javascript:/i.test(target)) return '';
  const shown = /^mailto:/i.test(target) ? target.slice('mailto:'.length) : target;
  if (linkText === '') return shown;
  if (linkText === shown || linkText === target) return '';
  return ` (${shown})`;
}

export function htmlToText(html: string): string {
  const builder = new TextBuilder();
  const links: OpenLink[] = [];
  let preDepth = 0;
  let position = 0;

  const emitText = (raw: string): void => {
    if (preDepth > 0) builder.verbatim(decodeHtmlEntities(raw.replace(/\r\n?/g, '\n')));
    else builder.inline(decodeHtmlEntities(raw.replace(/[ \t\r\n\f]+/g, ' ')));
  };

  while (position < html.length) {
    const next = html.indexOf('<', position);
    if (next === -1) {
      emitText(html.slice(position));
      break;
    }
    if (next > position) emitText(html.slice(position, next));
    position = next;

    COMMENT.lastIndex = position;
    DECLARATION.lastIndex = position;
    TAG.lastIndex = position;
    if (COMMENT.test(html)) {
      position = COMMENT.lastIndex;
      continue;
    }
    if (DECLARATION.test(html)) {
      position = DECLARATION.lastIndex;
      continue;
    }
    const tag = TAG.exec(html);
    if (!tag) {
      // A stray "<" that does not start a tag is just text.
      emitText('<');
      position += 1;
      continue;
    }
    position = TAG.lastIndex;
    const closing = tag[1] === '/';
    const name = (tag[2] ?? '').toLowerCase();
    const attributeSource = tag[3] ?? '';
    const selfClosing = attributeSource.trimEnd().endsWith('/');

    if (!closing && SKIPPED_ELEMENTS.has(name)) {
      if (selfClosing) continue;
      const end = new RegExp(`</${name}\\s*>`, 'ig');
      end.lastIndex = position;
      position = end.exec(html) ? end.lastIndex : html.length;
      continue;
    }

    if (name === 'br') {
      builder.lineBreak();
    } else if (name === 'a') {
      if (!closing) {
        links.push({ href: parseAttributes(attributeSource).get('href') ?? '', start: builder.length });
      } else {
        const link = links.pop();
        if (link) builder.inline(linkSuffix(link.href, builder.slice(link.start).trim()));
      }
    } else if (name === 'img' && !closing) {
      const alt = parseAttributes(attributeSource).get('alt')?.trim();
      if (alt) builder.inline(` ${alt} `);
    } else if (name === 'td' || name === 'th') {
      if (!closing) builder.inline(' ');
    } else if (name === 'li' && !closing) {
      builder.breakLines(1);
      builder.inline('- ');
    } else if (PARAGRAPH_ELEMENTS.has(name)) {
      builder.breakLines(2);
      if (name === 'pre') preDepth = Math.max(0, preDepth + (closing ? -1 : 1));
    } else if (LINE_ELEMENTS.has(name)) {
      builder.breakLines(1);
    }
  }

  return builder
    .toString()
    .replace(/\u00a0/g, ' ')
    .split('\n')
    .map((line) => line.trimEnd())
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}
