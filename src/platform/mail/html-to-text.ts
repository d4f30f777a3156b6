/**
 * A small HTML → plain-text converter for the text/plain alternative of HTML-only messages.
 *
 * It is deliberately not a full HTML parser: email HTML is tag soup, and the goal is a readable
 * fallback (spam filters penalise HTML-only mail and some clients show the text part), not a
 * faithful rendering.
 *
 * It reads any input in time linear in its length: hand-written scanners instead of backtracking patterns,
 * failed searches remembered, and an output builder that never reads its own output back.
 */

import { isWhiteSpace } from '../white-space.js';

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

const GT = 0x3e;
const SLASH = 0x2f;
const EQUALS = 0x3d;
const DOUBLE_QUOTE = 0x22;
const SINGLE_QUOTE = 0x27;
const SPACE = 0x20;
const TAB = 0x09;
const LINE_FEED = 0x0a;

const isAsciiLetter = (code: number): boolean => (code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a);
const isDigit = (code: number): boolean => code >= 0x30 && code <= 0x39;
/** `[\w:-]`: the characters of a tag name after its first letter. */
const isTagNameCharacter = (code: number): boolean => isAsciiLetter(code) || isDigit(code) || code === 0x5f || code === 0x3a || code === 0x2d;
const asciiLowerCase = (code: number): number => (code >= 0x41 && code <= 0x5a ? code + 0x20 : code);

// Entity references are at most 33 characters long, so this pattern does bounded work at each "&".
const ENTITY = /&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[a-zA-Z][a-zA-Z0-9]{1,31});/g;

export function decodeHtmlEntities(text: string): string {
  if (!text.includes('&')) return text;
  return text.replace(ENTITY, (whole, body: string) => {
    if (body.startsWith('#')) {
      const codePoint = body[1] === 'x' || body[1] === 'X' ? parseInt(body.slice(2), 16) : parseInt(body.slice(1), 10);
      const invalid = codePoint === 0 || codePoint > 0x10ffff || (codePoint >= 0xd800 && codePoint <= 0xdfff);
      return invalid ? '\ufffd' : String.fromCodePoint(codePoint);
    }
    return NAMED_ENTITIES[body] ?? NAMED_ENTITIES[body.toLowerCase()] ?? whole;
  });
}

const endsAttributeName = (code: number): boolean => isWhiteSpace(code) || code === EQUALS || code === SLASH || code === GT;

/**
 * `name`, `name=value`, `name="value"` and `name='value'` pairs, later ones winning; a quote that is never
 * closed starts an unquoted value. One pass: each character is looked at a bounded number of times.
 */
function parseAttributes(source: string): Map<string, string> {
  const attributes = new Map<string, string>();
  const end = source.length;
  let i = 0;
  for (;;) {
    while (i < end && endsAttributeName(source.charCodeAt(i))) i++;
    if (i >= end) return attributes;
    const nameStart = i;
    while (i < end && !endsAttributeName(source.charCodeAt(i))) i++;
    const name = source.slice(nameStart, i);
    let value = '';
    let j = i;
    while (j < end && isWhiteSpace(source.charCodeAt(j))) j++;
    if (j < end && source.charCodeAt(j) === EQUALS) {
      j++;
      while (j < end && isWhiteSpace(source.charCodeAt(j))) j++;
      const first = j < end ? source.charCodeAt(j) : -1;
      const close = first === DOUBLE_QUOTE || first === SINGLE_QUOTE ? source.indexOf(source[j]!, j + 1) : -1;
      if (close !== -1) {
        value = source.slice(j + 1, close);
        i = close + 1;
      } else if (first !== -1 && first !== GT && !isWhiteSpace(first)) {
        let k = j;
        while (k < end && source.charCodeAt(k) !== GT && !isWhiteSpace(source.charCodeAt(k))) k++;
        value = source.slice(j, k);
        i = k;
      }
    }
    attributes.set(name.toLowerCase(), decodeHtmlEntities(value));
  }
}

/**
 * Where a link's visible text starts in the output; unset until its first visible character arrives. Links
 * opened with no visible character between them share one.
 */
interface LinkText {
  start: { chunk: number; offset: number; at: number } | null;
}

/**
 * Accumulates output while keeping whitespace tidy at line boundaries.
 *
 * Every operation costs the length of what it appends: the builder never reads back its own output, it keeps
 * what the line rules need (trailing blanks, trailing line breaks, the last visible character) as counters, so
 * thousands of line breaks cost no more than thousands of characters.
 */
