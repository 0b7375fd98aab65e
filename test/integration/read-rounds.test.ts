// How many ReadIndex requests (heartbeat rounds) the leader makes for reads that arrive together,
// on real `raftis server` processes (RaftNode.startWaitingReads). Reads parsed in one event-loop
// turn wait for one request, started just before the cycle that sends its heartbeat. Before,
// each read started a request as it arrived while fewer than two were in flight: the turn's
// first two reads took one each, and the rest waited for a third, made once those came back.
// Every wait is a poll with a deadline.

import { expect, it } from 'vitest';
import { useCluster } from './helpers/cluster.js';
import { encodeCommands, RawConnection } from './helpers/raw-connection.js';

const shared = useCluster({ nodes: 3 });
const READS = 100;

it('confirms the reads of one pipelined packet with one ReadIndex request, and answers each', async () => {
  const { cluster } = shared;
  const leader = shared.leader;
  expect(await cluster.client(leader).set('rounds:key', 'v')).toBe('OK');
  const before = await cluster.infoRaft(leader);
  const connection = await RawConnection.open(cluster.node(leader).host, cluster.node(leader).port);
  try {
    // One write of 100 GETs (3.3 KB): the leader reads and parses them in one turn.
    connection.send(encodeCommands(Array.from({ length: READS }, () => ['GET', 'rounds:key'])));
    const replies = await connection.readReplies(READS);
    expect(replies.map((reply) => reply.toString())).toEqual(Array.from({ length: READS }, () => '$1\r\nv\r\n'));
  } finally {
    connection.destroy();
  }
  const after = await cluster.infoRaft(leader);
  expect(Number(after.raft_reads) - Number(before.raft_reads)).toBe(READS);
  const requests = Number(after.raft_read_index_requests) - Number(before.raft_read_index_requests);
  // One, or two should the kernel hand the bytes over in two reads; it was three before.
  expect(requests).toBeGreaterThanOrEqual(1);
  expect(requests).toBeLessThanOrEqual(2);
});
