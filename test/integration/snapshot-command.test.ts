// RAFT.SNAPSHOT against a real `raftis server` process: it answers with the snapshot it wrote,
// "nothing new to snapshot" when nothing was applied since the last one, and, while a snapshot is
// being written, refuses a second one with an error as Redis refuses BGSAVE during a save
// ("ERR Background save already in progress") instead of claiming there was nothing new.
// Every wait is a poll with a deadline.

import { describe, expect, it } from 'vitest';
import { parseInfo, useCluster, waitFor } from './helpers/cluster.js';

const shared = useCluster({ nodes: 1 });

describe('RAFT.SNAPSHOT', () => {
  it('says a snapshot is already in progress while one is being written, then snapshots again once it is done', async () => {
    const first = shared.cluster.client(1);
    const second = shared.cluster.client(1);
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
    // The node's log line says how long each part took (the image's write, finish with the old
    // snapshots' deletion, the WAL's compaction).
    const takenIndex = Number(/index (\d+)/.exec(taken)?.[1]);
    const line = await waitFor('the "snapshot taken" log line', async () => shared.cluster.logs(1).split('\n')
      .filter((text) => text.includes('"snapshot taken"'))
      .map((text) => JSON.parse(text) as { index: number; writeMs: number; finishMs: number; compactMs: number })
      .find((parsed) => parsed.index === takenIndex), 10_000);
    for (const part of [line.writeMs, line.finishMs, line.compactMs]) expect(Number.isInteger(part) && part >= 0).toBe(true);
    // 40 MB do not serialize in under a millisecond.
    expect(line.writeMs).toBeGreaterThan(0);

    expect(await second.call('RAFT.SNAPSHOT')).toBe('nothing new to snapshot');
    expect(await second.set('snap:after', '1')).toBe('OK');
    const next = String(await second.call('RAFT.SNAPSHOT'));
    expect(Number(/^snapshot at index (\d+),/.exec(next)?.[1])).toBeGreaterThan(Number(/index (\d+)/.exec(taken)?.[1]));
  });

  it('taken right after a write, includes that write under the right index, and the node restarts from it', async () => {
    const client = shared.cluster.client(1);
    // Pipelined: RAFT.SNAPSHOT runs the moment INCR's reply is ready, which is while the node's
    // driver is still writing that cycle's log entries to disk.
    for (let round = 0; round < 3; round++) {
      const results = await client.pipeline().set(`pipelined:${round}`, 'x').incr('pipelined:counter').call('RAFT.SNAPSHOT').exec();
      expect(results?.map(([failure]) => failure)).toEqual([null, null, null]);
      const snapshot = String(results?.[2]?.[1]);
      const applied = Number(String(await client.call('RAFT.DIGEST')).split(':')[0]);
      // The snapshot's index covers the INCR it contains (the state machine's applied index).
      expect(Number(/^snapshot at index (\d+),/.exec(snapshot)?.[1])).toBeGreaterThanOrEqual(applied);
    }
    const digest = String(await client.call('RAFT.DIGEST'));
    expect(await shared.cluster.kill(1, 'SIGTERM')).toBe(0);
    await shared.cluster.restart(1);
    await shared.cluster.waitForLeader();
    expect(String(await shared.cluster.client(1).call('RAFT.DIGEST'))).toBe(digest);
    expect(await shared.cluster.client(1).get('pipelined:counter')).toBe('3');
  });
});
