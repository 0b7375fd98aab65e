// Clusters of 3 and 5 `raftis maelstrom` processes stay linearizable through partitions.
//
// A small router stands in for Maelstrom: it spawns the node processes (src/maelstrom/main.ts,
// the same command module as `raftis maelstrom`, transpiled once by the TypeScript compiler so
// that five processes do not each pay tsx's start-up on a busy machine), sends each its `init`,
// and carries every line
// a node prints to its destination: another node's stdin (after a random delay of a few
// milliseconds, so messages between two nodes may overtake each other) or a simulated client.
// Partitions cut node-to-node links only, as Maelstrom's nemesis does; clients reach every node.
// The router learns who leads by reading the Raft heartbeats and appends it carries.
//
// Several clients run read, write and cas on a few keys against random nodes, each waiting for
// one reply before its next request; every written value is unique. Meanwhile a schedule
// isolates the leader, splits the cluster into a majority and a minority (leader in the
// minority), and heals. The history (an error with an indefinite code, or no reply within the
// client's timeout, is an unknown outcome; a definite error drops the operation, except a cas
// that failed its comparison) goes to the linearizability checker, which must find it
// linearizable. The test also demands that a good number of operations succeeded, that the
// cluster changed leaders, and that it served requests after the last heal, so it cannot pass
// by doing nothing. The seed is printed; MAELSTROM_SEED=<n> replays the same choices (the
// timing of real processes still varies).
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createInterface } from 'node:readline';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkOperations, describeKvOperation, kvModel, type KvInput, type KvOperation, type KvOutput } from '../../src/check/index.js';
import { SeededPrng } from '../../src/raft/prng.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const ENTRY = path.join(ROOT, 'src/maelstrom/main.ts');

/** Maelstrom's indefinite error codes: the operation may have happened. */
const INDEFINITE = new Set([0, 13]);
const CODE_KEY_DOES_NOT_EXIST = 20;
const CODE_PRECONDITION_FAILED = 22;

interface Body {
  readonly type: string;
  readonly [field: string]: unknown;
}
interface Envelope {
  readonly src: string;
  readonly dest: string;
  readonly body: Body;
}

const now = (): number => performance.now();

/**
 * Transpiles `entry` and every module it imports by a relative path into a temporary directory
 * (with a link to node_modules for the packages), and returns the entry's JavaScript file.
 */
function transpileEntry(entry: string, outDir: string): string {
  symlinkSync(path.join(ROOT, 'node_modules'), path.join(outDir, 'node_modules'), 'dir');
  writeFileSync(path.join(outDir, 'package.json'), '{"type":"module"}\n');
  const pending = [entry];
  const seen = new Set<string>();
  for (let file = pending.pop(); file !== undefined; file = pending.pop()) {
    if (seen.has(file)) continue;
    seen.add(file);
    const source = readFileSync(file, 'utf8');
    for (const match of source.matchAll(/from\s*'(\.{1,2}\/[^']+)\.js'/g)) {
      pending.push(path.resolve(path.dirname(file), `${match[1] as string}.ts`));
    }
    const { outputText } = ts.transpileModule(source, {
      fileName: file,
      compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ES2022 },
    });
    const out = path.join(outDir, path.relative(ROOT, file)).replace(/\.ts$/, '.js');
    mkdirSync(path.dirname(out), { recursive: true });
    writeFileSync(out, outputText);
  }
  return path.join(outDir, path.relative(ROOT, entry)).replace(/\.ts$/, '.js');
}

let buildDir = '';
let nodeEntry = '';
beforeAll(() => {
  buildDir = mkdtempSync(path.join(tmpdir(), 'raftis-maelstrom-'));
  nodeEntry = transpileEntry(ENTRY, buildDir);
});
afterAll(() => {
  if (buildDir !== '') rmSync(buildDir, { recursive: true, force: true });
});

