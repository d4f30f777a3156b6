import { describe, expect, it } from 'vitest';
import { nonPublicAddressKind } from './mx-address-policy.js';

describe('nonPublicAddressKind', () => {
  it('lets only public unicast addresses through', () => {
    for (const address of ['8.8.8.8', '198.252.206.16', '2606:4700:4700::1111', '2a00:1450:4001:80b::201a', '::ffff:8.8.8.8']) {
      expect(nonPublicAddressKind(address), address).toBeNull();
    }
  });

  it('names every other kind', () => {
    const cases: [string, string][] = [
      ['127.0.0.1', 'loopback'],
      ['127.8.9.10', 'loopback'],
      ['::1', 'loopback'],
      ['::ffff:127.0.0.1', 'loopback'],
      ['10.1.2.3', 'private (RFC 1918)'],
      ['172.16.5.4', 'private (RFC 1918)'],
      ['192.168.0.1', 'private (RFC 1918)'],
      ['100.64.0.1', 'carrier-grade NAT'],
      ['169.254.169.254', 'link-local'],
      ['fe80::1', 'link-local'],
      ['fc00::1', 'unique-local'],
      ['fd12:3456::1', 'unique-local'],
      ['0.0.0.0', 'unspecified'],
      ['::', 'unspecified'],
      ['224.0.0.1', 'multicast'],
      ['ff02::1', 'multicast'],
      ['255.255.255.255', 'broadcast'],
      ['192.0.2.1', 'documentation'],
      ['198.51.100.7', 'documentation'],
      ['203.0.113.9', 'documentation'],
      ['2001:db8::1', 'documentation'],
      ['240.0.0.1', 'reserved'],
      ['2002:7f00:1::1', 'special-purpose'],
      ['not-an-ip', 'not an IP address'],
    ];
    for (const [address, kind] of cases) expect(nonPublicAddressKind(address), address).toContain(kind);
  });
});
