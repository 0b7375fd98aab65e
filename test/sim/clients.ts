// Simulated clients. Each runs one operation at a time against the key-value state machine:
// reads go through ReadIndex, writes and compare-and-sets through the log. A client retries an
// operation elsewhere only when it knows the last attempt had no effect (the node refused it,
// another entry took its index, or the read was dropped); when it cannot know (the node
// crashed, or the client gave up waiting) it records the outcome as unknown and moves on. Write
// values are unique, so the linearizability checker can tell every write apart.
//
// Every operation is recorded with its invocation and return on the history clock, which
// orders events exactly as the simulator handled them.
//
// Unknown outcomes make the linearizability search exponential, and the simulator knows more
// than a client does: it saw every node apply every entry. So before the check, an unknown
// write or compare-and-set that some node applied gets the outcome it had and, as its return,
// the moment it was first applied (it took effect when it was committed, which is earlier and
// after its call, so this keeps the true linearization point inside the interval); one that no
// node ever applied, when the run ended in a healthy cluster with everything committed and
// applied, never took effect and is left out, like a refused operation.

import type { KvInput, KvOperation, KvOutput } from '../../src/check/index.js';
import { NONE, type NodeId } from '../../src/raft/types.js';
import type { SeededPrng } from '../../src/raft/prng.js';
import type { Cluster, ReadOutcome, WriteOutcome } from './cluster.js';
import { schedule, type SimContext } from './context.js';
import { encodeCommand, type KvCommand, type Value } from './kv.js';
import type { SimOptions } from './options.js';

interface CurrentOp {
  /** Numbers the operations of all clients; the timeout event names the operation it is for. */
  readonly seq: number;
  readonly input: KvInput;
  readonly command: KvCommand | undefined;
  readonly data: Uint8Array | undefined;
  /** On the history clock. */
  readonly call: number;
  readonly callMs: number;
  attempts: number;
  /** An attempt was handed to a node and has not ended in a known way. */
  inFlight: boolean;
}

/** An operation as recorded, with the id of the command it proposed (writes and cas). */
export interface RecordedOperation {
  readonly op: KvOperation;
  readonly opId: number | undefined;
}

/** The first application of a client operation anywhere: when (history clock) and its result. */
export interface FirstApply {
  readonly clock: number;
  readonly ok: boolean;
}

interface ClientState {
  readonly id: number;
  target: NodeId;
  /** Bumped whenever the current attempt is abandoned; stale callbacks and timers check it. */
  token: number;
  current: CurrentOp | undefined;
  readonly lastSeen: Map<string, Value>;
  /**
   * 'final' (the liveness phase): keep going until an operation invoked after the faults
   * stopped gets a definite answer, then stop ('done').
   */
  mode: 'running' | 'final' | 'done';
  completed: number;
}

export interface ClientStats {
  readonly invoked: number;
  readonly ok: number;
  readonly failed: number;
  readonly unknown: number;
}

export class Clients {
  readonly recorded: RecordedOperation[] = [];
  private clients: ClientState[] = [];
  private nextOpId = 1;
  private invoked = 0;
  /** The history clock when the faults stopped. */
  private healClock = Infinity;

  constructor(
    private readonly ctx: SimContext,
    private readonly options: SimOptions,
    private readonly cluster: Cluster,
    private readonly prng: SeededPrng,
  ) {
    for (let id = 1; id <= options.clients; id++) {
      this.clients.push({
        id,
        target: 1 + prng.nextInt(options.nodes),
        token: 0,
        current: undefined,
        lastSeen: new Map(),
        mode: 'running',
        completed: 0,
      });
    }
  }

  start(): void {
    for (const client of this.clients) this.wake(client, this.prng.nextInt(50));
  }

  /**
   * The liveness phase. Operations under way run to an answer or to their timeout (a deposed
   * leader may hold a proposal past the end of the new leader's log, where nothing resolves it
   * until more is written); then each client needs one operation invoked from now on to get a
   * definite answer.
   */
  finish(): void {
    // Every client has a wake-up or an attempt outstanding, so changing the mode is enough.
    this.healClock = this.ctx.historyClock;
    for (const client of this.clients) client.mode = 'final';
  }

  allDone(): boolean {
    return this.clients.every((client) => client.mode === 'done');
  }

