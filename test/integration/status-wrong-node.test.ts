// `raftis status` (run as a process) when a member's address is reused: node 3 is stopped and
// another raftis process listens at its address, first a node with another id, then a node with
// id 3 of another cluster. The table must not present that process's figures as node 3's: the row
// says wrong-node / wrong-cluster, a line under the table says what was found there, and it does
// not count as answering. Every wait is a poll with a deadline.

import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { TestCluster, waitFor } from './helpers/cluster.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const MAIN = path.join(ROOT, 'src/cli/main.ts');

let cluster: TestCluster;
let stranger: ChildProcess | undefined;

beforeAll(async () => {
  cluster = await TestCluster.start({ nodes: 3 });
  await cluster.waitForLeader();
}, 60_000);

afterEach(async () => {
  await stopStranger();
});

afterAll(async () => {
  await cluster?.close();
});

async function stopStranger(): Promise<void> {
  const child = stranger;
  stranger = undefined;
  if (!child || child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

/** Runs `raftis <args>` as a process. */
function raftis(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString(); });
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Starts a one-node raftis cluster of its own at node 3's addresses. */
async function startStranger(id: number, clusterId: string): Promise<void> {
  const at = cluster.node(3);
  const dataDir = path.join(cluster.dir, `stranger-${id}-${clusterId}`);
  const log = fs.openSync(path.join(cluster.dir, `stranger-${id}-${clusterId}.log`), 'a');
  stranger = spawn(process.execPath, ['--import', 'tsx', MAIN, 'server', '--id', String(id), '--host', at.host,
    '--port', String(at.port), '--peer-port', String(at.peerPort), '--http-port', String(at.httpPort), '--data-dir', dataDir,
    '--peers', `${id}@${at.host}:${at.port}`, '--cluster-id', clusterId, '--tick-ms', '50'], { cwd: ROOT, stdio: ['ignore', log, log] });
  fs.closeSync(log);
  await waitFor(`a node ${id} of cluster ${clusterId} at node 3's address`, async () => {
    const { stdout } = await raftis('cli', '-h', at.host, '-p', String(at.port), 'INFO', 'raft');
    return stdout.includes(`raft_node_id:${id}\r\n`) && stdout.includes(`raft_cluster_id:${clusterId}\r\n`) || undefined;
  }, 30_000, 200);
}

async function statusFrom(id: number): Promise<{ code: number | null; rows: string[][]; stdout: string }> {
  const node = cluster.node(id);
  const { code, stdout, stderr } = await raftis('status', '-h', node.host, '-p', String(node.port));
  expect(stderr).toBe('');
  const rows = stdout.split('\n').slice(1, 4).map((row) => row.trim().split(/\s+/)).map((row) => (row[0] === '*' ? row.slice(1) : row));
  return { code, rows, stdout };
}

describe('raftis status at a reused address', () => {
  it('shows a different node id answering at a member\'s address as the wrong node, not as that member', async () => {
    await cluster.kill(3, 'SIGTERM');
    await startStranger(5, 'raftis');
    const at = `${cluster.node(3).host}:7001`;
    const { code, rows, stdout } = await statusFrom(1);
    expect(code).toBe(0);
    expect(rows.map((row) => row.slice(0, 3))).toEqual([
      ['1', `${cluster.node(1).host}:7001`, expect.stringMatching(/^(leader|follower)$/)],
      ['2', `${cluster.node(2).host}:7001`, expect.stringMatching(/^(leader|follower)$/)],
      ['3', at, 'wrong-node'],
    ]);
    // None of node 5's figures are shown as node 3's.
    expect(rows[2]!.slice(3, 9)).toEqual(['-', '-', '-', '-', '-', '-']);
    expect(stdout).toContain(`node 3: wrong node: found id 5 (cluster "raftis") at ${at}\n`);
    expect(stdout).toContain('2 of 3 nodes answering');
  });

  it('shows node 3 of another cluster at node 3\'s address as the wrong cluster', async () => {
    await startStranger(3, 'elsewhere');
    const at = `${cluster.node(3).host}:7001`;
    const { code, rows, stdout } = await statusFrom(2);
    expect(code).toBe(0);
    expect(rows[2]!.slice(0, 3)).toEqual(['3', at, 'wrong-cluster']);
    expect(stdout).toContain(`node 3: wrong cluster: found node 3 of cluster "elsewhere" at ${at}\n`);
    expect(stdout).toContain('2 of 3 nodes answering');
  });
});
