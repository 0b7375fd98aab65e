// --command-timeout-ms on real processes: a leader whose followers stop answering (SIGSTOP) keeps
// its role until CheckQuorum's election timeout, and a read or write it cannot confirm in the
// meantime gets a TIMEOUT error at the command timeout, not a hang and not a wrong answer. With
// ticks of 200 ms and 10 ticks per election timeout the leader holds on for at least 2 s; the
// command timeout is 400 ms. Afterwards (SIGCONT) the same commands succeed again.

import { describe, expect, it } from 'vitest';
import { useCluster, waitFor } from './helpers/cluster.js';

const shared = useCluster({ nodes: 3, tickMs: 200, extraArgs: ['--command-timeout-ms', '400'] });

async function timed<T>(promise: Promise<T>): Promise<{ ms: number; outcome: T | Error }> {
  const start = performance.now();
  const outcome = await promise.catch((error: unknown) => error as Error);
  return { ms: performance.now() - start, outcome };
}

describe('--command-timeout-ms', () => {
  it('answers TIMEOUT for a read and a write a leader without its followers cannot confirm', async () => {
    const { cluster, leader } = shared;
    const client = cluster.client(leader, { maxRetriesPerRequest: 0 });
    await client.set('k', 'before');
    const followers = [1, 2, 3].filter((id) => id !== leader);
    for (const id of followers) cluster.signal(id, 'SIGSTOP');
    try {
      const [read, write] = await Promise.all([timed(client.get('k')), timed(client.set('k', 'during'))]);
      expect(String(read.outcome)).toBe('ReplyError: TIMEOUT the read could not be confirmed by a majority in time');
      expect(String(write.outcome)).toBe('ReplyError: TIMEOUT the command was not confirmed in time: it may or may not have been applied');
      // At the timeout (checked on ticks of 200 ms), well before the leader could step down.
      for (const { ms } of [read, write]) {
        expect(ms).toBeGreaterThanOrEqual(380);
        expect(ms).toBeLessThan(1_500);
      }
      expect(Number((await cluster.infoRaft(leader)).raft_leader_id)).toBe(leader);
    } finally {
      for (const id of followers) cluster.signal(id, 'SIGCONT');
    }
    // The write timed out, not failed: it may be applied once the followers are back.
    const after = await waitFor('a read to succeed again', async () => {
      try {
        return await client.get('k');
      } catch {
        return undefined;
      }
    }, 15_000, 100);
    expect(['before', 'during']).toContain(after);
    await client.set('k', 'after');
    expect(await client.get('k')).toBe('after');
  });
});