class TextBuilder {
  private readonly chunks: string[] = [];
  private length = 0;
  private lastCharacter = -1;
  /** spaces and tabs at the very end, dropped before a line break */
  private trailingBlanks = 0;
  /** line breaks just before those trailing blanks */
  private trailingLineBreaks = 0;
  /** end of the last character that is not white space */
  private visibleEnd = 0;
  /** the start shared by the links opened since the last visible character */
  private awaitingText: LinkText | null = null;

  /** Appends text whose whitespace has already been collapsed to single spaces. */
  inline(text: string): void {
    let from = 0;
    if (this.length === 0 || this.lastCharacter === LINE_FEED || this.lastCharacter === SPACE) {
      while (from < text.length && text.charCodeAt(from) === SPACE) from++;
    }
    this.append(from === 0 ? text : text.slice(from));
  }

  /** Appends text verbatim (for <pre>). */
  verbatim(text: string): void {
    this.append(text);
  }

  /** Ensures the output ends with at least `count` line breaks (never at the very start). */
  breakLines(count: 1 | 2): void {
    this.dropTrailingBlanks();
    if (this.length === 0) return;
    if (this.trailingLineBreaks < count) this.append('\n'.repeat(count - this.trailingLineBreaks));
  }

  lineBreak(): void {
    this.dropTrailingBlanks();
    this.append('\n');
  }

  /** Marks where a link's text starts: what is appended from now on. */
  openLink(): LinkText {
    this.awaitingText ??= { start: null };
    return this.awaitingText;
  }

  /**
   * The link's text with white space trimmed from both ends, or null when it is longer than `limit` (callers
   * only compare it with strings of at most that length, so reading more would be wasted work).
   */
  linkText(link: LinkText, limit: number): string | null {
    const start = link.start;
    if (start === null) return '';
    let remaining = this.visibleEnd - start.at;
    if (remaining > limit) return null;
    let text = '';
    for (let chunk = start.chunk, offset = start.offset; remaining > 0; chunk++, offset = 0) {
      const piece = this.chunks[chunk]!;
      const take = Math.min(piece.length - offset, remaining);
      text += piece.slice(offset, offset + take);
      remaining -= take;
    }
    return text;
  }

  toString(): string {
    return this.chunks.join('');
  }

  private append(text: string): void {
    if (text === '') return;
    const end = text.length;
    let blanks = 0;
    while (blanks < end && isBlank(text.charCodeAt(end - 1 - blanks))) blanks++;
    let lineBreaks = 0;
    while (blanks + lineBreaks < end && text.charCodeAt(end - 1 - blanks - lineBreaks) === LINE_FEED) lineBreaks++;
    if (blanks === end) {
      this.trailingBlanks += blanks;
    } else {
      const continuesLineBreaks = blanks + lineBreaks === end && this.trailingBlanks === 0;
      this.trailingLineBreaks = (continuesLineBreaks ? this.trailingLineBreaks : 0) + lineBreaks;
      this.trailingBlanks = blanks;
    }

    // short pieces (a line break, a word) join the last chunk, so the chunks stay few
    const lastChunk = this.chunks.length - 1;
    const joinsLast = lastChunk >= 0 && this.chunks[lastChunk]!.length + end <= SHORT_CHUNK;
    let lastVisible = end - 1 - blanks - lineBreaks;
    while (lastVisible >= 0 && isWhiteSpace(text.charCodeAt(lastVisible))) lastVisible--;
    if (lastVisible >= 0) {
      this.visibleEnd = this.length + lastVisible + 1;
      if (this.awaitingText !== null) {
        let firstVisible = 0;
        while (isWhiteSpace(text.charCodeAt(firstVisible))) firstVisible++;
        this.awaitingText.start = joinsLast
          ? { chunk: lastChunk, offset: this.chunks[lastChunk]!.length + firstVisible, at: this.length + firstVisible }
          : { chunk: lastChunk + 1, offset: firstVisible, at: this.length + firstVisible };
        this.awaitingText = null;
      }
    }

    if (joinsLast) this.chunks[lastChunk] += text;
    else this.chunks.push(text);
    this.length += end;
    this.lastCharacter = text.charCodeAt(end - 1);
  }

  /** Removes the trailing spaces and tabs; they only ever sit at the end, so whole chunks or one chunk's tail go. */
  private dropTrailingBlanks(): void {
    let excess = this.trailingBlanks;
    if (excess === 0) return;
    this.trailingBlanks = 0;
    this.length -= excess;
    while (excess > 0) {
      const last = this.chunks[this.chunks.length - 1]!;
      if (last.length <= excess) {
        this.chunks.pop();
        excess -= last.length;
      } else {
        this.chunks[this.chunks.length - 1] = last.slice(0, last.length - excess);
        excess = 0;
      }
    }
    const last = this.chunks[this.chunks.length - 1];
    this.lastCharacter = last === undefined ? -1 : last.charCodeAt(last.length - 1);
  }
}

