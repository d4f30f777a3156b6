/**
 * `name` as the PHP SDK, the CLI and the subscribe form send it, split at the first space (spec §4.3): "Ada King
 * Lovelace" → first "Ada", last "King Lovelace". Runs of white space count as one; an empty name gives neither.
 */
export function splitName(name: string): { first: string | null; last: string | null } {
  const [head, ...rest] = name.trim().split(/\s+/);
  return { first: head ? head : null, last: rest.length > 0 ? rest.join(' ') : null };
}
