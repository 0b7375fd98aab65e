// The clients: each is one ioredis connection at a time to one node (any member: followers
// proxy to the leader), running a closed loop of operations over a small set of keys with values
// no one writes twice, and recording each one in the history with its outcome.
//
// Operations, and how they are recorded (docs/testing.md has the full rationale):
// - read:  GET k                          -> read k
// - write: SET k v                        -> write k v
// - cas:   SET k v IFEQ old               -> cas k [old, v]; OK is ok, nil is fail (no error)
// - txn:   MULTI SET a v SET b v EXEC     -> write a v and write b v, same invoke and completion
//          MULTI GET a GET b EXEC         -> read a and read b, same invoke and completion
//   Transactions use their own pairs of keys (a and b), which nothing else writes and which are
//   always written together with the same value, so atomicity is the invariant "a and b are
//   read equal"; it is checked apart from linearizability (./verify.ts). The two halves of a
//   transaction are recorded under two processes (2i and 2i+1 for client i) because a process
//   has at most one operation open in the history format.
//
// Keys rotate, as Jepsen's independent keys do: after `opsPerKey` operations a key is retired
// and a fresh one takes its slot. Linearizability is checked per key, and the search is
// exponential in the operations that overlap, so bounded keys keep every check small however
// long the run.
//
// Outcomes: a reply is `ok` (or `fail` for a cas that did not match). An error reply that says
// the command did not happen (CLUSTERDOWN, TRYAGAIN, "lost in a leader change", a command that
// never left the client) is `fail` with an error: the checker drops it. Anything else (TIMEOUT,
// a lost connection, a client-side timeout, any error we do not recognize) is `info`: unknown,
// it may take effect at any later time. After an unknown outcome the client drops its connection
// and dials again, so a late reply can never be taken for the next command's.
import { Redis } from 'ioredis';
import { SeededPrng } from '../../src/raft/prng.js';
import type { KvFunction } from '../../src/check/index.js';
import { CLIENT_PORT } from './cluster.js';
import type { HistoryRecorder, Outcome } from './history.js';

export interface WorkloadOptions {
  readonly clients: number;
  /** Keys in use at once for read/write/cas. */
  readonly keys: number;
  /** Pairs of keys in use at once for transactions (0: no transactions). */
  readonly txnPairs: number;
  /** Operations on a key before it is retired. */
  readonly opsPerKey: number;
  /** Client-side timeout of one command (ioredis commandTimeout). */
  readonly clientTimeoutMs: number;
  readonly seed: number;
}

/** Error replies that mean "this did not happen". */
const DEFINITE_FAILURE = [
  /^CLUSTERDOWN\b/,
  /^TRYAGAIN\b/,
  /^MOVED\b/,
  /^BUSY\b/,
  /^MISCONF\b/,
  /^EXECABORT\b/,
  /^ERR the command was lost in a leader change; it was not applied/,
  // ioredis refused to send it: the connection was not ready and there is no offline queue.
  /^Stream isn't writeable/,
];

export function classifyError(message: string): Outcome {
  return DEFINITE_FAILURE.some((pattern) => pattern.test(message)) ? 'fail' : 'info';
}

/** The first words of an error, for counting kinds of errors without their details. */
export function errorKind(message: string): string {
  return message.replace(/\d+/g, 'N').slice(0, 60);
}

/** A set of slots, each holding a key that is retired after a number of operations. */
class KeyPool {
  private readonly slots: { key: string; used: number }[] = [];
  readonly everUsed: string[] = [];
  private generation = 0;

  constructor(private readonly prefix: string, slotCount: number, private readonly opsPerKey: number) {
    for (let at = 0; at < slotCount; at++) this.slots.push({ key: this.fresh(), used: 0 });
  }

  private fresh(): string {
    const key = `${this.prefix}${this.generation++}`;
    this.everUsed.push(key);
    return key;
  }

  take(prng: SeededPrng): string {
    const slot = this.slots[prng.nextInt(this.slots.length)] as { key: string; used: number };
    const key = slot.key;
    slot.used++;
    if (slot.used >= this.opsPerKey) {
      slot.key = this.fresh();
      slot.used = 0;
    }
    return key;
  }
}

