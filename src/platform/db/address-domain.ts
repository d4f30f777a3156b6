import { sql, type RawBuilder } from 'kysely';
import { domainToUnicode } from 'node:url';

/**
 * SQL twin of `isWithinDomain` for an address column: true when the address's domain is `domain` or a name
 * below it. Addresses are stored as given, so both the A-label and the Unicode form of the domain match.
 * `right()` instead of LIKE: a domain may hold `_`, a LIKE wildcard.
 */
export function addressWithinDomain(column: string, domain: string): RawBuilder<boolean> {
  const addressDomain = sql<string>`lower(split_part(${sql.ref(column)}, '@', 2))`;
  const forms = [...new Set([domain.toLowerCase(), domainToUnicode(domain).toLowerCase()].filter((d) => d !== ''))];
  const matches = forms.map((d) => sql<boolean>`(${addressDomain} = ${d} OR right(${addressDomain}, ${d.length + 1}) = ${`.${d}`})`);
  return sql<boolean>`(${sql.join(matches, sql` OR `)})`;
}
