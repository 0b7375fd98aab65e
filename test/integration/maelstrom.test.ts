// `raftis maelstrom` with one node, as a real process speaking on stdin and stdout (through
// src/maelstrom/main.ts, which runs the same yargs command module as `raftis maelstrom`):
// - the issue's example produces exactly its three lines, both when the input is piped in at
//   once (so the node must park requests until it has elected itself, and must serve a read
//   only after the write it accepted before it) and when a client waits for each reply;
// - a script of lin-kv requests gets the replies written beside it (error codes 20, 22, 12, 10;
//   msg_ids counting up from 0; lines that are not JSON or not messages, and peer message types
//   from a client, ignored without a crash); each line is sent only after the
//   previous reply arrived, as a Maelstrom client does;
// - the node exits by itself once stdin closes and nothing is left to answer;
// - `raftis maelstrom` through the CLI entry (src/cli/main.ts) answers the example too.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const ENTRY = path.join(ROOT, 'src/maelstrom/main.ts');
/** The `raftis` command line itself: `raftis maelstrom` as a user (or Maelstrom's --bin) runs it. */
const CLI = path.join(ROOT, 'src/cli/main.ts');

const issueInput = [
  { src: 'c0', dest: 'n1', body: { type: 'init', msg_id: 1, node_id: 'n1', node_ids: ['n1'] } },
  { src: 'c1', dest: 'n1', body: { type: 'write', msg_id: 2, key: 'x', value: 1 } },
  { src: 'c1', dest: 'n1', body: { type: 'read', msg_id: 3, key: 'x' } },
];
const issueOutput = [
  { src: 'n1', dest: 'c0', body: { type: 'init_ok', in_reply_to: 1, msg_id: 0 } },
  { src: 'n1', dest: 'c1', body: { type: 'write_ok', in_reply_to: 2, msg_id: 1 } },
  { src: 'n1', dest: 'c1', body: { type: 'read_ok', in_reply_to: 3, msg_id: 2, value: 1 } },
];

/** A node process whose stdout lines are queued for `next()`. */
class NodeProcess {
  readonly child: ChildProcessWithoutNullStreams;
  private readonly lines: string[] = [];
  private waiter: (() => void) | undefined;
  stderr = '';
  readonly exited: Promise<number | null>;

  constructor(args: readonly string[] = [], entry: readonly string[] = [ENTRY]) {
    this.child = spawn(process.execPath, ['--import', 'tsx', ...entry, '--seed', '7', ...args], { cwd: ROOT });
    createInterface({ input: this.child.stdout }).on('line', (line) => {
      this.lines.push(line);
      this.waiter?.();
    });
    this.child.stderr.on('data', (chunk: Buffer) => {
      this.stderr += chunk.toString();
    });
    this.exited = new Promise((resolve) => this.child.on('exit', (code) => resolve(code)));
  }

  send(line: string): void {
    this.child.stdin.write(`${line}\n`);
  }

