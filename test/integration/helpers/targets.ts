// Test helper: the servers a differential test talks to. A Target is anything listening for RESP
// on host:port; a TargetFactory starts one with the given connection settings. The reference is a
// real redis-server; the subject is raftis: the in-process standalone server today, a 3-node
// cluster later (the node driver's tests pass their own factory to the differential suites, or
// set RAFTIS_TARGET=host:port to point them at a running server with default settings).
import { spawn, spawnSync } from 'node:child_process';
import net from 'node:net';
import { startStandaloneServer } from '../../../src/server/standalone.js';

export interface TargetOptions {
  readonly requirepass?: string;
  readonly maxclients?: number;
  readonly protoMaxBulkLenBytes?: number;
  readonly clientQueryBufferLimitBytes?: number;
}

export interface Target {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  stop(): Promise<void>;
}

export type TargetFactory = (options: TargetOptions) => Promise<Target>;

export function redisServerAvailable(): boolean {
  return spawnSync('redis-server', ['--version']).status === 0;
}

export const REDIS_MISSING_MESSAGE = 'redis-server is not installed (apt-get install redis-server): differential tests skipped';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address() as net.AddressInfo;
      server.close(() => resolve(address.port));
    });
  });
}

/** Resolves once something accepts connections on host:port (polling a condition, bounded). */
export async function waitUntilListening(host: string, port: number, deadlineMs = 10_000): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const accepted = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, host, () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (accepted) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on ${host}:${port}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** A throwaway redis-server: no persistence, on a free port, with the given settings. */
export const startRedisTarget: TargetFactory = async (options) => {
  const port = await freePort();
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
  if (options.requirepass !== undefined) args.push('--requirepass', options.requirepass);
  if (options.maxclients !== undefined) args.push('--maxclients', String(options.maxclients));
  if (options.protoMaxBulkLenBytes !== undefined) args.push('--proto-max-bulk-len', String(options.protoMaxBulkLenBytes));
  if (options.clientQueryBufferLimitBytes !== undefined) args.push('--client-query-buffer-limit', String(options.clientQueryBufferLimitBytes));
  const child = spawn('redis-server', args, { stdio: 'ignore' });
  await waitUntilListening('127.0.0.1', port);
  return {
    name: 'redis',
    host: '127.0.0.1',
    port,
    stop: () => new Promise<void>((resolve) => {
      if (child.exitCode !== null) {
        resolve();
        return;
      }
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    }),
  };
};

/** raftis's single-process server (src/server/standalone.ts), in this process. */
export const startStandaloneTarget: TargetFactory = async (options) => {
  const server = await startStandaloneServer({
    settings: {
      requirepass: options.requirepass ?? null,
      ...(options.maxclients !== undefined ? { maxclients: options.maxclients } : {}),
      ...(options.protoMaxBulkLenBytes !== undefined ? { protoMaxBulkLenBytes: options.protoMaxBulkLenBytes } : {}),
      ...(options.clientQueryBufferLimitBytes !== undefined ? { clientQueryBufferLimitBytes: options.clientQueryBufferLimitBytes } : {}),
    },
  });
  return { name: 'raftis-standalone', host: server.host, port: server.port, stop: () => server.close() };
};

/**
 * A server already running at RAFTIS_TARGET=host:port. It only serves default settings, so
 * suites needing others are skipped for it (`supports` says which).
 */
export function externalTargetFactory(address: string): { factory: TargetFactory; supports(options: TargetOptions): boolean } {
  const colon = address.lastIndexOf(':');
  const host = address.slice(0, colon);
  const port = Number(address.slice(colon + 1));
  return {
    factory: () => Promise.resolve({ name: `external ${address}`, host, port, stop: () => Promise.resolve() }),
    supports: (options) => Object.keys(options).length === 0,
  };
}
