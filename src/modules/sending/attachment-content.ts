import { isWhiteSpace } from '../../platform/white-space.js';

/** The longest media type read in a `data:<type>;base64,` prefix. */
const MAX_DATA_URL_MEDIA_TYPE = 255;

const isBase64Character = (code: number): boolean =>
  (code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a) || (code >= 0x30 && code <= 0x39) || code === 0x2b || code === 0x2f;

/** Where the base64 starts: after a `data:<type>;base64,` prefix when there is one. */
function payloadStart(content: string): number {
  if (!content.startsWith('data:')) return 0;
  const end = Math.min(content.length, 'data:'.length + MAX_DATA_URL_MEDIA_TYPE + 1);
  for (let i = 'data:'.length; i < end; i++) {
    const code = content.charCodeAt(i);
    if (code === 0x3b /* ; */ || code === 0x2c /* , */) return content.startsWith(';base64,', i) ? i + ';base64,'.length : 0;
  }
  return 0;
}

/**
 * Reads an attachment's content as clients send it: base64, possibly wrapped in lines or indented, possibly as
 * a `data:` URL. Answers the base64 without white space and the size it decodes to, or null when it is not
 * base64 (characters other than the alphabet and white space, or more than two "=" at the end).
 *
 * One pass over the content, whatever it holds: it can be 40 MB.
 */
export function readBase64Content(content: string): { base64: string; bytes: number } | null {
  const start = payloadStart(content);
  const end = content.length;
  // the content without its white space: the stretches between white space, joined
  const stretches: string[] = [];
  let stretchStart = start;
  let i = start;
  for (; i < end; i++) {
    const code = content.charCodeAt(i);
    if (isBase64Character(code)) continue;
    if (!isWhiteSpace(code)) break;
    if (i > stretchStart) stretches.push(content.slice(stretchStart, i));
    stretchStart = i + 1;
  }
  let padding = 0;
  while (padding < 2 && i < end && content.charCodeAt(i) === 0x3d /* = */) {
    padding++;
    i++;
  }
  const dataEnd = i;
  for (; i < end; i++) if (!isWhiteSpace(content.charCodeAt(i))) return null;
  if (dataEnd > stretchStart) stretches.push(content.slice(stretchStart, dataEnd));
  const base64 = stretches.length === 1 ? stretches[0]! : stretches.join('');
  return { base64, bytes: Buffer.byteLength(base64, 'base64') };
}
