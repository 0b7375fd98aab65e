// RAFT.SNAPSHOT against a real `raftis server` process: it answers with the snapshot it wrote,
// "nothing new to snapshot" when nothing was applied since the last one, and, while a snapshot is
// being written, refuses a second one with an error as Redis refuses BGSAVE during a save
// ("ERR Background save already in progress") instead of claiming there was nothing new.
// Every wait is a poll with a deadline.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseInfo, TestCluster, waitFor } from './helpers/cluster.js';

let cluster: TestCluster;

beforeAll(async () => {
  cluster = await TestCluster.start({ nodes: 1 });
  await cluster.waitForLeader();
}, 60_000);

afterAll(async () => {
  await cluster?.close();
});

describe('RAFT.SNAPSHOT', () => {
  it('says a snapshot is already in progress while one is being written, then snapshots again once it is done', async () => {
    const first = cluster.client(1);
    const second = cluster.client(1);
    // About 40 MB of values, so that writing the snapshot takes long enough to be seen under way.
    const value = 'v'.repeat(1000);
    for (let batch = 0; batch < 20; batch++) {
      const pipeline = first.pipeline();
      for (let at = 0; at < 2000; at++) pipeline.set(`snap:${batch}:${at}`, value);
      const results = await pipeline.exec();
      expect(results?.every(([failure]) => failure === null)).toBe(true);
    }
    const applied = Number(parseInfo(await second.info('raft')).raft_last_applied_index);

    let firstDone = false;
    const taking = (first.call('RAFT.SNAPSHOT') as Promise<string>).finally(() => { firstDone = true; });
    await waitFor('the snapshot to be under way (INFO persistence rdb_bgsave_in_progress:1)', async () => {
      if (firstDone) throw new Error('the snapshot finished before it was seen in progress');
      return parseInfo(await second.info('persistence')).rdb_bgsave_in_progress === '1' || undefined;
    }, 20_000, 5);
    await expect(second.call('RAFT.SNAPSHOT')).rejects.toThrow(/^ERR snapshot already in progress$/);

    const taken = await taking;
    expect(taken).toMatch(/^snapshot at index \d+, \d+ bytes$/);
    expect(Number(/index (\d+)/.exec(taken)?.[1])).toBeGreaterThanOrEqual(applied);
    expect(Number(/, (\d+) bytes/.exec(taken)?.[1])).toBeGreaterThan(40_000_000);

    expect(await second.call('RAFT.SNAPSHOT')).toBe('nothing new to snapshot');
    expect(await second.set('snap:after', '1')).toBe('OK');
    const next = String(await second.call('RAFT.SNAPSHOT'));
    expect(Number(/^snapshot at index (\d+),/.exec(next)?.[1])).toBeGreaterThan(Number(/index (\d+)/.exec(taken)?.[1]));
  });
});
