/** Shown instead of a secret. */
export const REDACTED = '[redacted]';

/** Settings whose whole value is a secret (SECRET_KEY, and any *_PASSWORD, *_TOKEN, *_SECRET added later). */
const SECRET_SETTING = /(?:^|_)(?:SECRET|PASSWORD|TOKEN)(?:_KEY)?$/;

export function isSecretSetting(name: string): boolean {
  return SECRET_SETTING.test(name);
}

/**
 * Replaces the password of every `scheme://user:password@host` in the text with `***`. The userinfo runs to
 * the last `@` before a space or quote, so a password holding an unencoded `/` or `@` is hidden too (a
 * misquoted URL is exactly what a configuration error shows).
 */
export function redactUrlPasswords(text: string): string {
  let out = '';
  let from = 0;
  for (let at = text.indexOf('://'); at !== -1; at = text.indexOf('://', from)) {
    const start = at + 3;
    let end = start;
    while (end < text.length && !/[\s"'`]/.test(text[end]!)) end++;
    const token = text.slice(start, end);
    const userinfo = token.slice(0, Math.max(0, token.lastIndexOf('@')));
    const colon = userinfo.indexOf(':');
    out += text.slice(from, start);
    out += colon === -1 ? token : `${userinfo.slice(0, colon)}:***${token.slice(userinfo.length)}`;
    from = end;
  }
  return out + text.slice(from);
}

/** A *_URL setting mistyped without "://" (`smtps//user:pw@host`) still holds its credentials before the last `@`. */
function mistypedUserinfo(name: string, raw: string): string | null {
  return name.endsWith('_URL') && !raw.includes('://') && raw.includes('@') ? raw.slice(0, raw.lastIndexOf('@')) : null;
}

/** A setting's value as configuration errors quote it: secrets never, URL passwords hidden. */
export function displaySetting(name: string, raw: string): string {
  if (isSecretSetting(name)) return REDACTED;
  const userinfo = mistypedUserinfo(name, raw);
  return JSON.stringify(userinfo === null ? redactUrlPasswords(raw) : `***${raw.slice(userinfo.length)}`);
}

/** Secrets the environment holds (whole secret settings, URL passwords as written and decoded), longest first. */
function secretsIn(env: Record<string, string | undefined>): string[] {
  const found = new Set<string>();
  for (const [name, value] of Object.entries(env)) {
    if (!value) continue;
    if (isSecretSetting(name)) found.add(value.trim());
    const userinfo = mistypedUserinfo(name, value);
    if (userinfo !== null) found.add(userinfo);
    for (const m of value.matchAll(/:\/\/[^:@\s/]*:([^\s]*)@/g)) {
      const password = m[1]!;
      found.add(password);
      try {
        found.add(decodeURIComponent(password));
      } catch {
        // not percent-encoded text: the raw form is enough
      }
    }
  }
  // very short values would blank out unrelated text and are no secret worth the name anyway
  return [...found].filter((s) => s.length >= 4).sort((a, b) => b.length - a.length);
}

/**
 * Last line of defence for text printed when the process fails (an error's message or stack): hides URL
 * passwords and any secret of the environment that a library may have copied into its message.
 */
export function redactSecrets(text: string, env: Record<string, string | undefined> = process.env): string {
  let out = redactUrlPasswords(text);
  for (const secret of secretsIn(env)) out = out.split(secret).join(REDACTED);
  return out;
}
