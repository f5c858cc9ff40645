import assert from 'node:assert/strict';
import { test } from 'node:test';
import { freePort, freePortRange } from '../helpers/ports.js';

test('test ports come from below the ephemeral range and are never handed out twice', async () => {
  const ports = await Promise.all(Array.from({ length: 40 }, () => freePort()));
  for (const p of ports) assert.ok(p >= 20_000 && p < 32_768, `${p} is below the ephemeral range`);
  assert.equal(new Set(ports).size, ports.length);
  const base = await freePortRange(5);
  for (let p = base; p < base + 5; p++) assert.ok(!ports.includes(p));
});
