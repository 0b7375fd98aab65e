// One nemesis run, start to verdict:
//   1. start a cluster (each node on its own loopback address) and wait for a leader;
//   2. run the clients and the nemesis together for the requested time;
//   3. stop the faults and heal everything; the cluster must then recover (a leader that every
//      member follows, a write that commits) within `recoveryMs`;
//   4. stop the clients, read every key once more (recorded in the history as final reads);
//   5. wait for every member to report the same RAFT.DIGEST (applied index and keyspace);
//   6. check the history: linearizability key by key, and the atomicity of transactions.
// Everything lands in the output folder: history.jsonl, nemesis.jsonl, nodes/n<id>.log (and the
// data directories when the run fails), run.json (options and summary) and, for each key without
// a linearization, violation-<key>.jsonl with that key's events alone.
//
// Whatever happens, the nftables table is deleted and every node process is killed: in a
// finally block, and from process exit and signal handlers in case the harness itself dies.
import fs from 'node:fs';
import path from 'node:path';
import { buildServer } from './build.js';
import { waitFor, NemesisCluster } from './cluster.js';
import { EventLog, HistoryRecorder, RunClock } from './history.js';
import { Nemesis, type Anomaly, type FaultName } from './nemesis.js';
import { NetworkFaults, onExit, partitionsUnavailable } from './net.js';
import { checkKeys, FINAL_READ_PROCESS_BASE, phantomWrites, tornReads, type KeyVerdict, type PhantomWrite, type TornRead } from './verify.js';
import { classifyError, Workload } from './workload.js';

export interface RunOptions {
  readonly timeSec: number;
  readonly nodes: number;
  readonly faults: readonly FaultName[];
  readonly seed: number;
  readonly out: string;
  readonly clients: number;
  readonly keys: number;
  readonly txnPairs: number;
  readonly opsPerKey: number;
  readonly clientTimeoutMs: number;
  readonly commandTimeoutMs: number;
  readonly tickMs: number;
  readonly electionTicks: number;
  readonly snapshotEntries: number;
  readonly holdMs: readonly [number, number];
  readonly quietMs: readonly [number, number];
  /** Bound on recovery after faults stop, on final reads, and on convergence. */
  readonly recoveryMs: number;
  /** Linearizability search budget per key. */
  readonly checkTimeoutMs: number;
  /** Keep node data directories even when the run passes. */
  readonly keepData: boolean;
  /** More `raftis server` flags for every node. */
  readonly serverArgs: readonly string[];
  readonly echo: (line: string) => void;
}

export const defaultRunOptions: Omit<RunOptions, 'out' | 'seed' | 'echo'> = {
  timeSec: 60,
  nodes: 5,
  faults: ['kill', 'pause', 'partition', 'member', 'transfer'],
  clients: 10,
  keys: 6,
  txnPairs: 2,
  opsPerKey: 200,
  clientTimeoutMs: 3000,
  commandTimeoutMs: 2000,
  tickMs: 50,
  electionTicks: 10,
  snapshotEntries: 400,
  holdMs: [1000, 6000],
  quietMs: [500, 3000],
  recoveryMs: 30_000,
  checkTimeoutMs: 60_000,
  keepData: false,
  serverArgs: [],
};

export interface RunSummary {
  readonly seed: number;
  readonly durationSec: number;
  readonly operations: number;
  readonly outcomes: Record<string, number>;
  readonly errors: Record<string, number>;
  readonly faults: Record<string, number>;
  readonly anomalies: readonly Anomaly[];
  readonly keysChecked: number;
  readonly checkMs: number;
  readonly violations: readonly KeyVerdict[];
  readonly undecided: readonly KeyVerdict[];
  readonly torn: readonly TornRead[];
  readonly phantoms: readonly PhantomWrite[];
  readonly finalDigest: string | undefined;
}

export interface RunResult {
  readonly ok: boolean;
  readonly failures: readonly string[];
  readonly out: string;
  readonly summary: RunSummary;
}

