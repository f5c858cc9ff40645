import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { WebSocket } from 'ws';
import { TestBackend, TestBalancer } from '../helpers/stack.js';
import { waitFor } from '../helpers/wait.js';

function open(url: string): Promise<{ ws: WebSocket; hello: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.once('error', reject);
    ws.once('message', (data) => resolve({ ws, hello: data.toString() }));
  });
}

describe('WebSocket sessions through the balancer', () => {
  let backends: TestBackend[];
  let lb: TestBalancer;
  before(async () => {
    backends = await Promise.all(['w1', 'w2'].map((id) => TestBackend.start(id)));
    lb = await TestBalancer.start({ backends: backends.map((b) => b.spec()) });
    await lb.routable(2);
  });
  after(async () => {
    await lb.close();
    await Promise.all(backends.map((b) => b.close()));
  });

  it('exchanges 1,000 messages intact, text and binary', async () => {
    const { ws, hello } = await open(`ws://127.0.0.1:${lb.port}/ws`);
    assert.match(hello, /"hello":"w[12]"/);
    const sent: Buffer[] = [];
    const received: Buffer[] = [];
    const done = new Promise<void>((resolve) =>
      ws.on('message', (data: Buffer, isBinary: boolean) => {
        received.push(isBinary ? data : Buffer.from(data.toString()));
        if (received.length === 1000) resolve();
      }),
    );
    for (let i = 0; i < 1000; i++) {
      const payload = i % 2 ? randomBytes(1 + ((i * 37) % 4000)) : Buffer.from(`message ${i} ${'x'.repeat(i % 100)}`);
      sent.push(payload);
      ws.send(i % 2 ? payload : payload.toString(), { binary: i % 2 === 1 });
    }
    await done;
    for (let i = 0; i < 1000; i++) assert.ok(sent[i]!.equals(received[i]!), `message ${i} intact`);
    ws.close();
  });

  it('closing the client closes the backend side', async () => {
    const { ws, hello } = await open(`ws://127.0.0.1:${lb.port}/ws`);
    const b = backends.find((x) => hello.includes(x.state.id))!;
    await waitFor('the backend to hold the session', () => b.wss.clients.size === 1);
    ws.terminate(); // abrupt: no close frame
    await waitFor('the backend side to close', () => b.wss.clients.size === 0, 3000);
    await waitFor('the balancer to release the tunnel', () => lb.lb.tunnels.open === 0, 3000);
  });

  it('closing the backend side closes the client, cleanly or abruptly', async () => {
    for (const how of ['close', 'terminate'] as const) {
      const { ws, hello } = await open(`ws://127.0.0.1:${lb.port}/ws`);
      const b = backends.find((x) => hello.includes(x.state.id))!;
      await waitFor('the backend to hold the session', () => b.wss.clients.size === 1);
      const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
      const [serverSide] = [...b.wss.clients];
      if (how === 'close') serverSide!.close(4001, 'bye');
      else serverSide!.terminate();
      const code = await closed;
      if (how === 'close') assert.equal(code, 4001, 'the close frame passes through');
      await waitFor('the balancer to release the tunnel', () => lb.lb.tunnels.open === 0, 3000);
    }
  });

  it('answers an upgrade to a backend path that refuses it with the backend answer', async () => {
    await assert.rejects(open(`ws://127.0.0.1:${lb.port}/not-ws`), /Unexpected server response: 404/);
  });

  it('answers 503 when no backend is routable', async () => {
    const empty = await TestBalancer.start();
    try {
      // readiness: none on purpose; with no backend at all the 503 is what is tested.
      await assert.rejects(open(`ws://127.0.0.1:${empty.port}/ws`), /Unexpected server response: 503/);
    } finally {
      await empty.close();
    }
  });
});
