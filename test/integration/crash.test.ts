// Proves that SIGKILL at any moment loses no acknowledged write and leaves the replicas' logs in
// agreement (issue 3). A real 3-node cluster (helpers/cluster.ts) takes continuous writes from
// several clients, each SET of a unique key to a unique value and sent to a node chosen at
// random; a write counts as acknowledged only when its reply is +OK. Meanwhile a nemesis driven
// by one seed SIGKILLs nodes at random moments (the leader among them; sometimes two at once, or
// one while another is still recovering, so the majority is lost and at times every node is down)
// and restarts each after a random downtime. Snapshots are taken every 200 entries, so kills
// land during snapshotting and log compaction, and restarts load a snapshot plus a log. At the
// end every node is running; once they have converged the test checks that
//   (a) every acknowledged write is in every node's own state (READONLY reads) with its value,
//       and every key a node holds was written by a client with that value;
//   (b) the nodes agree: RAFT.DIGEST (applied index and keyspace digest), and INFO raft's commit
//       and last log indexes are the same everywhere.
// Replay a failure with RAFTIS_CRASH_SEED=<seed> (the seed fixes every choice; the moments are
// real time, so a replay is close to, not identical with, the original); RAFTIS_CRASH_MS sets the
// nemesis's duration (35 s by default). The nodes' logs of a failed run are copied to
// the directory the failure message names.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, expect, it } from 'vitest';
import { SeededPrng } from '../../src/raft/prng.js';
import { TestCluster, waitFor } from './helpers/cluster.js';

const SEED = process.env.RAFTIS_CRASH_SEED !== undefined ? Number(process.env.RAFTIS_CRASH_SEED) : Math.floor(Math.random() * 2 ** 31);
const NEMESIS_MS_SYNC = Number(process.env.RAFTIS_CRASH_MS ?? 35_000);
const WRITERS = 6;
const SNAPSHOT_ENTRIES = 200;
const IDS = [1, 2, 3];
/** Acknowledged writes the cluster must take between one kill and the next. */
const PROGRESS_WRITES = 20;
/** How long the cluster may take to take writes again after a kill (restarts included). */
const RECOVERY_MS = 30_000;

let cluster: TestCluster | undefined;

afterAll(async () => {
  await cluster?.close();
});

interface Writer {
  readonly acknowledged: Map<string, string>;
  /** Every key a writer sent, with its value, acknowledged or not. */
  readonly attempted: Map<string, string>;
  errors: number;
}

/** One connection per node; a dead node's commands fail at once rather than queueing. */
function writerClients(live: TestCluster): Map<number, Redis> {
  const clients = new Map<number, Redis>();
  for (const id of IDS) {
    clients.set(id, live.client(id, {
      maxRetriesPerRequest: 0, enableOfflineQueue: false, commandTimeout: 5_000, connectTimeout: 500,
      retryStrategy: () => 100,
    }));
  }
  return clients;
}

