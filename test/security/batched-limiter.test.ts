/** The batched limiter never forgets requests that are on their way to the shared store. */
import { RateLimiterMemory } from 'rate-limiter-flexible';
import { describe, expect, it } from 'vitest';
import { BatchedLimiter } from '../../src/security/batched-limiter.js';

class SlowStore extends RateLimiterMemory {
  override async penalty(key: string | number, points?: number) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    return super.penalty(key, points);
  }
}

describe('API-1 batched shared counting', () => {
  it('keeps counting requests while a sync to the store is in flight', async () => {
    const limiter = new BatchedLimiter(new SlowStore({ points: 5, duration: 60 }), 5, 60, 1);
    for (let i = 0; i < 5; i += 1) await limiter.consume('k');
    await new Promise((resolve) => setTimeout(resolve, 10));
    // A sync has started and not finished: the five must still count.
    await expect(limiter.consume('k')).rejects.toMatchObject({ remainingPoints: 0 });
    await new Promise((resolve) => setTimeout(resolve, 100));
    await expect(limiter.consume('k')).rejects.toMatchObject({ remainingPoints: 0 });
  });

  it('learns what other processes counted when it syncs', async () => {
    const store = new RateLimiterMemory({ points: 5, duration: 60 });
    const a = new BatchedLimiter(store, 5, 60, 1);
    const b = new BatchedLimiter(store, 5, 60, 1);
    for (let i = 0; i < 3; i += 1) await a.consume('k');
    await a.sync();
    await b.consume('k');
    await b.sync();
    await b.consume('k');
    await expect(b.consume('k')).rejects.toMatchObject({ remainingPoints: 0 });
  });
});
