// The partition machinery on its own, on this machine's real nftables (skipped, with a message,
// without root or nft): a cut drops a TCP connection attempt from one loopback address to
// another and nothing else, healing lets it through again; the rules live only in the run's own
// table, which is deleted on destroy, and when the process holding it is stopped by SIGTERM,
// SIGINT or SIGHUP (its exit handlers); a table left by a process killed with SIGKILL is deleted
// by the next run's init.
import { spawn, spawnSync } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { randomInt } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { NetworkFaults, partitionsUnavailable } from './net.js';

const HERE = path.dirname(new URL(import.meta.url).pathname);
const unavailable = partitionsUnavailable();
if (unavailable) console.log(`nemesis net test: skipped: ${unavailable}`);

const subnet = `127.${randomInt(1, 251)}.${randomInt(1, 251)}`;
const a = `${subnet}.1`;
const b = `${subnet}.2`;
const c = `${subnet}.3`;

function tables(): string[] {
  return spawnSync('nft', ['list', 'tables'], { encoding: 'utf8' }).stdout.split('\n').map((line) => line.trim()).filter((line) => line !== '');
}

/** Whether a TCP connection from `from` to `server` is established within `timeoutMs`. */
function connects(from: string, server: net.Server, timeoutMs = 1500): Promise<boolean> {
  const address = server.address() as net.AddressInfo;
  return new Promise((resolve) => {
    const socket = net.connect({ host: address.address, port: address.port, localAddress: from });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(false);
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => {
      clearTimeout(timer);
      resolve(false);
    });
  });
}

function listen(host: string): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const server = net.createServer((socket) => socket.destroy());
    server.once('error', reject);
    server.listen(0, host, () => resolve(server));
  });
}

/** Starts net-holder.ts cutting from -> to; resolves with the child and its table once it is ready. */
function holder(from: string, to: string): Promise<{ child: ReturnType<typeof spawn>; table: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(HERE, 'net-holder.ts'), from, to], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let text = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      const ready = /ready (\S+)\n/.exec(text);
      if (ready) resolve({ child, table: ready[1] as string });
    });
    child.once('exit', (code) => reject(new Error(`net-holder exited (${code}) before it was ready`)));
  });
}

describe.skipIf(unavailable !== undefined)('nemesis partitions (nftables)', () => {
  const servers: net.Server[] = [];
  const faults = new NetworkFaults();

  afterAll(() => {
    faults.destroy();
    for (const server of servers) server.close();
  });

  it('cuts exactly the links asked for, in the direction asked, until healed', async () => {
    const atB = await listen(b);
    const atC = await listen(c);
    servers.push(atB, atC);
    faults.init();
    expect(await connects(a, atB)).toBe(true);
    faults.apply([{ from: a, to: b }]);
    expect(tables()).toContain(`table inet ${faults.table}`);
    expect(await connects(a, atB)).toBe(false);
    expect(await connects(a, atC)).toBe(true);
    expect(await connects(c, atB)).toBe(true);
    faults.heal();
    expect(await connects(a, atB)).toBe(true);
    faults.destroy();
    expect(tables()).not.toContain(`table inet ${faults.table}`);
  });

  it.each(['SIGTERM', 'SIGINT', 'SIGHUP'] as const)('deletes its table when the process is stopped by %s', async (signal) => {
    const { child, table } = await holder(a, b);
    expect(tables()).toContain(`table inet ${table}`);
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill(signal);
    await exited;
    expect(tables()).not.toContain(`table inet ${table}`);
  });

  it('a table left by a process killed with SIGKILL is deleted by the next init', async () => {
    const { child, table } = await holder(a, b);
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    expect(tables()).toContain(`table inet ${table}`);
    const next = new NetworkFaults();
    next.init();
    next.destroy();
    expect(tables()).not.toContain(`table inet ${table}`);
  });
});
