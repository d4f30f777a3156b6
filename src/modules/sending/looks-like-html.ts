/** A tag somewhere: "<" or "</", a letter, and a ">" anywhere after it. One pass over the body. */
export function looksLikeHtml(body: string): boolean {
  for (let at = body.indexOf('<'); at !== -1; at = body.indexOf('<', at + 1)) {
    const letter = body.charCodeAt(at + 1) === 0x2f /* / */ ? at + 2 : at + 1;
    const code = body.charCodeAt(letter) | 0x20;
    // the first such "<" leaves the most room for a ">" after it: if it has none, no later one has
    if (code >= 0x61 && code <= 0x7a) return body.indexOf('>', letter + 1) !== -1;
  }
  return false;
}