async function runWriter(live: TestCluster, index: number, prng: SeededPrng, stop: { stopped: boolean }, writer: Writer): Promise<void> {
  const clients = writerClients(live);
  for (let seq = 0; !stop.stopped; seq++) {
    const key = `crash:${index}:${seq}`;
    const value = `${SEED}/${index}/${seq}`;
    writer.attempted.set(key, value);
    const id = IDS[prng.nextInt(IDS.length)] as number;
    try {
      const reply = await clients.get(id)!.set(key, value);
      if (reply === 'OK') writer.acknowledged.set(key, value);
    } catch {
      // Not acknowledged: the outcome is unknown. A dead node fails fast (no offline queue), so
      // wait for that connection to come back before choosing it again rather than spinning.
      writer.errors++;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

/** The current leader among the running nodes, if one is known right now (no waiting). */
async function currentLeader(live: TestCluster, running: readonly number[]): Promise<number | undefined> {
  const infos = await Promise.all(running.map((id) => live.infoRaft(id).catch(() => undefined)));
  const leader = infos.find((info) => info?.raft_role === 'leader');
  return leader === undefined ? undefined : Number(leader.raft_node_id);
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Kills nodes until the deadline, then waits for every restart. A killed node is restarted after
 * a random downtime in the background, so the next kill may land while it is still recovering or
 * catching up (on another node: a node is killed only once it answers PING again), and at times
 * all three are down, so the cluster recovers from disks alone. Before each kill the cluster must
 * have taken PROGRESS_WRITES more writes since the last one (a liveness check, and what keeps a
 * slow machine from spending the whole run without a majority); then a random pause picks the
 * moment. The pauses are those random moments, never waits for a condition.
 */
async function runNemesis(live: TestCluster, prng: SeededPrng, durationMs: number, acknowledgedCount: () => number,
  events: string[]): Promise<void> {
  const deadline = Date.now() + durationMs;
  const at = (): string => `${((Date.now() - (deadline - durationMs)) / 1000).toFixed(1)}s`;
  const restarting = new Map<number, Promise<void>>();
  const restartLater = (id: number, downMs: number): void => {
    restarting.set(id, (async () => {
      await pause(downMs);
      await live.restart(id);
      events.push(`${at()} restarted node ${id}`);
    })().finally(() => restarting.delete(id)));
  };
  while (Date.now() < deadline) {
    const mark = acknowledgedCount();
    await waitFor(`${PROGRESS_WRITES} more acknowledged writes (from ${mark}) after the kills before ${at()}`,
      () => acknowledgedCount() >= mark + PROGRESS_WRITES || undefined, RECOVERY_MS, 20);
    await pause(prng.nextInt(1_500));
    const up = IDS.filter((id) => !restarting.has(id));
    if (up.length === 0 || Date.now() >= deadline) continue;
    const roll = prng.nextFloat();
    let victims: number[];
    if (roll < 0.4) {
      const leader = await currentLeader(live, up);
      victims = leader === undefined ? [] : [leader];
    } else if (roll < 0.85) {
      victims = [up[prng.nextInt(up.length)] as number];
    } else {
      const first = up[prng.nextInt(up.length)] as number;
      const rest = up.filter((id) => id !== first);
      victims = rest.length === 0 ? [first] : [first, rest[prng.nextInt(rest.length)] as number];
    }
    for (const id of victims) {
      await live.kill(id, 'SIGKILL');
      events.push(`${at()} SIGKILL node ${id}${roll < 0.4 ? ' (leader)' : ''}`);
      restartLater(id, prng.nextInt(1_500));
    }
  }
  await Promise.all(restarting.values());
}

function keepLogs(live: TestCluster): string {
  const dir = path.join(os.tmpdir(), `raftis-crash-seed-${SEED}-${Date.now()}`);
  fs.mkdirSync(dir, { recursive: true });
  for (const id of IDS) fs.writeFileSync(path.join(dir, `n${id}.log`), live.logs(id));
  return dir;
}

/** Reads each key's value from one node's own state (READONLY: no forwarding, no ReadIndex). */
async function readLocal(live: TestCluster, id: number, keys: readonly string[]): Promise<Map<string, string | null>> {
  const client = live.client(id, { maxRetriesPerRequest: 1, commandTimeout: 10_000 });
  await client.call('READONLY');
  const values = new Map<string, string | null>();
  for (let start = 0; start < keys.length; start += 1000) {
    const batch = keys.slice(start, start + 1000);
    const replies = await client.mget(...batch);
    batch.forEach((key, k) => values.set(key, replies[k] ?? null));
  }
  return values;
}

async function localKeys(live: TestCluster, id: number): Promise<string[]> {
  const client = live.client(id, { maxRetriesPerRequest: 1, commandTimeout: 10_000 });
  await client.call('READONLY');
  const keys = new Set<string>();
  let cursor = '0';
  do {
    const [next, found] = await client.scan(cursor, 'COUNT', 1000);
    for (const key of found) keys.add(key);
    cursor = next;
  } while (cursor !== '0');
  return [...keys];
}

// Once with the default synchronous log writes, once with --async-writes (the nemesis shorter).
for (const mode of ['sync', 'async'] as const) {
const NEMESIS_MS = mode === 'sync' ? NEMESIS_MS_SYNC : Math.round(NEMESIS_MS_SYNC / 2);
it(`loses no acknowledged write across random SIGKILLs, ${mode} log writes (seed=${SEED})`, async () => {
  console.log(`crash test (${mode} writes) seed=${SEED} (replay with RAFTIS_CRASH_SEED=${SEED})`);
  const started = Date.now();
  const extraArgs = ['--snapshot-entries', String(SNAPSHOT_ENTRIES), ...(mode === 'async' ? ['--async-writes'] : [])];
  const live = await TestCluster.start({ nodes: 3, extraArgs });
  cluster = live;
  const events: string[] = [];
  try {
    await live.waitForLeader();
    await live.waitForConvergence();

    const prng = new SeededPrng(SEED);
    const stop = { stopped: false };
    const writers: Writer[] = [];
    const writing: Promise<void>[] = [];
    for (let index = 0; index < WRITERS; index++) {
      const writer: Writer = { acknowledged: new Map(), attempted: new Map(), errors: 0 };
      writers.push(writer);
      writing.push(runWriter(live, index, new SeededPrng(SEED + 1 + index), stop, writer));
    }
    try {
      const acknowledgedCount = (): number => writers.reduce((sum, writer) => sum + writer.acknowledged.size, 0);
      await runNemesis(live, prng, NEMESIS_MS, acknowledgedCount, events);
    } finally {
      stop.stopped = true;
      await Promise.all(writing);
    }

    // Every node is running again; the cluster must still take writes, and then settle.
    const leader = await live.waitForLeader(IDS, 20_000);
    await waitFor('a write through the leader after the nemesis', async () =>
      (await live.client(leader).set('crash:final', 'ok').catch(() => undefined)) === 'OK' || undefined, 20_000, 100);
    const digest = await live.waitForConvergence(IDS, 30_000);
    const indexes = await waitFor('equal commit and last log indexes', async () => {
      const infos = await Promise.all(IDS.map((id) => live.infoRaft(id)));
      const commits = infos.map((info) => info.raft_commit_index);
      const lasts = infos.map((info) => info.raft_current_index);
      const equal = commits.every((c) => c === commits[0]) && lasts.every((l) => l === lasts[0]);
      return equal ? { commit: commits[0], last: lasts[0], snapshots: infos.map((info) => info.raft_snapshot_last_idx) } : undefined;
    }, 15_000);
    // The digests again, now that the indexes agree (a node may have applied more meanwhile).
    const digests = await Promise.all(IDS.map((id) => live.digest(id)));
    expect(digests, 'RAFT.DIGEST per node').toEqual(IDS.map(() => digests[0]));

    const acknowledged = new Map<string, string>();
    const attempted = new Map<string, string>([['crash:final', 'ok']]);
    for (const writer of writers) {
      for (const [key, value] of writer.acknowledged) acknowledged.set(key, value);
      for (const [key, value] of writer.attempted) attempted.set(key, value);
    }
    const errors = writers.reduce((sum, writer) => sum + writer.errors, 0);
    console.log(`crash test seed=${SEED}: ${acknowledged.size} acknowledged of ${attempted.size} attempted writes, ${errors} failed; `
      + `${events.filter((e) => e.includes('SIGKILL')).length} kills; digest ${digest}; commit ${indexes.commit}, last ${indexes.last}, `
      + `snapshot indexes ${indexes.snapshots.join('/')}; ${((Date.now() - started) / 1000).toFixed(1)} s`);
    // Enough happened for the test to mean something: nodes were killed (the nemesis saw writes
    // go through between kills), and every node's log was compacted by a snapshot.
    expect(events.filter((e) => e.includes('SIGKILL')).length).toBeGreaterThanOrEqual(Math.floor(NEMESIS_MS / 10_000));
    expect(Math.min(...indexes.snapshots.map(Number))).toBeGreaterThan(0);

    for (const id of IDS) {
      const values = await readLocal(live, id, [...acknowledged.keys()]);
      const lost = [...acknowledged].filter(([key, value]) => values.get(key) !== value);
      expect(lost.slice(0, 10).map(([key, value]) => `${key}=${value} read ${values.get(key)}`), `acknowledged writes missing on node ${id}`).toEqual([]);
      const held = await localKeys(live, id);
      const foreign = held.filter((key) => !attempted.has(key));
      expect(foreign.slice(0, 10), `keys on node ${id} that no client wrote`).toEqual([]);
      const heldValues = await readLocal(live, id, held);
      const wrong = held.filter((key) => heldValues.get(key) !== attempted.get(key));
      expect(wrong.slice(0, 10), `keys on node ${id} with a value no client wrote`).toEqual([]);
    }
  } catch (error) {
    const dir = keepLogs(live);
    throw new Error(`crash test (${mode} writes) failed with seed=${SEED}; node logs in ${dir}; nemesis:\n${events.join('\n')}\n${String(error)}`, { cause: error });
  } finally {
    await live.close();
    cluster = undefined;
  }
}, NEMESIS_MS + 85_000);
}
