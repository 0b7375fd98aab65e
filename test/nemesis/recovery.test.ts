// The two verdicts a run reaches from the live cluster rather than from the history can fail:
// recovery after the faults stop (a leader every member follows, and a write that commits, within
// the bound) and convergence (every member reporting the same RAFT.DIGEST; two members at the
// same applied index with different digests have diverged). Driven through a scripted stand-in
// for the cluster: each poll of the harness gets the next answer.
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import type { RaftInfo } from './cluster.js';
import { converge, recover } from './run.js';

/** Answers each member's digest from a script; the last line repeats. */
function digests(script: readonly (readonly string[])[]): { memberIds: () => number[]; digest: (id: number) => Promise<string>; polls: () => number } {
  let poll = 0;
  const ids = [1, 2, 3];
  return {
    memberIds: () => {
      poll++;
      return ids;
    },
    digest: async (id) => {
      const line = script[Math.min(poll, script.length) - 1] as readonly string[];
      const answer = line[ids.indexOf(id)] as string;
      if (answer === 'down') throw new Error('Connection is closed.');
      return answer;
    },
    polls: () => poll,
  };
}

function info(id: number, leaderId: number): RaftInfo {
  return { id, role: id === leaderId ? 'leader' : 'follower', leaderId, term: 2, commitIndex: 10, appliedIndex: 10, voters: [1, 2, 3], learners: [] };
}

/** A cluster led by `leader` whose members follow `follows[id]`, and whose writes get `reply`. */
function led(leader: number | undefined, follows: Record<number, number>, reply: string | Error) {
  const writes: number[] = [];
  return {
    writes,
    currentLeader: async () => (leader === undefined ? undefined : info(leader, leader)),
    memberIds: () => [1, 2, 3],
    raftInfo: async (id: number) => info(id, follows[id] as number),
    admin: async <T>(id: number, fn: (client: Redis) => Promise<T>): Promise<T> => {
      writes.push(id);
      return fn({
        set: async () => {
          if (reply instanceof Error) throw reply;
          return reply;
        },
      } as unknown as Redis);
    },
  };
}

describe('nemesis: recovery and convergence verdicts', () => {
  it('converges once every member reports the same digest, catching up included', async () => {
    const cluster = digests([
      ['90:aaaa', '88:bbbb', 'down'],
      ['90:aaaa', '90:aaaa', '85:cccc'],
      ['90:aaaa', '90:aaaa', '90:aaaa'],
    ]);
    await expect(converge(cluster, 10_000)).resolves.toBe('90:aaaa');
    expect(cluster.polls()).toBe(3);
  });

  it('fails at once when members at the same applied index report different keyspaces', async () => {
    const cluster = digests([['90:aaaa', '90:aaaa', '90:dddd']]);
    await expect(converge(cluster, 5_000)).rejects.toThrow('replicas diverged at the same applied index: n1=90:aaaa n2=90:aaaa n3=90:dddd');
    expect(cluster.polls()).toBe(1);
  });

  it('fails when the members do not agree within the bound, naming the last answers', async () => {
    const cluster = digests([['90:aaaa', '90:aaaa', 'down']]);
    await expect(converge(cluster, 300)).rejects.toThrow(/no agreement after 300 ms; last answers: n1=90:aaaa n2=90:aaaa n3=error\(Connection is closed\.\)/);
  });

  it('recovers when a leader that every member follows commits a write', async () => {
    const cluster = led(2, { 1: 2, 2: 2, 3: 2 }, 'OK');
    await expect(recover(cluster, 10_000)).resolves.toBe(2);
    expect(cluster.writes).toEqual([2]);
  });

  it.each([
    ['no leader', led(undefined, { 1: 0, 2: 0, 3: 0 }, 'OK')],
    ['a member following someone else', led(2, { 1: 2, 2: 2, 3: 1 }, 'OK')],
    ['a write that does not commit', led(2, { 1: 2, 2: 2, 3: 2 }, new Error('TIMEOUT the command was not confirmed in time'))],
  ])('does not recover with %s, and says so after the bound', async (_name, cluster) => {
    await expect(recover(cluster, 300)).rejects.toThrow(/timed out after 300 ms waiting for a leader that all members follow and a committed write/);
  });
});
