// One simulated run: a pure function of its options (the seed among them) and the core it
// drives. Phase one handles `steps` events with faults on; the safety checks run on every
// Ready and after every event. Phase two stops the faults, heals the network, restarts every
// node and demands liveness within a bound of simulated time: a leader, every client's pending
// operation answered, every member caught up. Last, the client history must be linearizable
// (the checker in src/check, partitioned per key, with the kv model).

import { checkOperations, describeKvOperation, kvModel } from '../../src/check/index.js';
import { SeededPrng } from '../../src/raft/prng.js';
import type { NodeId } from '../../src/raft/types.js';
import { Clients, type ClientStats } from './clients.js';
import { Cluster, realRaft, type RaftFactory } from './cluster.js';
import { emptyCoverage, schedule, type Coverage, type SimContext, type SimEvent } from './context.js';
import { EventQueue } from './event-queue.js';
import { Nemesis } from './faults.js';
import { Invariants, SafetyViolation } from './invariants.js';
import { Network } from './network.js';
import { describeOptions, replayCommand, type SimOptions } from './options.js';
import { Trace } from './trace.js';
import { variantFactory } from './variants.js';

export interface Violation {
  readonly rule: string;
  readonly message: string;
  readonly timeMs: number;
  readonly step: number;
  /** The last events before it, oldest first. */
  readonly trace: readonly string[];
}

export interface SimResult {
  readonly options: SimOptions;
  readonly violation: Violation | undefined;
  readonly steps: number;
  readonly simMs: number;
  /** With traceAll: a digest of the whole trace (two runs of one seed must agree on it). */
  readonly fingerprint: number | undefined;
  readonly traceAll: readonly string[] | undefined;
  readonly clients: ClientStats;
  readonly maxTerm: number;
  readonly leaderTerms: number;
  readonly maxCommitted: number;
  readonly linearizability: 'linearizable' | 'not-linearizable' | 'unknown' | 'not-checked';
  readonly coverage: Coverage;
}

const LIVENESS_CHECK_MS = 50;
/** Budget for the linearizability search of one run; past it the verdict is 'unknown'. */
const LINEARIZABILITY_MAX_STEPS = 5_000_000;

