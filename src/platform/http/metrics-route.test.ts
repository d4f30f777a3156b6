import { describe, expect, it } from 'vitest';
import { isLoopbackAddress } from './metrics-route.js';

describe('isLoopbackAddress (the socket peer GET /metrics answers without a token)', () => {
  it('is true for 127.0.0.0/8 and ::1, also written as IPv4-mapped IPv6', () => {
    for (const a of ['127.0.0.1', '127.5.6.7', '::1', '::ffff:127.0.0.1', '0:0:0:0:0:0:0:1']) expect(isLoopbackAddress(a), a).toBe(true);
  });

  it('is false for every other address, for nothing and for what is no address', () => {
    for (const a of ['192.0.2.2', '10.0.0.1', '::ffff:10.0.0.1', 'fe80::1', '::', '0.0.0.0', '128.0.0.1', 'localhost', '', undefined]) expect(isLoopbackAddress(a), String(a)).toBe(false);
  });
});