  /** The next stdout line, parsed; fails after `timeoutMs`. */
  async next(timeoutMs = 10_000): Promise<unknown> {
    const deadline = Date.now() + timeoutMs;
    while (this.lines.length === 0) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new Error(`no output within ${timeoutMs} ms; stderr:\n${this.stderr}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, remaining);
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.waiter = undefined;
    }
    return JSON.parse(this.lines.shift() as string);
  }

  /** Every line written after the ones already read, once the process has exited. */
  async rest(timeoutMs = 10_000): Promise<unknown[]> {
    const code = await Promise.race([this.exited, new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), timeoutMs))]);
    if (code === 'timeout') throw new Error(`the node did not exit within ${timeoutMs} ms after stdin closed; stderr:\n${this.stderr}`);
    expect(code, this.stderr).toBe(0);
    return this.lines.splice(0).map((line) => JSON.parse(line));
  }
}

const running: NodeProcess[] = [];
function startNode(args: readonly string[] = [], entry: readonly string[] = [ENTRY]): NodeProcess {
  const node = new NodeProcess(args, entry);
  running.push(node);
  return node;
}

afterEach(() => {
  for (const node of running.splice(0)) if (node.child.exitCode === null) node.child.kill('SIGKILL');
});

describe('raftis maelstrom, one node', () => {
  it('answers the issue example exactly when the input is piped in at once', async () => {
    const node = startNode();
    node.child.stdin.end(`${issueInput.map((message) => JSON.stringify(message)).join('\n')}\n`);
    expect(await node.rest()).toEqual(issueOutput);
  });

  it('answers the issue example exactly as `raftis maelstrom`, through the CLI', async () => {
    const node = startNode([], [CLI, 'maelstrom']);
    node.child.stdin.end(`${issueInput.map((message) => JSON.stringify(message)).join('\n')}\n`);
    expect(await node.rest()).toEqual(issueOutput);
  });

  it('answers the issue example exactly when the client waits for each reply', async () => {
    const node = startNode();
    const replies: unknown[] = [];
    for (const message of issueInput) {
      node.send(JSON.stringify(message));
      replies.push(await node.next());
    }
    node.child.stdin.end();
    expect(await node.rest()).toEqual([]);
    expect(replies).toEqual(issueOutput);
  });

  it('follows a script of lin-kv requests and errors', async () => {
    // Each row: what a client sends (body, to n1), and the reply body expected without msg_id,
    // which must count up from 0. `null` means "no reply" (the line is not a message).
    const script: { send: unknown; expect: Record<string, unknown> | null }[] = [
      { send: { type: 'init', msg_id: 1, node_id: 'n1', node_ids: ['n1'] }, expect: { type: 'init_ok', in_reply_to: 1 } },
      { send: { type: 'read', msg_id: 10, key: 5 }, expect: { type: 'error', code: 20, in_reply_to: 10 } },
      { send: { type: 'cas', msg_id: 11, key: 5, from: 1, to: 2 }, expect: { type: 'error', code: 20, in_reply_to: 11 } },
      { send: { type: 'cas', msg_id: 12, key: 5, from: 1, to: 2, create_if_not_exists: true }, expect: { type: 'cas_ok', in_reply_to: 12 } },
      { send: { type: 'read', msg_id: 13, key: 5 }, expect: { type: 'read_ok', value: 2, in_reply_to: 13 } },
      { send: { type: 'cas', msg_id: 14, key: 5, from: 1, to: 3 }, expect: { type: 'error', code: 22, in_reply_to: 14 } },
      { send: { type: 'cas', msg_id: 15, key: 5, from: 2, to: 3 }, expect: { type: 'cas_ok', in_reply_to: 15 } },
      { send: { type: 'write', msg_id: 16, key: 'k', value: { nested: [1, 'two'] } }, expect: { type: 'write_ok', in_reply_to: 16 } },
      { send: { type: 'read', msg_id: 17, key: 'k' }, expect: { type: 'read_ok', value: { nested: [1, 'two'] }, in_reply_to: 17 } },
      { send: { type: 'read', msg_id: 18, key: 5 }, expect: { type: 'read_ok', value: 3, in_reply_to: 18 } },
      { send: { type: 'write', msg_id: 19, key: 5 }, expect: { type: 'error', code: 12, in_reply_to: 19 } },
      { send: { type: 'cas', msg_id: 20, key: 5, to: 1 }, expect: { type: 'error', code: 12, in_reply_to: 20 } },
      { send: { type: 'txn', msg_id: 21, txn: [] }, expect: { type: 'error', code: 10, in_reply_to: 21 } },
      { send: { type: 'init', msg_id: 22, node_id: 'n1', node_ids: ['n1'] }, expect: { type: 'error', code: 12, in_reply_to: 22 } },
      { send: 'this is not json', expect: null },
      // JSON, but not a message: ignored with a warning, never a crash.
      { send: '[]', expect: null },
      { send: 'null', expect: null },
      { send: '{"src":1,"dest":"n1","body":{"type":"read","msg_id":30,"key":5}}', expect: null },
      { send: '{"src":"c1","dest":"n1"}', expect: null },
      { send: '{"src":"c1","dest":"n1","body":[]}', expect: null },
      { send: '{"src":"c1","dest":"n1","body":{"msg_id":31}}', expect: null },
      { send: '{"src":"c1","dest":"n1","body":{"type":5,"msg_id":32}}', expect: null },
      // Node-to-node types from a client, or with broken contents: dropped.
      { send: { type: 'raft', msg: { type: 'heartbeat' } }, expect: null },
      { send: { type: 'raft_forward', msg_id: 33, request: [] }, expect: null },
      { send: { type: 'raft_forward_reply', in_reply_to: { x: 1 }, reply: 5 }, expect: null },
      { send: { type: 'read', msg_id: 23, key: 5 }, expect: { type: 'read_ok', value: 3, in_reply_to: 23 } },
    ];
    const node = startNode();
    let msgId = 0;
    for (const [row, { send, expect: expected }] of script.entries()) {
      node.send(typeof send === 'string' ? send : JSON.stringify({ src: 'c1', dest: 'n1', body: send }));
      if (expected === null) continue;
      const reply = (await node.next()) as { src: string; dest: string; body: Record<string, unknown> };
      expect({ src: reply.src, dest: reply.dest }, `row ${row}`).toEqual({ src: 'n1', dest: 'c1' });
      const { text, msg_id: replyMsgId, ...body } = reply.body;
      expect(body, `row ${row}: ${JSON.stringify(reply)}`).toEqual(expected);
      expect(replyMsgId, `row ${row}`).toBe(msgId++);
      if (body.type === 'error') expect(typeof text, `row ${row}: errors carry a text`).toBe('string');
    }
    node.child.stdin.end();
    expect(await node.rest()).toEqual([]);
    expect(node.stderr.split('ignoring an unreadable input line').length - 1).toBe(8);
  });

  it('refuses requests before init and keeps going', async () => {
    const node = startNode();
    node.send(JSON.stringify({ src: 'c1', dest: 'n1', body: { type: 'read', msg_id: 4, key: 1 } }));
    const reply = (await node.next()) as { body: Record<string, unknown> };
    expect(reply.body).toMatchObject({ type: 'error', code: 11, in_reply_to: 4, msg_id: 0 });
    node.send(JSON.stringify(issueInput[0]));
    expect(await node.next()).toEqual({ src: 'n1', dest: 'c0', body: { type: 'init_ok', in_reply_to: 1, msg_id: 1 } });
    node.child.stdin.end();
    expect(await node.rest()).toEqual([]);
  });
});