export function runSimulation(options: SimOptions, factory: RaftFactory = variantFactory(options.variant) ?? realRaft): SimResult {
  const seedPrng = new SeededPrng(options.seed);
  const ctx: SimContext = {
    nowMs: 0,
    queue: new EventQueue<SimEvent>(),
    trace: new Trace(options.traceTail, options.traceAll),
    invariants: new Invariants(),
    historyClock: 0,
    firstApplies: new Map(),
    coverage: emptyCoverage(),
  };
  const network = new Network(new SeededPrng(seedPrng.nextU32()), options.network);
  const cluster = new Cluster(ctx, options, network, factory, new SeededPrng(seedPrng.nextU32()));
  const clients = new Clients(ctx, options, cluster, new SeededPrng(seedPrng.nextU32()));
  const nemesis = new Nemesis(ctx, options, cluster, network, new SeededPrng(seedPrng.nextU32()));

  let step = 0;
  let violation: Violation | undefined;
  let linearizability: SimResult['linearizability'] = 'not-checked';

  const fail = (rule: string, message: string): void => {
    ctx.trace.add(ctx.nowMs, 0, 'violation', `${rule}: ${message}`);
    violation = { rule, message, timeMs: ctx.nowMs, step, trace: ctx.trace.tail(options.traceTail) };
  };

  const dispatch = (event: SimEvent): void => {
    switch (event.kind) {
      case 'deliver':
        cluster.onDeliver(event.msg, event.senderIncarnation, event.copy);
        break;
      case 'snapshot-lost':
        cluster.onSnapshotLost(event.msg, event.senderIncarnation);
        break;
      case 'tick':
        cluster.onTick(event.node, event.incarnation);
        break;
      case 'persisted':
        cluster.onPersisted(event.node, event.incarnation);
        break;
      case 'written':
        cluster.onWritten(event.node, event.incarnation);
        break;
      case 'restart':
        nemesis.onRestart(event.node, event.incarnation);
        break;
      case 'stop':
        cluster.stop(event.node);
        break;
      case 'client':
        clients.onWake(event.client, event.token);
        break;
      case 'client-timeout':
        clients.onTimeout(event.client, event.seq);
        break;
      case 'fault':
        nemesis.onFault();
        break;
      case 'liveness-check':
        break;
      default:
        throw new Error(`unknown event ${JSON.stringify(event satisfies never)}`);
    }
    cluster.checkTouched();
  };

  const next = (): SimEvent => {
    const scheduled = ctx.queue.pop();
    if (scheduled === undefined) throw new Error('the agenda ran dry');
    if (scheduled.timeMs < ctx.nowMs) throw new Error(`time went back from ${ctx.nowMs} to ${scheduled.timeMs}`);
    ctx.nowMs = scheduled.timeMs;
    return scheduled.event;
  };

  try {
    ctx.trace.add(0, 0, 'phase', `faults on for ${options.steps} steps, ${options.nodes} nodes`);
    clients.start();
    nemesis.start();
    for (; step < options.steps; step++) dispatch(next());

    ctx.trace.add(ctx.nowMs, 0, 'phase', `faults off: liveness within ${options.livenessMs}ms`);
    nemesis.stop();
    clients.finish();
    const deadlineMs = ctx.nowMs + options.livenessMs;
    schedule(ctx, LIVENESS_CHECK_MS, { kind: 'liveness-check' });
    let livenessFailure: string | undefined;
    for (;;) {
      const peeked = ctx.queue.peek();
      if (peeked !== undefined && peeked.timeMs > deadlineMs) {
        livenessFailure = `within ${options.livenessMs}ms of healing: ${livenessProblems(cluster, clients).join('; ')}`;
        break;
      }
      const event = next();
      step++;
      dispatch(event);
      if (event.kind !== 'liveness-check') continue;
      if (livenessProblems(cluster, clients).length === 0) break;
      schedule(ctx, LIVENESS_CHECK_MS, { kind: 'liveness-check' });
    }

    // The history is checked even when liveness failed (operations still pending count as
    // unknown): a stale read is the worse finding.
    const history = clients.history(ctx.firstApplies, livenessFailure === undefined);
    const result = checkOperations(kvModel, history, { maxSteps: LINEARIZABILITY_MAX_STEPS });
    linearizability = result.result;
    if (result.result === 'not-linearizable') {
      const { linearized, state, stuck } = result.counterexample;
      const tail = linearized.slice(-8).map((op) => `c${op.clientId} ${describeKvOperation(op.input, op.output)}`);
      const also = livenessFailure === undefined ? '' : ` (liveness failed too: ${livenessFailure})`;
      fail('Linearizability', `key ${result.key}: after [${tail.join(', ')}] (state ${state}) no place for c${stuck.clientId} ${describeKvOperation(stuck.input, stuck.output)} [call ${stuck.call}, return ${stuck.return}]${also}`);
    } else if (livenessFailure !== undefined) {
      fail('Liveness', livenessFailure);
    }
  } catch (error) {
    if (error instanceof SafetyViolation) fail(error.rule, error.detail);
    else if (error instanceof Error && error.message.startsWith('raft assertion failed')) fail('Core assertion', error.message);
    else if (error instanceof Error && error.message.startsWith('storage:')) fail('Storage contract', error.message);
    else if (error instanceof Error) fail('Simulator error', `${error.message}\n${error.stack ?? ''}`);
    else throw error;
  }

  let maxTerm = 0;
  for (const term of ctx.invariants.leaders.keys()) maxTerm = Math.max(maxTerm, term);
  return {
    options,
    violation,
    steps: step,
    simMs: ctx.nowMs,
    fingerprint: ctx.trace.fingerprint(),
    traceAll: options.traceAll ? ctx.trace.everything() : undefined,
    clients: clients.stats(),
    maxTerm,
    leaderTerms: ctx.invariants.leaders.size,
    maxCommitted: ctx.invariants.maxCommitted,
    linearizability,
    coverage: ctx.coverage,
  };
}

function livenessProblems(cluster: Cluster, clients: Clients): string[] {
  const problems: string[] = [];
  const leader = cluster.leader();
  const members: NodeId[] = [...cluster.conf.voters, ...cluster.conf.learners];
  if (leader === undefined) problems.push('no leader');
  else if (!cluster.conf.voters.includes(leader.id)) problems.push(`leader ${leader.id} is not a voter`);
  else if (leader.commit < leader.mirror.lastIndex()) problems.push(`leader ${leader.id} has not committed its log (commit ${leader.commit}, last ${leader.mirror.lastIndex()})`);
  for (const id of members) {
    const node = cluster.nodes.get(id);
    if (node === undefined || !node.up) {
      problems.push(`member ${id} is down`);
      continue;
    }
    if (leader !== undefined && node.applied < leader.commit) {
      problems.push(`member ${id} (${node.role}, term ${node.term}) applied ${node.applied} < leader commit ${leader.commit}`);
    }
  }
  if (!clients.allDone()) problems.push(`clients still waiting: ${clients.pending().join(', ')}`);
  if (problems.length > 0 && leader?.raft !== undefined) {
    const progress = leader.raft.status().progress
      .map((pr) => `${pr.id}:${pr.state} match=${pr.match} next=${pr.next}${pr.voter ? '' : ' learner'}${pr.recentActive ? '' : ' inactive'}`);
    problems.push(`leader ${leader.id} term ${leader.term} progress [${progress.join('; ')}]`);
  }
  return problems;
}

/** The text printed when a run fails: seed, options, the rule, and the trace leading to it. */
export function formatViolation(result: SimResult): string {
  const violation = result.violation;
  if (violation === undefined) return '';
  return [
    `VIOLATION seed=${result.options.seed}: ${violation.rule}`,
    `  ${violation.message}`,
    `  at ${violation.timeMs}ms (step ${violation.step})`,
    'options:',
    ...describeOptions(result.options).split('\n').map((line) => `  ${line}`),
    `last ${violation.trace.length} events:`,
    ...violation.trace.map((line) => `  ${line}`),
    `replay: ${replayCommand(result.options)}`,
  ].join('\n');
}