  pending(): string[] {
    return this.clients
      .filter((client) => client.mode !== 'done')
      .map((client) => `client ${client.id}: ${client.current === undefined ? 'idle' : `${describeInput(client.current.input)} since ${client.current.callMs}ms, ${client.current.attempts} attempts, target n${client.target}`}`);
  }

  /**
   * The history to check: every recorded operation plus the writes still waiting (as unknown),
   * with unknown outcomes resolved from what the nodes applied (see the file comment).
   * `settled` says the cluster ended healthy, so an operation never applied never will be.
   */
  history(firstApplies: ReadonlyMap<number, FirstApply>, settled: boolean): KvOperation[] {
    const all = [...this.recorded];
    for (const client of this.clients) {
      const op = client.current;
      if (op === undefined || !op.inFlight || op.command === undefined) continue;
      all.push({ op: { clientId: client.id, input: op.input, output: { type: 'unknown' }, call: op.call, return: Infinity }, opId: op.command.opId });
    }
    const history: KvOperation[] = [];
    for (const { op, opId } of all) {
      if (op.output.type !== 'unknown' || opId === undefined) {
        history.push(op);
        continue;
      }
      const applied = firstApplies.get(opId);
      if (applied === undefined) {
        if (!settled) history.push(op);
        continue;
      }
      const output: KvOutput = op.input.f === 'cas' && !applied.ok ? { type: 'fail' } : { type: 'ok' };
      history.push({ ...op, output, return: applied.clock });
    }
    return history;
  }

  stats(): ClientStats {
    let ok = 0;
    let failed = 0;
    let unknown = 0;
    for (const { op } of this.recorded) {
      if (op.output.type === 'ok') ok++;
      else if (op.output.type === 'fail') failed++;
      else unknown++;
    }
    return { invoked: this.invoked, ok, failed, unknown };
  }

  onWake(id: number, token: number): void {
    const client = this.clients[id - 1] as ClientState;
    if (token !== client.token || client.mode === 'done') return;
    if (client.current === undefined) {
      client.current = this.newOperation(client);
      schedule(this.ctx, this.options.clientTimeoutMs, { kind: 'client-timeout', client: client.id, seq: client.current.seq });
    }
    this.attempt(client);
  }

  /** `seq` names the operation the timeout was set for; retries do not move it. */
  onTimeout(id: number, seq: number): void {
    const client = this.clients[id - 1] as ClientState;
    const op = client.current;
    if (op === undefined || op.seq !== seq || client.mode === 'done') return;
    if (op.inFlight && op.input.f !== 'read') this.complete(client, { type: 'unknown' }, 'timed out');
    else this.abandon(client, 'timed out');
  }

  private newOperation(client: ClientState): CurrentOp {
    const opId = this.nextOpId++;
    const key = `k${this.prng.nextInt(this.options.keys)}`;
    const roll = this.prng.nextFloat();
    let input: KvInput;
    let command: KvCommand | undefined;
    if (roll < this.options.readShare) {
      input = { f: 'read', key };
    } else if (roll < this.options.readShare + this.options.writeShare) {
      const value = `v${opId}`;
      input = { f: 'write', key, value };
      command = { f: 'write', key, value, opId };
    } else {
      // Mostly the value this client last saw (so some succeed), sometimes a stale guess.
      const seen = client.lastSeen.get(key) ?? null;
      const from = this.prng.nextInt(4) === 0 && this.nextOpId > 2 ? `v${1 + this.prng.nextInt(opId - 1)}` : seen;
      const to = `v${opId}`;
      input = { f: 'cas', key, from, to };
      command = { f: 'cas', key, from, to, opId };
    }
    this.invoked++;
    const call = this.ctx.historyClock++;
    this.ctx.trace.add(this.ctx.nowMs, 0, 'client', `c${client.id} invoke ${describeInput(input)} (op ${opId})`);
    return { seq: opId, input, command, data: command === undefined ? undefined : encodeCommand(command), call, callMs: this.ctx.nowMs, attempts: 0, inFlight: false };
  }

  private attempt(client: ClientState): void {
    const op = client.current as CurrentOp;
    op.attempts++;
    op.inFlight = true;
    const token = client.token;
    const target = client.target;
    if (op.command === undefined) {
      this.cluster.submitRead(target, op.input.key, (outcome) => {
        if (token === client.token) this.onRead(client, outcome);
      });
    } else {
      this.cluster.submitWrite(target, op.command, op.data as Uint8Array, (outcome) => {
        if (token === client.token) this.onWrite(client, outcome);
      });
    }
  }

