// A single-process RESP server without Raft: the client connection layer over the state machine,
// with a local log index and clock standing in for the replicated log. Every write is encoded
// into the same log entry a leader would propose and applied at once, so what a client sees is
// what a raftis cluster answers, minus replication. It exists so the differential suite and the
// connection tests can run against the real request path; the node driver replaces
// LocalExecutor with one that proposes through Raft.

import net from 'node:net';
import { commandCommand } from '../commands/introspection.js';
import type { CommandSpec } from '../commands/types.js';
import { bulkText, error, OK } from '../resp/replies.js';
import type { Reply } from '../resp/reply.js';
import { encodeExpiryEntry, encodeTransactionEntry, encodeWriteEntry, StateMachine } from '../state/index.js';
import { ClientRegistry, type ClientSettings } from './client-registry.js';
import { acceptClient, type Connection } from './connection.js';
import type { ClientView, Completion, Executor, ReadConsistency, Watch } from './executor.js';

/** A clock that never goes backwards, in whole milliseconds, as log entries require. */
export class MonotonicClock {
  private lastMs = 0;
  constructor(private readonly source: () => number = Date.now) {}

  nowMs(): number {
    this.lastMs = Math.max(this.lastMs, Math.floor(this.source()));
    return this.lastMs;
  }
}

/** How a standalone server answers the `server` route (INFO, CONFIG, TIME, COMMAND, ...). */
export type ServerCommandHandler = (client: ClientView, spec: CommandSpec, argv: readonly Buffer[]) => Reply;

/** Applies every command straight to the state machine, in call order. */
export class LocalExecutor implements Executor {
  /** Reads are answered at once, so no later write can be applied before them. */
  readonly isolatesReadsFromLaterWrites = true;
  private index = 0;

  constructor(
    readonly machine: StateMachine,
    private readonly clock: MonotonicClock,
    private readonly serverCommands: ServerCommandHandler,
  ) {}

  private append(data: Uint8Array): Reply {
    return this.machine.apply(++this.index, data);
  }

  write(db: number, argv: readonly Buffer[], completion: Completion): void {
    completion.complete(this.append(encodeWriteEntry({ timeMs: this.clock.nowMs(), db, argv })));
  }

  transaction(db: number, commands: readonly (readonly Buffer[])[], watches: readonly Watch[], completion: Completion): void {
    completion.complete(this.append(encodeTransactionEntry({ timeMs: this.clock.nowMs(), db, commands, watches })));
  }

  read(db: number, argv: readonly Buffer[], _consistency: ReadConsistency, completion: Completion): void {
    completion.complete(this.machine.read(db, argv, this.clock.nowMs()));
  }

  server(client: ClientView, spec: CommandSpec, argv: readonly Buffer[], completion: Completion): void {
    completion.complete(this.serverCommands(client, spec, argv));
  }

  watch(db: number, key: Buffer): Watch {
    return this.machine.watch(db, key, this.clock.nowMs());
  }

  /** The leader's job in a cluster: delete keys whose time has passed, through the log. */
  expireSome(limit: number): number {
    const nowMs = this.clock.nowMs();
    const deletes = this.machine.expiredKeys(nowMs, limit);
    if (deletes.length > 0) this.append(encodeExpiryEntry({ timeMs: nowMs, deletes }));
    return deletes.length;
  }
}

/**
 * The few server commands a test server needs: COMMAND (from the table), TIME, RAFT.DIGEST and
 * CONFIG GET/SET of the connection settings. The node has the full set.
 */