const isBlank = (code: number): boolean => code === SPACE || code === TAB;
const SHORT_CHUNK = 64;

/** " (url)" after a link's text, the url alone for a link without text, or nothing when the text is the url. */
function linkSuffix(href: string, builder: TextBuilder, link: LinkText): string {
  const target = href.trim();
  if (target === '' || target.startsWith('#') || /^javascript:/i.test(target)) return '';
  const shown = /^mailto:/i.test(target) ? target.slice('mailto:'.length) : target;
  const linkText = builder.linkText(link, target.length);
  if (linkText === '') return shown;
  if (linkText === shown || linkText === target) return '';
  return ` (${shown})`;
}

/**
 * Finds markup in HTML in time linear in its length, however it is malformed: every search that can fail is
 * remembered, so a "<" that starts no markup (like thousands of "<a" with no ">") costs one step, not a scan
 * to the end of the input.
 */
class MarkupScanner {
  private greaterThanFrom = -1;
  private greaterThanAt = -1;
  /** one bit per position: a tag's attributes read from there run to the end without a closing ">" */
  private unclosedFrom: Uint8Array | null = null;

  /** The last tag read: its lower-case name ('' after a comment or declaration), and where its attributes are. */
  tagName = '';
  closing = false;
  private attributesStart = 0;
  private attributesEnd = 0;

  constructor(private readonly html: string) {}

  /** Reads the comment, declaration or tag starting at `at` (a "<"): its end, or -1 when that "<" is just text. */
  read(at: number): number {
    const html = this.html;
    this.tagName = '';
    const next = html.charCodeAt(at + 1);
    if (next === 0x21 /* ! */ || next === 0x3f /* ? */) {
      if (next === 0x21 && html.startsWith('--', at + 2)) {
        // an unterminated comment hides the rest of the document
        const close = html.indexOf('-->', at + 4);
        return close === -1 ? html.length : close + 3;
      }
      const close = this.nextGreaterThan(at + 2);
      return close === -1 ? -1 : close + 1;
    }
    let i = at + 1;
    const closing = next === SLASH;
    if (closing) i++;
    if (!isAsciiLetter(html.charCodeAt(i))) return -1;
    const nameStart = i;
    while (i < html.length && isTagNameCharacter(html.charCodeAt(i))) i++;
    const close = this.tagEnd(i);
    if (close === -1) return -1;
    this.tagName = html.slice(nameStart, i).toLowerCase();
    this.closing = closing;
    this.attributesStart = i;
    this.attributesEnd = close;
    return close + 1;
  }

  /** The attributes of the last tag read. */
  attributes(): Map<string, string> {
    return this.attributesStart === this.attributesEnd ? new Map() : parseAttributes(this.html.slice(this.attributesStart, this.attributesEnd));
  }

  /** Whether the last tag read ends in "/>". */
  selfClosing(): boolean {
    let i = this.attributesEnd - 1;
    while (i >= this.attributesStart && isWhiteSpace(this.html.charCodeAt(i))) i--;
    return i >= this.attributesStart && this.html.charCodeAt(i) === SLASH;
  }

  /** The end of `</name>` (any case, white space before ">") at or after `from`, or the end of the input. */
  endOfElement(name: string, from: number): number {
    const html = this.html;
    for (let at = html.indexOf('</', from); at !== -1; at = html.indexOf('</', at + 2)) {
      let i = at + 2;
      let matched = 0;
      while (matched < name.length && asciiLowerCase(html.charCodeAt(i)) === name.charCodeAt(matched)) {
        matched++;
        i++;
      }
      if (matched < name.length) continue;
      while (i < html.length && isWhiteSpace(html.charCodeAt(i))) i++;
      if (html.charCodeAt(i) === GT) return i + 1;
    }
    return html.length;
  }

  /** Searches start ever further on, so the last answer is still right while it lies ahead. */
  private nextGreaterThan(from: number): number {
    if (this.greaterThanFrom === -1 || from < this.greaterThanFrom || (this.greaterThanAt !== -1 && this.greaterThanAt < from)) {
      this.greaterThanFrom = from;
      this.greaterThanAt = this.html.indexOf('>', from);
    }
    return this.greaterThanAt;
  }

  /**
   * The ">" ending a tag whose attributes start at `from`, skipping quoted values, or -1 when there is none.
   * A failed search marks every position it read outside quotes: a later search reaching one of them fails
   * at once, as it would have followed the same path.
   */
  private tagEnd(from: number): number {
    const close = this.followAttributes(from, false);
    if (close === -1) this.followAttributes(from, true);
    return close;
  }