  private onWrite(client: ClientState, outcome: WriteOutcome): void {
    const op = client.current as CurrentOp;
    switch (outcome.kind) {
      case 'applied':
        if (op.input.f === 'cas' && !outcome.ok) this.complete(client, { type: 'fail' }, 'cas failed');
        else this.complete(client, { type: 'ok' }, 'ok');
        return;
      case 'rejected':
      case 'lost':
        this.retry(client, outcome.leader, outcome.kind === 'rejected' ? outcome.error : 'lost its index');
        return;
      case 'unknown':
        client.target = NONE;
        this.complete(client, { type: 'unknown' }, 'unknown');
        return;
      default:
        throw new Error(`unknown outcome ${JSON.stringify(outcome satisfies never)}`);
    }
  }

  private onRead(client: ClientState, outcome: ReadOutcome): void {
    switch (outcome.kind) {
      case 'ok':
        this.complete(client, { type: 'ok', value: outcome.value }, `ok ${outcome.value ?? 'nil'}`);
        return;
      case 'rejected':
        this.retry(client, outcome.leader, outcome.error);
        return;
      case 'dropped':
        this.retry(client, outcome.leader, 'read dropped');
        return;
      case 'unknown':
        // A read that never answered had no effect: it is left out of the history.
        client.target = NONE;
        this.abandon(client, 'no answer');
        return;
      default:
        throw new Error(`unknown outcome ${JSON.stringify(outcome satisfies never)}`);
    }
  }

  private retry(client: ClientState, leader: NodeId, why: string): void {
    const op = client.current as CurrentOp;
    op.inFlight = false;
    client.token++;
    const ids = this.cluster.liveIds();
    client.target = leader !== NONE && leader !== client.target && this.prng.nextInt(4) !== 0
      ? leader
      : (ids[this.prng.nextInt(ids.length)] as NodeId);
    this.ctx.trace.add(this.ctx.nowMs, 0, 'client', `c${client.id} retry ${describeInput(op.input)} at n${client.target} (${why})`);
    this.wake(client, 1 + this.prng.nextInt(20));
  }

  private complete(client: ClientState, output: KvOutput, how: string): void {
    const op = client.current as CurrentOp;
    const unknown = output.type === 'unknown';
    this.recorded.push({
      op: { clientId: client.id, input: op.input, output, call: op.call, return: unknown ? Infinity : this.ctx.historyClock++ },
      opId: op.command?.opId,
    });
    if (output.type === 'ok') {
      if (op.input.f === 'read') client.lastSeen.set(op.input.key, output.value ?? null);
      else if (op.input.f === 'write') client.lastSeen.set(op.input.key, op.input.value);
      else if (op.input.f === 'cas') client.lastSeen.set(op.input.key, op.input.to);
    }
    this.ctx.trace.add(this.ctx.nowMs, 0, 'client', `c${client.id} ${describeInput(op.input)} -> ${how}`);
    if (client.mode === 'final' && !unknown && op.call >= this.healClock) {
      client.current = undefined;
      client.token++;
      client.mode = 'done';
      return;
    }
    this.next(client);
  }

  private abandon(client: ClientState, why: string): void {
    const op = client.current as CurrentOp;
    this.ctx.trace.add(this.ctx.nowMs, 0, 'client', `c${client.id} ${describeInput(op.input)} -> abandoned (${why})`);
    this.next(client);
  }

  private next(client: ClientState): void {
    client.current = undefined;
    client.completed++;
    client.token++;
    if (client.target === NONE) {
      const ids = this.cluster.liveIds();
      client.target = ids[this.prng.nextInt(ids.length)] as NodeId;
    }
    this.wake(client, this.prng.nextInt(this.options.clientThinkMsMax + 1));
  }

  private wake(client: ClientState, delayMs: number): void {
    schedule(this.ctx, delayMs, { kind: 'client', client: client.id, token: client.token });
  }
}

export function describeInput(input: KvInput): string {
  switch (input.f) {
    case 'read':
    case 'get':
      return `read ${input.key}`;
    case 'write':
    case 'put':
    case 'append':
      return `${input.f} ${input.key}=${input.value}`;
    case 'cas':
      return `cas ${input.key} ${input.from ?? 'nil'}->${input.to}`;
    default:
      throw new Error(`unknown input ${JSON.stringify(input satisfies never)}`);
  }
}