async function waitFor(what: string, condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = now() + timeoutMs;
  while (!condition()) {
    if (now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

interface NodeProcess {
  readonly name: string;
  readonly child: ChildProcessWithoutNullStreams;
  readonly exited: Promise<number | null>;
  /** The last lines of its log, for failure messages. */
  readonly logTail: string[];
}

/** The stand-in for Maelstrom's network: node processes, links that can be cut, and clients. */
class Router {
  readonly nodes = new Map<string, NodeProcess>();
  /** Cut links, as "from->to". */
  private readonly cut = new Set<string>();
  /** Pending client requests by "client/msg_id". */
  private readonly waiting = new Map<string, (body: Body) => void>();
  /** The highest term in which a node was seen sending heartbeats or appends, and that node. */
  leaderTerm = 0;
  leader: string | undefined;
  /** Every (term, leader) pair seen. */
  readonly leaders = new Set<string>();
  delivered = 0;
  dropped = 0;

  constructor(private readonly prng: SeededPrng, private readonly seed: number) {}

  async start(names: readonly string[], extraArgs: readonly string[]): Promise<void> {
    for (const [position, name] of names.entries()) {
      const args = [nodeEntry, '--seed', String(this.seed + position), ...extraArgs];
      const child = spawn(process.execPath, args, { cwd: ROOT });
      const logTail: string[] = [];
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      child.stdin.on('error', () => { /* the node died; its exit code tells */ });
      createInterface({ input: child.stdout }).on('line', (line) => this.route(name, line));
      createInterface({ input: child.stderr }).on('line', (line) => {
        logTail.push(line);
        if (logTail.length > 30) logTail.shift();
      });
      this.nodes.set(name, { name, child, exited, logTail });
    }
    const inits = names.map((name, position) =>
      this.call(`c${position}`, name, { type: 'init', node_id: name, node_ids: [...names] }, 20_000));
    const replies = await Promise.all(inits);
    for (const [position, reply] of replies.entries()) {
      expect(reply?.type, `${names[position]} answered init with ${JSON.stringify(reply)}; logs:\n${this.logs()}`).toBe('init_ok');
    }
  }

  /** Sends a request from a client and resolves with the reply, or undefined after `timeoutMs`. */
  call(client: string, node: string, body: Body, timeoutMs: number, msgId = this.nextMsgId++): Promise<Body | undefined> {
    return new Promise((resolve) => {
      const key = `${client}/${msgId}`;
      const timer = setTimeout(() => {
        this.waiting.delete(key);
        resolve(undefined);
      }, timeoutMs);
      this.waiting.set(key, (reply) => {
        clearTimeout(timer);
        resolve(reply);
      });
      this.write(node, { src: client, dest: node, body: { ...body, msg_id: msgId } });
    });
  }

  private nextMsgId = 1;

  isolate(name: string): void {
    this.split([[name], [...this.nodes.keys()].filter((other) => other !== name)]);
  }

  split(groups: readonly (readonly string[])[]): void {
    this.cut.clear();
    for (const group of groups) {
      for (const other of groups) {
        if (other === group) continue;
        for (const a of group) for (const b of other) this.cut.add(`${a}->${b}`);
      }
    }
  }

  heal(): void {
    this.cut.clear();
  }

  private route(from: string, line: string): void {
    let envelope: Envelope;
    try {
      envelope = JSON.parse(line) as Envelope;
    } catch {
      throw new Error(`${from} printed a line that is not JSON: ${line}`);
    }
    if (envelope.src !== from) throw new Error(`${from} sent a message as ${envelope.src}: ${line}`);
    if (this.nodes.has(envelope.dest)) {
      this.observe(envelope);
      if (this.cut.has(`${envelope.src}->${envelope.dest}`)) {
        this.dropped++;
        return;
      }
      this.delivered++;
      // A few milliseconds of random latency, so messages may be reordered.
      setTimeout(() => this.write(envelope.dest, envelope), this.prng.nextInt(4));
      return;
    }
    const inReplyTo = envelope.body.in_reply_to;
    const waiter = this.waiting.get(`${envelope.dest}/${String(inReplyTo)}`);
    if (!waiter) return; // The client gave up on it already.
    this.waiting.delete(`${envelope.dest}/${String(inReplyTo)}`);
    waiter(envelope.body);
  }

  private observe(envelope: Envelope): void {
    if (envelope.body.type !== 'raft') return;
    const msg = envelope.body.msg as { type: string; term: number };
    if (msg.type !== 'heartbeat' && msg.type !== 'append') return;
    this.leaders.add(`${msg.term}:${envelope.src}`);
    if (msg.term >= this.leaderTerm) {
      this.leaderTerm = msg.term;
      this.leader = envelope.src;
    }
  }

  private write(node: string, envelope: Envelope): void {
    const target = this.nodes.get(node);
    if (!target || target.child.exitCode !== null) return;
    target.child.stdin.write(`${JSON.stringify(envelope)}\n`);
  }

  /** Closes every node's stdin and waits for them to exit on their own. */
  async stop(timeoutMs: number): Promise<(number | null)[]> {
    for (const node of this.nodes.values()) node.child.stdin.end();
    const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), timeoutMs));
    const codes: (number | null)[] = [];
    for (const node of this.nodes.values()) {
      const code = await Promise.race([node.exited, timeout]);
      if (code === 'timeout') {
        node.child.kill('SIGKILL');
        throw new Error(`${node.name} did not exit within ${timeoutMs} ms of stdin closing`);
      }
      codes.push(code);
    }
    return codes;
  }

  kill(): void {
    for (const node of this.nodes.values()) if (node.child.exitCode === null) node.child.kill('SIGKILL');
  }

  logs(): string {
    return [...this.nodes.values()].map((node) => `--- ${node.name}\n${node.logTail.join('\n')}`).join('\n');
  }
}