export interface WorkloadStats {
  /** `${f}:${outcome}` -> count, e.g. "write:ok", "cas:fail", "txn-read:info". */
  readonly outcomes: Map<string, number>;
  readonly errors: Map<string, number>;
}

interface Connection {
  readonly client: Redis;
  /** The node it is connected to. */
  readonly node: number;
}

type Op =
  | { kind: 'read' | 'write' | 'cas'; key: string }
  | { kind: 'txn-write' | 'txn-read'; pair: string };

export class Workload {
  readonly singles: KeyPool;
  readonly pairs: KeyPool;
  /** The last value any client saw for each key: what a cas compares against. */
  private readonly lastSeen = new Map<string, string>();
  readonly stats: WorkloadStats = { outcomes: new Map(), errors: new Map() };
  private stopping = false;
  private running: Promise<void>[] = [];

  constructor(
    private readonly options: WorkloadOptions,
    private readonly history: HistoryRecorder,
    /** Nodes a client may dial now (members, whatever their state: clients do not know). */
    private readonly targets: () => readonly { id: number; host: string }[],
  ) {
    this.singles = new KeyPool('k', options.keys, options.opsPerKey);
    this.pairs = new KeyPool('t', options.txnPairs, Math.max(1, Math.floor(options.opsPerKey / 2)));
  }

  /** Every key ever used, transaction keys included. */
  allKeys(): { singles: string[]; pairs: string[] } {
    return { singles: [...this.singles.everUsed], pairs: this.options.txnPairs > 0 ? [...this.pairs.everUsed] : [] };
  }

  static pairKeys(pair: string): [string, string] {
    return [`${pair}.a`, `${pair}.b`];
  }

  start(): void {
    for (let index = 0; index < this.options.clients; index++) this.running.push(this.runClient(index));
  }

