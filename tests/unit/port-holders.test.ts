import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addressInUse, holdersOf } from '../../balancer/port-holders.js';
import { parseProcNetTcp, socketInodeOfLink, TCP_LISTEN } from '../../common/proc-net-tcp.js';

/*
 * Who listens on a port, from the kernel's own table: a balancer with a
 * group of SO_REUSEPORT sockets checks it instead of binding a probe socket
 * (a probe that listens can accept a client's connection and then reset it).
 */

const HEADER = '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode';
const row = (sl: number, local: string, st: string, inode: number): string =>
  `  ${sl}: ${local} 00000000:0000 ${st} 00000000:00000000 00:00000000 00000000     0        0 ${inode} 1 0000000000000000 100 0 0 10 0`;

const TCP4 = [
  HEADER,
  row(0, '0100007F:2382', '0A', 1001), // 127.0.0.1:9090 LISTEN
  row(1, '00000000:1F90', '0A', 1002), // 0.0.0.0:8080 LISTEN
  row(2, '0100007F:2382', '01', 1003), // 127.0.0.1:9090 ESTABLISHED: not a listener
  row(3, '0200007F:2382', '0A', 1004), // 127.0.0.2:9090 LISTEN
  '   4: garbage',
].join('\n');

const TCP6 = [
  HEADER,
  row(0, '00000000000000000000000001000000:2382', '0A', 2001), // [::1]:9090
  row(1, '0000000000000000FFFF00000100007F:1F91', '0A', 2002), // [::ffff:127.0.0.1]:8081
  row(2, '00000000000000000000000000000000:1F92', '0A', 2003), // [::]:8082
].join('\n');

const brief = (text: string): string[] => parseProcNetTcp(text).map((e) => `${e.localAddress} ${e.localPort} ${e.state} ${e.inode}`);

test('parseProcNetTcp reads the rows of /proc/net/tcp, byte order undone, and skips the header and malformed rows', () => {
  assert.deepEqual(brief(TCP4), ['127.0.0.1 9090 10 1001', '0.0.0.0 8080 10 1002', '127.0.0.1 9090 1 1003', '127.0.0.2 9090 10 1004']);
});

test('parseProcNetTcp reads /proc/net/tcp6: IPv6, IPv4-mapped as dotted IPv4, and the wildcard', () => {
  assert.deepEqual(brief(TCP6), ['0:0:0:0:0:0:0:1 9090 10 2001', '127.0.0.1 8081 10 2002', '0:0:0:0:0:0:0:0 8082 10 2003']);
});

test('socketInodeOfLink takes the inode of a socket link and nothing else', () => {
  assert.equal(socketInodeOfLink('socket:[12345]'), 12345);
  assert.equal(socketInodeOfLink('pipe:[12345]'), undefined);
  assert.equal(socketInodeOfLink('/dev/null'), undefined);
  assert.equal(TCP_LISTEN, 10);
});

test('holdersOf: sockets in LISTEN on the same port at the same address, or a wildcard on either side', () => {
  const all = [...parseProcNetTcp(TCP4), ...parseProcNetTcp(TCP6)];
  const inodes = (address: string, port: number): number[] => holdersOf(all, address, port).map((e) => e.inode);
  assert.deepEqual(inodes('127.0.0.1', 9090), [1001]);
  assert.deepEqual(inodes('127.0.0.3', 9090), [], 'another loopback address is free');
  assert.deepEqual(inodes('127.0.0.1', 8080), [1002], 'a wildcard listener takes every address');
  assert.deepEqual(inodes('0.0.0.0', 9090), [1001, 1004, 2001], 'a wildcard bind conflicts with every address on the port');
  assert.deepEqual(inodes('::1', 9090), [2001], 'IPv6 compared as addresses, whatever the spelling');
  assert.deepEqual(inodes('0:0:0:0:0:0:0:1', 9090), [2001]);
  assert.deepEqual(inodes('127.0.0.1', 8082), [2003], 'a dual-stack wildcard takes IPv4 addresses too');
  assert.deepEqual(inodes('127.0.0.1', 9091), []);
});

test('addressInUse looks like the error listen() gives', () => {
  const err = addressInUse('127.0.0.1', 9090);
  assert.equal(err.code, 'EADDRINUSE');
  assert.equal(err.syscall, 'listen');
  assert.ok(typeof err.errno === 'number' && err.errno < 0);
  assert.match(err.message, /^listen EADDRINUSE: address already in use 127\.0\.0\.1:9090$/);
});