export function basicServerCommands(registry: ClientRegistry, machine: StateMachine, clock: MonotonicClock): ServerCommandHandler {
  const configurable: Record<string, { get(): string; set(value: string): boolean }> = {
    requirepass: {
      get: () => registry.settings.requirepass ?? '',
      set: (value) => {
        registry.settings.requirepass = value === '' ? null : value;
        return true;
      },
    },
    maxclients: numberSetting(registry.settings, 'maxclients', 1),
    'proto-max-bulk-len': numberSetting(registry.settings, 'protoMaxBulkLenBytes', 1024 * 1024),
    'client-query-buffer-limit': numberSetting(registry.settings, 'clientQueryBufferLimitBytes', 1024 * 1024),
  };
  return (_client, spec, argv) => {
    switch (spec.name) {
      case 'command':
      case 'command|count':
      case 'command|info':
      case 'command|docs':
      case 'command|list':
      case 'command|getkeys':
      case 'command|getkeysandflags':
      case 'command|help':
        return commandCommand(argv);
      case 'time': {
        const nowMs = clock.nowMs();
        const seconds = Math.floor(nowMs / 1000);
        return { kind: 'array', value: [bulkText(String(seconds)), bulkText(String((nowMs - seconds * 1000) * 1000))] };
      }
      case 'raft.digest':
        return bulkText(machine.digest());
      case 'config|get': {
        const pairs: Reply[] = [];
        for (const [name, setting] of Object.entries(configurable)) {
          if (argv.slice(2).some((pattern) => pattern.toString('latin1').toLowerCase() === name)) {
            pairs.push(bulkText(name), bulkText(setting.get()));
          }
        }
        return { kind: 'array', value: pairs };
      }
      case 'config|set': {
        const setting = configurable[argv[2]!.toString('latin1').toLowerCase()];
        if (setting === undefined || argv.length !== 4 || !setting.set(argv[3]!.toString('latin1'))) {
          return error(`ERR Unknown option or number of arguments for CONFIG SET - '${argv[2]!.toString('latin1')}'`);
        }
        return OK;
      }
      default:
        return error(`ERR '${spec.name}' is not available in the standalone test server`);
    }
  };
}

function numberSetting(
  settings: ClientSettings, field: 'maxclients' | 'protoMaxBulkLenBytes' | 'clientQueryBufferLimitBytes', minimum: number,
): { get(): string; set(value: string): boolean } {
  return {
    get: () => String(settings[field]),
    set: (value) => {
      if (!/^[0-9]+$/.test(value) || Number(value) < minimum) return false;
      settings[field] = Number(value);
      return true;
    },
  };
}

export interface StandaloneOptions {
  readonly host?: string;
  /** 0 (the default) picks a free port. */
  readonly port?: number;
  readonly settings?: Partial<ClientSettings>;
  /** Wall clock; tests may inject one. */
  readonly nowMs?: () => number;
  /** Active expiry period; 0 disables it. */
  readonly expiryPeriodMs?: number;
  readonly serverCommands?: ServerCommandHandler;
}

export interface StandaloneServer {
  readonly host: string;
  readonly port: number;
  readonly registry: ClientRegistry;
  readonly machine: StateMachine;
  readonly executor: LocalExecutor;
  close(): Promise<void>;
}

/** Starts a standalone server and resolves once it listens. */
export async function startStandaloneServer(options: StandaloneOptions = {}): Promise<StandaloneServer> {
  const registry = new ClientRegistry(options.settings);
  const clock = new MonotonicClock(options.nowMs);
  const machine = new StateMachine({ maxStringBytes: registry.settings.protoMaxBulkLenBytes });
  const executor = new LocalExecutor(machine, clock, options.serverCommands ?? basicServerCommands(registry, machine, clock));
  const connections = new Set<Connection>();
  const sockets = new Set<net.Socket>();
  // allowHalfOpen: a client that sends its requests and then shuts down its side still gets
  // every reply; the connection closes once they are written.
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    const connection = acceptClient(socket, { executor, registry, nowMs: () => clock.nowMs() });
    if (connection === null) return;
    connections.add(connection);
    socket.once('close', () => connections.delete(connection));
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const expiryPeriodMs = options.expiryPeriodMs ?? 100;
  const sweeper = expiryPeriodMs > 0 ? setInterval(() => executor.expireSome(20), expiryPeriodMs) : undefined;
  sweeper?.unref();
  const address = server.address() as net.AddressInfo;
  return {
    host,
    port: address.port,
    registry,
    machine,
    executor,
    close: () => new Promise<void>((resolve) => {
      if (sweeper !== undefined) clearInterval(sweeper);
      for (const connection of connections) connection.kill();
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    }),
  };
}