  /** Lets each client finish the operation it has open (bounded by its timeout), then closes it. */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.running);
    this.running = [];
  }

  totalOperations(): number {
    let total = 0;
    for (const count of this.stats.outcomes.values()) total += count;
    return total;
  }

  private count(name: string, outcome: Outcome, error?: string): void {
    const key = `${name}:${outcome}`;
    this.stats.outcomes.set(key, (this.stats.outcomes.get(key) ?? 0) + 1);
    if (error !== undefined) {
      const kind = errorKind(error);
      this.stats.errors.set(kind, (this.stats.errors.get(kind) ?? 0) + 1);
    }
  }

  private async runClient(index: number): Promise<void> {
    const prng = new SeededPrng((this.options.seed * 1_000_003 + index * 7919) >>> 0);
    let connection: Connection | undefined;
    while (!this.stopping) {
      if (!connection) {
        connection = await this.connect(prng);
        if (!connection) continue;
      }
      const keep = await this.runOne(index, connection, this.nextOp(prng));
      if (!keep) {
        connection.client.disconnect();
        connection = undefined;
      }
    }
    connection?.client.disconnect();
  }

  /** Dials a random target; undefined (after a short pause so a dead node is not hammered) when that fails. */
  private async connect(prng: SeededPrng): Promise<Connection | undefined> {
    const targets = this.targets();
    const target = targets[prng.nextInt(Math.max(1, targets.length))];
    if (target === undefined) throw new Error('no node to connect to');
    const client = new Redis({
      host: target.host, port: CLIENT_PORT, lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0,
      retryStrategy: () => null, autoResendUnfulfilledCommands: false, enableReadyCheck: false,
      connectTimeout: this.options.clientTimeoutMs, commandTimeout: this.options.clientTimeoutMs,
    });
    client.on('error', () => undefined);
    try {
      await client.connect();
      return { client, node: target.id };
    } catch {
      client.disconnect();
      // Pacing between dial attempts, not a wait for a condition: the next attempt picks anew.
      await new Promise((resolve) => setTimeout(resolve, 50 + prng.nextInt(100)));
      return undefined;
    }
  }

  private nextOp(prng: SeededPrng): Op {
    const roll = prng.nextInt(100);
    if (this.options.txnPairs > 0 && roll >= 85) return { kind: roll >= 93 ? 'txn-write' : 'txn-read', pair: this.pairs.take(prng) };
    const key = this.singles.take(prng);
    if (roll < 40) return { kind: 'read', key };
    if (roll < 65 || !this.lastSeen.has(key)) return { kind: 'write', key };
    return { kind: 'cas', key };
  }

  /** Runs one operation and records it; false when the connection should be dropped. */
  private async runOne(index: number, { client, node }: Connection, op: Op): Promise<boolean> {
    const process = 2 * index;
    const value = `${index}-${this.history.events.length}`;
    switch (op.kind) {
      case 'read':
        return this.single(node, process, 'read', op.key, undefined, async () => {
          const read = await client.get(op.key);
          if (read !== null) this.lastSeen.set(op.key, read);
          return { outcome: 'ok', value: read };
        });
      case 'write':
        return this.single(node, process, 'write', op.key, value, async () => {
          const reply = await client.set(op.key, value);
          if (reply !== 'OK') throw new Error(`unexpected SET reply ${JSON.stringify(reply)}`);
          this.lastSeen.set(op.key, value);
          return { outcome: 'ok', value };
        });
      case 'cas': {
        const from = this.lastSeen.get(op.key) as string;
        return this.single(node, process, 'cas', op.key, [from, value], async () => {
          const reply = await client.call('SET', op.key, value, 'IFEQ', from);
          if (reply === 'OK') {
            this.lastSeen.set(op.key, value);
            return { outcome: 'ok', value: [from, value] };
          }
          if (reply === null) return { outcome: 'fail', value: [from, value] };
          throw new Error(`unexpected SET IFEQ reply ${JSON.stringify(reply)}`);
        });
      }
      case 'txn-write':
      case 'txn-read':
        return this.transaction(client, node, index, op.kind, op.pair, `t${value}`);
      default:
        return assertNever(op);
    }
  }

  private async single(node: number, process: number, f: KvFunction, key: string,
    value: string | [string, string] | undefined,
    run: () => Promise<{ outcome: Outcome; value: string | null | [string, string] }>): Promise<boolean> {
    this.history.invoke(process, f, key, value, node);
    try {
      const result = await run();
      this.history.complete(process, result.outcome, f, key, result.value);
      this.count(f, result.outcome);
      return true;
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      const outcome = classifyError(message);
      this.history.complete(process, outcome, f, key, undefined, message);
      this.count(f, outcome, message);
      return false;
    }
  }

  private async transaction(client: Redis, node: number, index: number, kind: 'txn-write' | 'txn-read', pair: string, value: string): Promise<boolean> {
    const [a, b] = Workload.pairKeys(pair);
    const processes = [2 * index, 2 * index + 1] as const;
    const f: KvFunction = kind === 'txn-write' ? 'write' : 'read';
    const input = kind === 'txn-write' ? value : undefined;
    const invoked = this.history.invoke(processes[0], f, a, input, node);
    this.history.invoke(processes[1], f, b, input, node, invoked);
    try {
      const multi = client.multi();
      if (kind === 'txn-write') multi.set(a, value).set(b, value);
      else multi.get(a).get(b);
      const replies = await multi.exec();
      if (replies === null) throw new Error('EXEC returned nil');
      const results = replies.map(([error, reply]) => {
        if (error) throw error;
        return reply as string | null;
      });
      if (results.length !== 2) throw new Error(`EXEC returned ${results.length} replies`);
      const completed = this.history.complete(processes[0], 'ok', f, a, kind === 'txn-write' ? value : results[0]);
      this.history.complete(processes[1], 'ok', f, b, kind === 'txn-write' ? value : results[1], undefined, completed);
      this.count(kind, 'ok');
      return true;
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      const outcome = classifyError(message);
      const completed = this.history.complete(processes[0], outcome, f, a, undefined, message);
      this.history.complete(processes[1], outcome, f, b, undefined, message, completed);
      this.count(kind, outcome, message);
      return false;
    }
  }
}

function assertNever(value: never): never {
  throw new Error(`unreachable: ${JSON.stringify(value)}`);
}
