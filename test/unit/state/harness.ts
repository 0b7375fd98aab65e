// Test helper: drives a StateMachine the way the server will. It plays the leader and the client
// connection at once: write commands become log entries (stamped with the clock given, by default
// the real one so TTLs line up with a real redis-server) and are applied at increasing indexes;
// reads go through read(); SELECT, MULTI/EXEC/DISCARD and WATCH/UNWATCH are handled here as the
// connection layer will (queuing errors give EXECABORT, as in Redis).
import type { Reply } from '../../../src/resp/reply.js';
import { lookupCommand, resolveCommand } from '../../../src/commands/table.js';
import { isExecutable } from '../../../src/commands/handlers.js';
import {
  StateMachine, encodeExpiryEntry, encodeTransactionEntry, encodeWriteEntry, type WatchedKey,
} from '../../../src/state/index.js';

export class EngineClient {
  index = 0;
  db = 0;
  private queue: Buffer[][] | undefined;
  private queueFailed = false;
  private watches: WatchedKey[] = [];

  constructor(readonly machine = new StateMachine(), readonly clock: () => number = () => Date.now()) {}

  private propose(data: Buffer): Reply {
    this.index += 1;
    return this.machine.apply(this.index, data);
  }

  /** Deletes whatever has expired, through the log, as the leader's sweep does. */
  sweep(limit = 1000): Reply {
    const now = this.clock();
    const deletes = this.machine.expiredKeys(now, limit);
    return this.propose(encodeExpiryEntry({ timeMs: now, deletes }));
  }

  call(...args: (string | Buffer)[]): Reply {
    const argv = args.map((a) => (typeof a === 'string' ? Buffer.from(a) : a));
    const name = argv[0]!.toString('latin1').toLowerCase();
    if (this.queue !== undefined && !['exec', 'discard', 'multi', 'watch'].includes(name)) {
      const resolved = resolveCommand(argv);
      if (!resolved.ok) {
        this.queueFailed = true;
        return resolved.error;
      }
      this.queue.push(argv);
      return { kind: 'simple', value: 'QUEUED' };
    }
    const resolved = resolveCommand(argv);
    if (!resolved.ok) return resolved.error;
    switch (name) {
      case 'select': {
        const reply = this.machine.read(this.db, argv, this.clock());
        if (reply.kind === 'simple') this.db = Number(argv[1]!.toString());
        return reply;
      }
      case 'multi':
        if (this.queue !== undefined) return { kind: 'error', value: 'ERR MULTI calls can not be nested' };
        this.queue = [];
        this.queueFailed = false;
        return { kind: 'simple', value: 'OK' };
      case 'discard':
        if (this.queue === undefined) return { kind: 'error', value: 'ERR DISCARD without MULTI' };
        this.queue = undefined;
        this.watches = [];
        return { kind: 'simple', value: 'OK' };
      case 'watch':
        if (this.queue !== undefined) return { kind: 'error', value: 'ERR WATCH inside MULTI is not allowed' };
        for (const key of argv.slice(1)) this.watches.push(this.machine.watch(this.db, key, this.clock()));
        return { kind: 'simple', value: 'OK' };
      case 'unwatch':
        this.watches = [];
        return { kind: 'simple', value: 'OK' };
      case 'exec': {
        if (this.queue === undefined) return { kind: 'error', value: 'ERR EXEC without MULTI' };
        const commands = this.queue;
        const failed = this.queueFailed;
        const watches = this.watches;
        this.queue = undefined;
        this.watches = [];
        if (failed) return { kind: 'error', value: 'EXECABORT Transaction discarded because of previous errors.' };
        const reply = this.propose(encodeTransactionEntry({ timeMs: this.clock(), db: this.db, commands, watches }));
        // SELECT inside the transaction moves the connection too.
        if (reply.kind === 'array') {
          commands.forEach((argv, i) => {
            if (argv[0]!.toString().toLowerCase() === 'select' && reply.value[i]?.kind === 'simple') {
              this.db = Number(argv[1]!.toString());
            }
          });
        }
        return reply;
      }
      default:
        break;
    }
    const spec = resolved.spec;
    if (!isExecutable(spec.name)) throw new Error(`the harness cannot run ${spec.name}`);
    if (lookupCommand(name)?.route === 'write') {
      return this.propose(encodeWriteEntry({ timeMs: this.clock(), db: this.db, argv }));
    }
    return this.machine.read(this.db, argv, this.clock());
  }
}