  private followAttributes(from: number, markFailure: boolean): number {
    const html = this.html;
    if (markFailure) this.unclosedFrom ??= new Uint8Array((html.length >> 3) + 1);
    const unclosed = this.unclosedFrom;
    let i = from;
    while (i < html.length) {
      if (unclosed !== null) {
        const bit = 1 << (i & 7);
        if ((unclosed[i >> 3]! & bit) !== 0) return -1;
        if (markFailure) unclosed[i >> 3]! |= bit;
      }
      const code = html.charCodeAt(i);
      if (code === GT) return i;
      if (code === DOUBLE_QUOTE || code === SINGLE_QUOTE) {
        const quoteEnd = html.indexOf(html[i]!, i + 1);
        if (quoteEnd === -1) return -1;
        i = quoteEnd + 1;
      } else {
        i++;
      }
    }
    return -1;
  }
}

/** Runs of HTML source white space that are not already one space: they become one space. */
const SOURCE_WHITE_SPACE = /[\t\n\f\r][ \t\n\f\r]*| [ \t\n\f\r]+/g;

export function htmlToText(html: string): string {
  const builder = new TextBuilder();
  const scanner = new MarkupScanner(html);
  // open links, innermost last: their targets and where their texts start
  const linkTargets: string[] = [];
  const linkTexts: LinkText[] = [];
  let preDepth = 0;
  // text runs up to the next real markup: a "<" that starts none is part of it
  let textStart = 0;
  let position = 0;

  const emitText = (raw: string): void => {
    if (preDepth > 0) builder.verbatim(decodeHtmlEntities(raw.replace(/\r\n?/g, '\n')));
    else builder.inline(decodeHtmlEntities(raw.replace(SOURCE_WHITE_SPACE, ' ')));
  };

  for (;;) {
    const at = html.indexOf('<', position);
    if (at === -1) break;
    const end = scanner.read(at);
    if (end === -1) {
      position = at + 1;
      continue;
    }
    if (at > textStart) emitText(html.slice(textStart, at));
    position = textStart = end;
    const { tagName: name, closing } = scanner;
    if (name === '') continue;

    if (!closing && SKIPPED_ELEMENTS.has(name)) {
      if (scanner.selfClosing()) continue;
      position = textStart = scanner.endOfElement(name, position);
      continue;
    }

    if (name === 'br') {
      builder.lineBreak();
    } else if (name === 'a') {
      if (!closing) {
        linkTargets.push(scanner.attributes().get('href') ?? '');
        linkTexts.push(builder.openLink());
      } else if (linkTexts.length > 0) {
        builder.inline(linkSuffix(linkTargets.pop()!, builder, linkTexts.pop()!));
      }
    } else if (name === 'img' && !closing) {
      const alt = scanner.attributes().get('alt')?.trim();
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
  if (textStart < html.length) emitText(html.slice(textStart));

  return tidyLines(builder.toString().replace(/\u00a0/g, ' '));
}

/**
 * Trims the end of every line, turns runs of empty lines into one, and trims the whole text, in one pass that
 * copies unchanged stretches of lines as one piece.
 */
function tidyLines(text: string): string {
  const pieces: string[] = [];
  // the stretch of text kept as it is, from the first line written to the end of the last one
  let keptStart = -1;
  let keptEnd = -1;
  let emptyLines = 0;
  for (let lineStart = 0; lineStart <= text.length; ) {
    let lineEnd = text.indexOf('\n', lineStart);
    if (lineEnd === -1) lineEnd = text.length;
    let end = lineEnd;
    while (end > lineStart && isWhiteSpace(text.charCodeAt(end - 1))) end--;
    if (end === lineStart) {
      emptyLines++;
    } else if (keptStart === -1) {
      keptStart = lineStart;
      while (isWhiteSpace(text.charCodeAt(keptStart))) keptStart++;
      keptEnd = end;
      emptyLines = 0;
    } else {
      const separator = emptyLines > 0 ? '\n\n' : '\n';
      // what lies between is exactly the separator when nothing was trimmed or dropped there
      if (lineStart - keptEnd !== separator.length) {
        pieces.push(text.slice(keptStart, keptEnd), separator);
        keptStart = lineStart;
      }
      keptEnd = end;
      emptyLines = 0;
    }
    lineStart = lineEnd + 1;
  }
  if (keptStart !== -1) pieces.push(text.slice(keptStart, keptEnd));
  return pieces.join('');
}