/** Refuses options that cannot run here, with the reason; undefined when they can. */
export function refusal(options: Pick<RunOptions, 'faults'>): string | undefined {
  if (options.faults.includes('partition')) return partitionsUnavailable();
  return undefined;
}

export async function runNemesis(options: RunOptions): Promise<RunResult> {
  const refused = refusal(options);
  if (refused) throw new Error(refused);
  const out = path.resolve(options.out);
  fs.mkdirSync(out, { recursive: true });
  const echo = options.echo;
  const clock = new RunClock();
  const failures: string[] = [];
  const fail = (why: string): void => {
    failures.push(why);
    echo(`FAILURE: ${why}`);
  };
  const history = new HistoryRecorder(path.join(out, 'history.jsonl'), clock);
  const log = new EventLog(path.join(out, 'nemesis.jsonl'), clock, echo);
  const build = buildServer(path.join(out, 'build'));
  const cluster = new NemesisCluster({
    entry: build.entry, nodes: options.nodes, dir: path.join(out, 'nodes'), tickMs: options.tickMs, electionTicks: options.electionTicks,
    commandTimeoutMs: options.commandTimeoutMs, leaderWaitMs: options.commandTimeoutMs, snapshotEntries: options.snapshotEntries,
    startTimeoutMs: 30_000, serverArgs: options.serverArgs,
  });
  const net = options.faults.includes('partition') ? new NetworkFaults() : undefined;
  const removeCleanup = onExit(() => {
    net?.destroy();
    cluster.killAllSync();
  });

  const workload = new Workload(
    { clients: options.clients, keys: options.keys, txnPairs: options.txnPairs, opsPerKey: options.opsPerKey,
      clientTimeoutMs: options.clientTimeoutMs, seed: options.seed },
    history,
    () => cluster.memberIds().map((id) => ({ id, host: cluster.hostOf(id) })),
  );
  const nemesis = new Nemesis(cluster, net, log, {
    faults: options.faults, seed: options.seed, nodes: options.nodes, holdMs: options.holdMs, quietMs: options.quietMs,
    changeTimeoutMs: 20_000,
  }, () => clock.now());
  writeJson(path.join(out, 'run.json'), {
    options: { ...options, echo: undefined }, subnet: cluster.subnet, startWall: new Date(clock.startWallMs).toISOString(),
    nftTable: net?.table, source: build.source,
  });
  echo(`nemesis: seed=${options.seed} nodes=${options.nodes} time=${options.timeSec}s faults=${options.faults.join(',') || 'none'} subnet=${cluster.subnet}.0/24 out=${out}`);

  let finalDigest: string | undefined;
  let workloadStarted = false;
  const started = Date.now();
  try {
    net?.init();
    await cluster.start();
    const first = await cluster.waitForLeader(options.recoveryMs);
    log.log('cluster up', { leader: first.id, voters: first.voters });

    workload.start();
    workloadStarted = true;
    try {
      await nemesis.run(Date.now() + options.timeSec * 1000);
    } catch (error) {
      fail(`the nemesis itself failed: ${errorText(error)}`);
    }
    nemesis.stop();
    log.log('faults stopped');
    await nemesis.healAll();

    const healed = Date.now();
    const recovered = await recover(cluster, options.recoveryMs).catch((error: unknown) => {
      fail(`the cluster did not recover within ${options.recoveryMs} ms after faults stopped: ${errorText(error)}`);
      return undefined;
    });
    if (recovered) log.log('recovered', { leader: recovered, afterMs: Date.now() - healed });
    await workload.stop();
    workloadStarted = false;
    await nemesis.syncMembership();

    if (recovered) {
      await finalReads(cluster, workload, history, options.recoveryMs).catch((error: unknown) => {
        fail(`final reads did not complete: ${errorText(error)}`);
      });
      finalDigest = await converge(cluster, options.recoveryMs).catch((error: unknown) => {
        fail(`replicas did not converge: ${errorText(error)}`);
        return undefined;
      });
      if (finalDigest) log.log('converged', { digest: finalDigest, members: cluster.memberIds() });
    }
  } catch (error) {
    fail(`harness error: ${errorText(error)}`);
  } finally {
    if (workloadStarted) await workload.stop().catch(() => undefined);
    net?.destroy();
    await cluster.stopAll().catch(() => undefined);
    removeCleanup();
  }
  history.close();

  // Verdicts from the history alone, as a later `--check` of history.jsonl would compute them.
  const checkStarted = Date.now();
  const verdicts = checkKeys(history.events, options.checkTimeoutMs, (process, call) => history.nodeOf(process, call));
  const checkMs = Date.now() - checkStarted;
  const violations = verdicts.filter((verdict) => verdict.result === 'not-linearizable');
  const historyLines = violations.length > 0 ? fs.readFileSync(history.file, 'utf8').split('\n') : [];
  const undecided = verdicts.filter((verdict) => verdict.result === 'unknown');
  for (const verdict of violations) {
    const file = path.join(out, `violation-${verdict.key}.jsonl`);
    const keyField = `"key":${JSON.stringify(verdict.key)},`;
    fs.writeFileSync(file, historyLines.filter((line) => line.includes(keyField)).join('\n') + '\n');
    fail(`linearizability violation on key ${verdict.key} (${file}):\n${verdict.explanation.join('\n')}`);
  }
  for (const verdict of undecided) fail(`no linearizability verdict: ${verdict.explanation.join(' ')}`);
  const phantoms = phantomWrites(history.events);
  for (const p of phantoms) {
    fail(`a write reported as not applied took effect: ${p.key}=${p.value} by process ${p.process} (called ${(p.call / 1e9).toFixed(3)}s via n${history.nodeOf(p.process, p.call) ?? '?'}) `
      + `got "${p.error}" at ${(p.failedAt / 1e9).toFixed(3)}s, but process ${p.seenBy} saw the value at ${(p.seenAt / 1e9).toFixed(3)}s`);
  }
  const torn = tornReads(history.events);
  for (const read of torn) fail(`transaction atomicity: a MULTI GET of ${read.pair} saw a=${String(read.a)} b=${String(read.b)} (process ${read.process}, ${(read.time / 1e9).toFixed(3)}s)`);

  const summary: RunSummary = {
    seed: options.seed,
    durationSec: Math.round((Date.now() - started) / 100) / 10,
    operations: workload.totalOperations(),
    outcomes: Object.fromEntries([...workload.stats.outcomes].sort()),
    errors: Object.fromEntries([...workload.stats.errors].sort((a, b) => b[1] - a[1])),
    faults: Object.fromEntries([...nemesis.counts].sort()),
    anomalies: nemesis.anomalies,
    keysChecked: verdicts.length,
    checkMs,
    violations,
    undecided,
    torn,
    phantoms,
    finalDigest,
  };
  log.log('verdict', { ok: failures.length === 0, operations: summary.operations, faults: nemesis.totalFaults(), keys: verdicts.length, checkMs });
  log.close();
  const runJson = JSON.parse(fs.readFileSync(path.join(out, 'run.json'), 'utf8')) as Record<string, unknown>;
  writeJson(path.join(out, 'run.json'), { ...runJson, summary, failures });
  if (failures.length === 0 && !options.keepData) {
    for (const node of cluster.nodes.values()) fs.rmSync(node.dataDir, { recursive: true, force: true });
    fs.rmSync(path.join(out, 'build'), { recursive: true, force: true });
  }
  return { ok: failures.length === 0, failures, out, summary };
}