interface Scenario {
  readonly nodeCount: number;
  readonly clientCount: number;
  readonly keyCount: number;
  /** How long each phase of the partition schedule lasts. */
  readonly phaseMs: number;
}

interface RunStats {
  readonly operations: KvOperation[];
  readonly okCount: number;
  readonly okWrites: number;
  readonly okReadsWithValue: number;
  readonly okCas: number;
  readonly failedCas: number;
  readonly unknownCount: number;
  readonly definiteErrors: number;
  readonly okAfterFinalHeal: number;
}

const CLIENT_TIMEOUT_MS = 3000;

async function runScenario(scenario: Scenario, seed: number): Promise<RunStats & { router: Router; schedule: string[] }> {
  const prng = new SeededPrng(seed);
  const router = new Router(prng, seed);
  const names = Array.from({ length: scenario.nodeCount }, (_, position) => `n${position + 1}`);
  const schedule: string[] = [];
  try {
    await router.start(names, ['--tick-ms', '20', '--election-ticks', '10', '--heartbeat-ticks', '2', '--request-timeout-ms', '1000']);
    await waitFor('a first leader', () => router.leader !== undefined, 15_000);

    const operations: KvOperation[] = [];
    let okCount = 0, okWrites = 0, okReadsWithValue = 0, okCas = 0, failedCas = 0, unknownCount = 0, definiteErrors = 0, okAfterFinalHeal = 0;
    let finalHealAt = Infinity;
    let nextValue = 1;
    /** The last value each key was seen to hold, so a cas has a fair chance of matching. */
    const lastSeen = new Map<number, number>();
    let running = true;

    const client = async (clientId: number): Promise<void> => {
      const clientName = `c${100 + clientId}`;
      while (running) {
        const node = names[prng.nextInt(names.length)] as string;
        const key = prng.nextInt(scenario.keyCount);
        const roll = prng.nextInt(10);
        let body: Body;
        let input: KvInput;
        if (roll < 4) {
          body = { type: 'read', key };
          input = { f: 'read', key: String(key) };
        } else if (roll < 7) {
          const value = nextValue++;
          body = { type: 'write', key, value };
          input = { f: 'write', key: String(key), value: String(value) };
        } else {
          const from = lastSeen.get(key) ?? 0;
          const to = nextValue++;
          body = { type: 'cas', key, from, to };
          input = { f: 'cas', key: String(key), from: String(from), to: String(to) };
        }
        const call = now();
        const reply = await router.call(clientName, node, body, CLIENT_TIMEOUT_MS);
        const returned = now();
        let output: KvOutput | undefined;
        let settled = true;
        if (reply === undefined) {
          output = { type: 'unknown' };
        } else if (reply.type === 'error') {
          const code = reply.code as number;
          if (INDEFINITE.has(code)) output = { type: 'unknown' };
          else if (input.f === 'read' && code === CODE_KEY_DOES_NOT_EXIST) output = { type: 'ok', value: null };
          else if (input.f === 'cas' && (code === CODE_PRECONDITION_FAILED || code === CODE_KEY_DOES_NOT_EXIST)) output = { type: 'fail' };
          else {
            // A definite error: it did not happen, and has no place in the history.
            definiteErrors++;
            settled = false;
          }
        } else if (reply.type === 'read_ok') {
          output = { type: 'ok', value: String(reply.value) };
          lastSeen.set(key, reply.value as number);
          okReadsWithValue++;
        } else if (reply.type === 'write_ok' || reply.type === 'cas_ok') {
          output = { type: 'ok' };
          if (input.f === 'write') okWrites++;
          else okCas++;
          lastSeen.set(key, body.type === 'write' ? (body.value as number) : (body.to as number));
        } else {
          throw new Error(`unexpected reply to ${JSON.stringify(body)}: ${JSON.stringify(reply)}`);
        }
        if (!settled || output === undefined) continue;
        if (output.type === 'unknown') {
          unknownCount++;
          // An unknown read observed nothing and changed nothing.
          if (input.f === 'read') continue;
          operations.push({ clientId, input, output, call, return: Infinity });
          continue;
        }
        if (output.type === 'fail') failedCas++;
        else okCount++;
        if (output.type === 'ok' && call >= finalHealAt) okAfterFinalHeal++;
        operations.push({ clientId, input, output, call, return: returned });
      }
    };

    const clients = Array.from({ length: scenario.clientCount }, (_, clientId) => client(clientId));
    const phase = async (what: string, act: () => void): Promise<void> => {
      act();
      schedule.push(`${what} (leader then: ${router.leader ?? 'none'}, term ${router.leaderTerm})`);
      await new Promise((resolve) => setTimeout(resolve, scenario.phaseMs));
    };
    const splitWithLeaderInMinority = (): void => {
      const leader = router.leader ?? (names[0] as string);
      const others = names.filter((name) => name !== leader);
      const minority = [leader];
      while (minority.length < Math.floor(scenario.nodeCount / 2)) {
        minority.push(others.splice(prng.nextInt(others.length), 1)[0] as string);
      }
      router.split([minority, others]);
      schedule.push(`  split ${minority.join(',')} | ${others.join(',')}`);
    };

    await phase('healthy', () => router.heal());
    await phase('isolate the leader', () => router.isolate(router.leader ?? (names[0] as string)));
    await phase('heal', () => router.heal());
    await phase('split, leader in the minority', splitWithLeaderInMinority);
    await phase('heal', () => router.heal());
    await phase('isolate the leader', () => router.isolate(router.leader ?? (names[0] as string)));
    finalHealAt = now();
    await phase('final heal', () => router.heal());
    running = false;
    await Promise.all(clients);
    const exitCodes = await router.stop(15_000);
    expect(exitCodes, router.logs()).toEqual(names.map(() => 0));
    return { operations, okCount, okWrites, okReadsWithValue, okCas, failedCas, unknownCount, definiteErrors, okAfterFinalHeal, router, schedule };
  } catch (error) {
    router.kill();
    throw error;
  }
}

