import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseProxyHeader } from '../../balancer/edge/proxy-protocol.js';

const SIG = Buffer.from('0d0a0d0a000d0a515549540a', 'hex');

/** A v2 header: version 2, `command` (0 LOCAL, 1 PROXY), family/protocol byte, then `body`. */
function v2(command: number, famProto: number, body: Buffer): Buffer {
  const len = Buffer.alloc(2);
  len.writeUInt16BE(body.length);
  return Buffer.concat([SIG, Buffer.from([0x20 | command, famProto]), len, body]);
}

function ipv4Body(src: number[], dst: number[], sport: number, dport: number, tlv = Buffer.alloc(0)): Buffer {
  const ports = Buffer.alloc(4);
  ports.writeUInt16BE(sport, 0);
  ports.writeUInt16BE(dport, 2);
  return Buffer.concat([Buffer.from(src), Buffer.from(dst), ports, tlv]);
}

describe('PROXY protocol header', () => {
  it('reads v1 for TCP4, TCP6 and UNKNOWN, and says how long it is', () => {
    const h = Buffer.from('PROXY TCP4 203.0.113.9 10.0.0.1 51000 443\r\nGET / HTTP/1.1\r\n', 'latin1');
    assert.deepEqual(parseProxyHeader(h), { kind: 'header', length: 43, source: { address: '203.0.113.9', port: 51000 } });
    assert.deepEqual(parseProxyHeader(Buffer.from('PROXY TCP6 2001:db8::7 2001:db8::1 1 2\r\n')), {
      kind: 'header',
      length: 40,
      source: { address: '2001:db8::7', port: 1 },
    });
    assert.deepEqual(parseProxyHeader(Buffer.from('PROXY UNKNOWN\r\n')), { kind: 'header', length: 15, source: undefined });
  });

  it('waits for the rest of a header, and refuses one that cannot be one', () => {
    for (const partial of ['P', 'PROXY TCP4 203.0.113.9', 'PROXY TCP4 203.0.113.9 10.0.0.1 1 2\r'])
      assert.equal(parseProxyHeader(Buffer.from(partial)).kind, 'more', partial);
    for (const bad of [
      'GET / HTTP/1.1\r\n',
      'PROXY TCP4 203.0.113.9 10.0.0.1 1\r\n',
      'PROXY TCP4 2001:db8::1 10.0.0.1 1 2\r\n',
      'PROXY TCP6 203.0.113.9 10.0.0.1 1 2\r\n',
      'PROXY TCP4 203.0.113.9 10.0.0.1 65536 2\r\n',
      'PROXY TCP4 203.0.113.9 10.0.0.1 01 2\r\n',
      'PROXY UDP4 203.0.113.9 10.0.0.1 1 2\r\n',
      `PROXY TCP4 ${'1'.repeat(120)}`,
      'PROXZ ',
    ])
      assert.equal(parseProxyHeader(Buffer.from(bad, 'latin1')).kind, 'invalid', bad.slice(0, 40));
  });

  it('reads v2 PROXY for TCP over IPv4 and IPv6 (TLVs skipped), LOCAL, UNSPEC and AF_UNIX', () => {
    const four = v2(1, 0x11, ipv4Body([203, 0, 113, 9], [10, 0, 0, 1], 51000, 443, Buffer.from([0x01, 0x00, 0x02, 0x68, 0x32])));
    assert.deepEqual(parseProxyHeader(Buffer.concat([four, Buffer.from('rest')])), {
      kind: 'header',
      length: four.length,
      source: { address: '203.0.113.9', port: 51000 },
    });
    const six = Buffer.alloc(36);
    Buffer.from('20010db8000000000000000000000007', 'hex').copy(six, 0);
    six.writeUInt16BE(40000, 32);
    assert.deepEqual(parseProxyHeader(v2(1, 0x21, six)), { kind: 'header', length: 52, source: { address: '2001:db8::7', port: 40000 } });
    assert.deepEqual(parseProxyHeader(v2(0, 0x00, Buffer.alloc(0))), { kind: 'header', length: 16, source: undefined }, 'LOCAL');
    assert.deepEqual(parseProxyHeader(v2(1, 0x00, Buffer.alloc(0))), { kind: 'header', length: 16, source: undefined }, 'UNSPEC');
    assert.deepEqual(parseProxyHeader(v2(1, 0x31, Buffer.alloc(216))), { kind: 'header', length: 232, source: undefined }, 'AF_UNIX');
  });

  it('waits for a v2 header in pieces, and refuses another version, an unknown command, a short address block, or one past 1 KiB', () => {
    const four = v2(1, 0x11, ipv4Body([1, 2, 3, 4], [5, 6, 7, 8], 1, 2));
    for (let n = 1; n < four.length; n++) assert.equal(parseProxyHeader(four.subarray(0, n)).kind, 'more', `${n} bytes`);
    const other = Buffer.from(four);
    other[12] = 0x11;
    assert.equal(parseProxyHeader(other).kind, 'invalid');
    assert.equal(parseProxyHeader(v2(2, 0x11, ipv4Body([1, 2, 3, 4], [5, 6, 7, 8], 1, 2))).kind, 'invalid');
    assert.equal(parseProxyHeader(v2(1, 0x11, Buffer.alloc(8))).kind, 'invalid');
    assert.equal(parseProxyHeader(v2(1, 0x21, Buffer.alloc(20))).kind, 'invalid');
    const huge = Buffer.concat([SIG, Buffer.from([0x21, 0x11, 0x04, 0x01])]);
    assert.equal(parseProxyHeader(huge).kind, 'invalid');
  });
});