/** After healing: a leader every member follows, and a write through it that commits. */
export async function recover(cluster: Pick<NemesisCluster, 'currentLeader' | 'memberIds' | 'raftInfo' | 'admin'>,
  timeoutMs: number): Promise<number> {
  return waitFor('a leader that all members follow and a committed write', async () => {
    const leader = await cluster.currentLeader();
    if (!leader) return undefined;
    const infos = await Promise.all(cluster.memberIds().map((id) => cluster.raftInfo(id).catch(() => undefined)));
    if (infos.some((info) => !info || info.leaderId !== leader.id)) return undefined;
    const reply = await cluster.admin(leader.id, (client) => client.set('nemesis:probe', String(Date.now())), 3000).catch(() => undefined);
    return reply === 'OK' ? leader.id : undefined;
  }, timeoutMs, 250);
}

/**
 * Reads every key the clients used, once, through the leader, and records the reads in the
 * history; a read that errs is retried (an errored read has no effect and is dropped).
 */
async function finalReads(cluster: NemesisCluster, workload: Workload, history: HistoryRecorder, timeoutMs: number): Promise<void> {
  const { singles, pairs } = workload.allKeys();
  const deadline = Date.now() + timeoutMs;
  let process = FINAL_READ_PROCESS_BASE;
  const attempt = async (read: () => Promise<void>): Promise<void> => {
    for (;;) {
      try {
        await read();
        return;
      } catch (error) {
        if (Date.now() > deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  };
  for (const key of singles) {
    const p = process++;
    await attempt(async () => {
      const leader = await cluster.waitForLeader(Math.max(0, deadline - Date.now()));
      history.invoke(p, 'read', key, undefined, leader.id);
      try {
        const value = await cluster.admin(leader.id, (client) => client.get(key), 3000);
        history.complete(p, 'ok', 'read', key, value);
      } catch (error) {
        history.complete(p, classifyError(errorText(error)), 'read', key, undefined, errorText(error));
        throw error;
      }
    });
  }
  for (const pair of pairs) {
    const [a, b] = Workload.pairKeys(pair);
    const pa = process++;
    const pb = process++;
    await attempt(async () => {
      const leader = await cluster.waitForLeader(Math.max(0, deadline - Date.now()));
      const invoked = history.invoke(pa, 'read', a, undefined, leader.id);
      history.invoke(pb, 'read', b, undefined, leader.id, invoked);
      try {
        const replies = await cluster.admin(leader.id, (client) => client.multi().get(a).get(b).exec(), 3000);
        if (!replies) throw new Error('EXEC returned nil');
        const [va, vb] = replies.map(([error, value]) => {
          if (error) throw error;
          return value as string | null;
        });
        const done = history.complete(pa, 'ok', 'read', a, va ?? null);
        history.complete(pb, 'ok', 'read', b, vb ?? null, undefined, done);
      } catch (error) {
        const done = history.complete(pa, 'info', 'read', a, undefined, errorText(error));
        history.complete(pb, 'info', 'read', b, undefined, errorText(error), done);
        throw error;
      }
    });
  }
}

/**
 * Waits until every member reports the same RAFT.DIGEST (`<applied index>:<keyspace digest>`).
 * If the applied indexes meet but the digests differ, the replicas diverged: that is reported at
 * once with every node's answer, not waited out.
 */
export async function converge(cluster: Pick<NemesisCluster, 'memberIds' | 'digest'>, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer yet';
  for (;;) {
    const ids = cluster.memberIds();
    const digests = await Promise.all(ids.map((id) => cluster.digest(id).catch((error: unknown) => `error(${errorText(error)})`)));
    last = ids.map((id, at) => `n${id}=${digests[at]}`).join(' ');
    if (digests.every((digest) => digest === digests[0])) return digests[0] as string;
    const indexes = digests.map((digest) => digest.split(':')[0]);
    if (digests.every((digest) => /^\d+:/.test(digest)) && indexes.every((index) => index === indexes[0])) {
      throw new Error(`replicas diverged at the same applied index: ${last}`);
    }
    if (Date.now() > deadline) throw new Error(`no agreement after ${timeoutMs} ms; last answers: ${last}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function writeJson(file: string, value: unknown): void {
  fs.writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`);
}