function describeOperation(op: KvOperation): string {
  const returned = op.return === Infinity ? 'never returned' : `returned ${op.return.toFixed(1)}`;
  return `client ${op.clientId}: ${describeKvOperation(op.input, op.output)} (called ${op.call.toFixed(1)}, ${returned})`;
}

const envSeed = process.env.MAELSTROM_SEED;
const baseSeed = envSeed !== undefined ? Number(envSeed) : Math.floor(Math.random() * 0x7fff_ffff);

describe('raftis maelstrom clusters under partitions', () => {
  const scenarios: Scenario[] = [
    { nodeCount: 3, clientCount: 6, keyCount: 3, phaseMs: 1200 },
    { nodeCount: 5, clientCount: 8, keyCount: 4, phaseMs: 1200 },
  ];
  for (const scenario of scenarios) {
    it(`${scenario.nodeCount} nodes stay linearizable`, async () => {
      const seed = baseSeed + scenario.nodeCount;
      console.log(`maelstrom ${scenario.nodeCount}-node run: seed=${seed} (replay the choices with MAELSTROM_SEED=${baseSeed})`);
      const started = now();
      const run = await runScenario(scenario, seed);
      const check = checkOperations(kvModel, run.operations, { timeoutMs: 20_000 });
      const summary = {
        seconds: ((now() - started) / 1000).toFixed(1),
        operations: run.operations.length,
        ok: run.okCount,
        okWrites: run.okWrites,
        okReadsWithValue: run.okReadsWithValue,
        okCas: run.okCas,
        failedCas: run.failedCas,
        unknown: run.unknownCount,
        definiteErrors: run.definiteErrors,
        okAfterFinalHeal: run.okAfterFinalHeal,
        leaders: [...run.router.leaders],
        messagesDelivered: run.router.delivered,
        messagesDropped: run.router.dropped,
        check: `${check.result} in ${check.elapsedMs.toFixed(0)} ms`,
      };
      console.log(`maelstrom ${scenario.nodeCount}-node run (seed=${seed}): ${JSON.stringify(summary)}\n${run.schedule.join('\n')}`);
      if (check.result === 'not-linearizable') {
        const { linearized, state, stuck } = check.counterexample;
        throw new Error([
          `seed=${seed}: key ${check.key} is not linearizable`,
          ...linearized.slice(-15).map(describeOperation),
          `state then: ${state}; stuck on:`,
          describeOperation(stuck),
        ].join('\n'));
      }
      expect(check.result, `seed=${seed}`).toBe('linearizable');
      // Not vacuous: the cluster did real work through the faults, changed leaders, and came
      // back after the last heal.
      expect(run.okCount, `seed=${seed}`).toBeGreaterThanOrEqual(150);
      expect(run.okWrites, `seed=${seed}`).toBeGreaterThanOrEqual(30);
      expect(run.okReadsWithValue, `seed=${seed}`).toBeGreaterThanOrEqual(30);
      expect(run.okCas, `seed=${seed}`).toBeGreaterThanOrEqual(5);
      expect(run.failedCas, `seed=${seed}`).toBeGreaterThanOrEqual(1);
      expect(run.okAfterFinalHeal, `seed=${seed}`).toBeGreaterThanOrEqual(10);
      expect(new Set([...run.router.leaders].map((pair) => pair.split(':')[1])).size, `seed=${seed}: leaders ${[...run.router.leaders]}`).toBeGreaterThanOrEqual(2);
      expect(run.router.dropped, `seed=${seed}`).toBeGreaterThan(0);
    });
  }
});
