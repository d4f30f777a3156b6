import ipaddr from 'ipaddr.js';

/** How each kind of address that is not public unicast is named in a delivery failure. */
const KINDS: Readonly<Record<string, string>> = {
  loopback: 'a loopback address',
  private: 'a private (RFC 1918) address',
  carrierGradeNat: 'a shared carrier-grade NAT (RFC 6598) address',
  linkLocal: 'a link-local address',
  uniqueLocal: 'a unique-local (fc00::/7) address',
  unspecified: 'the unspecified address',
  multicast: 'a multicast address',
  broadcast: 'the broadcast address',
  reserved: 'a reserved or documentation address',
};

/**
 * Null for a public unicast address, the only kind direct delivery may connect to; otherwise what the address
 * is. A recipient domain is anyone's to point at any address, so without this a tenant could make the server
 * open SMTP sessions to its own machine or its private network. IPv4-mapped IPv6 is judged as IPv4.
 */
export function nonPublicAddressKind(address: string): string | null {
  if (!ipaddr.isValid(address)) return 'not an IP address';
  const range = ipaddr.process(address).range();
  if (range === 'unicast') return null;
  return KINDS[range] ?? `a special-purpose address (${range})`;
}
