import assert from 'node:assert/strict';
import { setImmediate as nextCheck, setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { EventLoopDelay } from '../../balancer/stats/event-loop-delay.js';
import { WAIT_BUCKETS_SECONDS } from '../../balancer/stats/wait-histogram.js';
import { waitFor } from '../helpers/wait.js';

/** Samples above 50 ms (counts are per bucket: those after the 0.05 s bound's). */
function over50ms(d: EventLoopDelay): number {
  const c = d.histogram.counts;
  let n = 0;
  for (let i = WAIT_BUCKETS_SECONDS.indexOf(0.05) + 1; i < c.length; i++) n += c[i]!;
  return n;
}

function block(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

describe('event-loop delay', () => {
  it('counts a blocked turn whichever phase of the loop blocks', async () => {
    const d = new EventLoopDelay();
    d.start();
    try {
      await waitFor('a first sample', () => d.histogram.count > 0, 5000, 5);
      const phases: Record<string, () => Promise<void>> = {
        timer: () => new Promise((resolve) => setTimeout(() => resolve(block(80)), 1)),
        check: () => new Promise((resolve) => setImmediate(() => resolve(block(80)))),
        microtask: async () => {
          await nextCheck();
          await Promise.resolve();
          block(80);
        },
      };
      for (const [phase, run] of Object.entries(phases)) {
        const before = over50ms(d);
        await run();
        await waitFor(`the ${phase} block counted`, () => over50ms(d) > before, 5000, 5);
      }
      assert.ok(d.histogram.sumSeconds >= 0.2, `the three blocks are in the sum (${d.histogram.sumSeconds} s)`);
    } finally {
      d.close();
    }
  });

  it('reads about 0 on an idle loop', async () => {
    const d = new EventLoopDelay();
    d.start();
    try {
      await sleep(200);
      assert.ok(d.histogram.count >= 5, `sampled (${d.histogram.count})`);
      assert.ok(d.histogram.sumSeconds / d.histogram.count < 0.01, 'under 10 ms a sample on average');
    } finally {
      d.close();
    }
  });
});
