import { describe, expect, it } from 'vitest';
import { addressLiteral, orderMxRecords } from './mx-routing.js';

describe('orderMxRecords', () => {
  it('orders by preference, lower first, and drops duplicate hosts and trailing dots', () => {
    const ordered = orderMxRecords([
      { exchange: 'backup.example.test.', priority: 20 },
      { exchange: 'MX1.example.test', priority: 10 },
      { exchange: 'mx1.example.test', priority: 30 },
    ]);
    expect(ordered).toEqual(['mx1.example.test', 'backup.example.test']);
  });

  it('spreads equal preferences randomly across calls', () => {
    const records = [
      { exchange: 'a.example.test', priority: 10 },
      { exchange: 'b.example.test', priority: 10 },
    ];
    const firsts = new Set(Array.from({ length: 64 }, () => orderMxRecords(records)[0]));
    expect(firsts).toEqual(new Set(['a.example.test', 'b.example.test']));
  });
});

describe('addressLiteral', () => {
  it('recognises RFC 5321 address literals', () => {
    expect(addressLiteral('[192.0.2.1]')).toBe('192.0.2.1');
    expect(addressLiteral('[IPv6:2001:db8::1]')).toBe('2001:db8::1');
    expect(addressLiteral('example.test')).toBeNull();
    expect(addressLiteral('[not-an-ip]')).toBeNull();
  });
});
