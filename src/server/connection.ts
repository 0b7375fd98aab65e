// One client connection: socket bytes in, replies out, in request order.
//
// The request path follows Redis 7.0's processInputBuffer/processCommand: parse a request,
// resolve it against the command table (unknown command, unknown subcommand, arity), check AUTH,
// check MULTI state, then either queue it (inside MULTI), answer it here (connection commands) or
// hand it to the Executor (keyspace and server commands). Replies go out in request order even
// though executor replies arrive later (a write waits for its Raft commit): every command gets a
// slot in `slots`, and slots are written from the head as soon as they are filled. Replies
// produced during one event-loop turn are written with one socket write (ReplyWriter).
//
// Bounds (STYLE.md: a bound on everything that grows): the parser's buffer and the queued
// transaction count against `client-query-buffer-limit` (the client is disconnected beyond it, as
// in Redis); at most `maxInflightCommands` commands wait for their replies and at most
// `maxOutputBufferBytes` wait in the socket, beyond which the connection stops reading until they
// drain, so a client that pipelines without reading cannot make the server grow.
//
// Some commands wait until earlier commands of the connection have been answered:
//   - WATCH (the modification index it records must include the client's own earlier writes) and
//     server commands (INFO or CONFIG GET must see them too) wait for every earlier command;
//   - after an EXEC whose transaction changes connection state (SELECT, CLIENT SETNAME, HELLO,
//     AUTH, ...), later commands wait for the EXEC's reply, when the queued connection commands
//     take effect;
//   - a write (or EXEC) waits for the earlier reads, unless the executor promises that a read
//     never observes a later write of its connection (Executor.isolatesReadsFromLaterWrites):
//     over Raft a read waiting for its ReadIndex round could otherwise see a write pipelined
//     after it.

import type { Socket } from 'node:net';
import { isExecutable } from '../commands/handlers.js';
import { resolveCommand } from '../commands/table.js';
import type { CommandSpec } from '../commands/types.js';
import { encodeReply, ReplyWriter, type ProtocolVersion } from '../resp/encoder.js';
import { error, NULL_ARRAY, OK, QUEUED, simple, EMPTY_ARRAY } from '../resp/replies.js';
import type { Reply } from '../resp/reply.js';
import { ARG_OVERHEAD_BYTES, ProtocolError, RequestParser } from '../resp/request-parser.js';
import type { ClientDescription, ClientRegistry, ClientSettings, RegisteredClient } from './client-registry.js';
import type { CommandStat, CommandStats } from './command-stats.js';
import { NOAUTH, parseDatabaseIndex, runConnectionCommand, type ConnectionState } from './connection-commands.js';
import type { ClientView, Completion, Executor, Watch } from './executor.js';

export interface ConnectionOptions {
  readonly executor: Executor;
  readonly registry: ClientRegistry;
  /** Wall-clock milliseconds, for CLIENT LIST age and idle. */
  readonly nowMs?: () => number;
  /** Commands dispatched but not yet answered before the connection stops reading. */
  readonly maxInflightCommands?: number;
  /** Bytes queued in the socket before the connection stops reading. */
  readonly maxOutputBufferBytes?: number;
}

export const DEFAULT_MAX_INFLIGHT_COMMANDS = 4096;
export const DEFAULT_MAX_OUTPUT_BUFFER_BYTES = 64 * 1024 * 1024;

const MAX_CLIENTS_REACHED = Buffer.from('-ERR max number of clients reached\r\n');
const EXECABORT: Reply = error('EXECABORT Transaction discarded because of previous errors.');
const RESET: Reply = simple('RESET');

/** Commands that run at once even inside MULTI (Redis processCommand's exception list). */
const RUNS_INSIDE_MULTI = new Set(['exec', 'discard', 'multi', 'watch', 'quit', 'reset']);
/** Queued connection commands whose effect later commands may depend on. */
const STATELESS_CONNECTION_COMMANDS = new Set(['ping', 'echo', 'client|id', 'client|getname', 'client|info', 'client|list', 'client|help', 'unwatch']);

const FLAG_NO_AUTH = 1;
const FLAG_NO_MULTI = 2;
const flagCache = new WeakMap<CommandSpec, number>();

function flagBits(spec: CommandSpec): number {
  let bits = flagCache.get(spec);
  if (bits === undefined) {
    bits = (spec.flags.includes('no_auth') ? FLAG_NO_AUTH : 0) | (spec.flags.includes('no_multi') ? FLAG_NO_MULTI : 0);
    flagCache.set(spec, bits);
  }
  return bits;
}

/**
 * Whether a queued command goes to the state machine with the transaction: every data command
 * (even one the machine does not know, so that it answers the error), and the connection and
 * server commands it executes deterministically (SELECT, PING, ECHO, TIME).
 */
function runsInStateMachine(spec: CommandSpec): boolean {
  return spec.route === 'write' || spec.route === 'read' || isExecutable(spec.name);
}

/** Whether `arg` spells `word` (lower-case ASCII) in any case. */
function isWord(arg: Buffer, word: string): boolean {
  if (arg.length !== word.length) return false;
  for (let index = 0; index < word.length; index++) {
    if ((arg[index]! | 0x20) !== word.charCodeAt(index)) return false;
  }
  return true;
}

/** "ip:port" as Redis formats it: IPv6 in brackets, IPv4-mapped IPv6 as plain IPv4. */
function formatAddress(host: string | undefined, port: number | undefined): string {
  if (host === undefined || port === undefined) return '?:0';
  const plain = host.startsWith('::ffff:') && host.includes('.') ? host.slice(7) : host;
  return plain.includes(':') ? `[${plain}]:${port}` : `${plain}:${port}`;
}

/**
 * Admits a new socket as a client, or refuses it with Redis's maxclients error and closes it.
 * Returns the connection, or null if refused.
 */
export function acceptClient(socket: Socket, options: ConnectionOptions): Connection | null {
  if (!options.registry.admits()) {
    options.registry.stats.connectionsRejected++;
    socket.on('error', () => undefined);
    // Redis writes the error and closes the socket; nothing is read from it.
    socket.end(MAX_CLIENTS_REACHED, () => socket.destroy());
    return null;
  }
  return new Connection(socket, options);
}

/** A server command queued in a transaction, answered through the executor at EXEC. */
interface ServerCall {
  readonly index: number;
  readonly protocol: ProtocolVersion;
  readonly spec: CommandSpec;
  readonly argv: readonly Buffer[];
}

interface QueuedCommand {
  readonly spec: CommandSpec;
  readonly argv: readonly Buffer[];
}

/** Whether a reply is an error (a raw one is when its encoding starts with `-`). */
function isErrorReply(reply: Reply): boolean {
  return reply.kind === 'error' || (reply.kind === 'raw' && reply.value[0] === 0x2d);
}

/** The place of one reply in the connection's output order. */
class PendingReply implements Completion {
  reply: Reply | null = null;
  /** Counted in the connection's pendingReads until answered. */
  isRead = false;
  /** The command whose reply this is, timed from `startMs` (performance.now()); null when not timed. */
  stat: CommandStat | null = null;
  startMs = 0;
  constructor(
    private readonly connection: Connection,
    readonly protocol: ProtocolVersion,
  ) {}

  complete(reply: Reply): void {
    this.connection.settle(this, reply);
  }
}

export class Connection implements RegisteredClient, ConnectionState {
  readonly id: number;
  readonly registry: ClientRegistry;
  db = 0;
  protocol: ProtocolVersion = 2;
  name: string | null = null;
  authenticated: boolean;
  staleReads = false;

  private readonly socket: Socket;
  private readonly executor: Executor;
  private readonly settings: ClientSettings;
  private readonly clock: () => number;
  private readonly maxInflightCommands: number;
  private readonly maxOutputBufferBytes: number;
  private readonly parser: RequestParser;
  private readonly writer = new ReplyWriter();
  private readonly commandStats: CommandStats;
  /**
   * The connection command running now (dispatch), timed from `timingStartMs`: its reply, or the
   * slot made for it (EXEC), records it. Null otherwise.
   */
  private timing: CommandStat | null = null;
  private timingStartMs = 0;
  private readonly address: string;
  private readonly localAddress: string;
  private readonly createdMs: number;
  private lastInteractionMs: number;
  /** CLIENT LIST `cmd=`: the table name of the last command resolved, "NULL" if unknown. */
  private lastCommand = 'NULL';

  /** Commands queued since MULTI, or null outside MULTI. */
  private transaction: QueuedCommand[] | null = null;
  /** Redis CLIENT_DIRTY_EXEC: a command was rejected while queuing, so EXEC aborts. */
  private transactionDirty = false;
  /** Bytes of the queued commands' arguments (Redis multi-mem). */
  private transactionBytes = 0;
  private watches: Watch[] = [];
  /**
   * While EXEC's queued connection commands run: how many commands the transaction has, since
   * Redis still shows the client in MULTI then (CLIENT INFO inside MULTI says flags=x multi=N).
   */
  private executingCount = -1;

  /**
   * Replies in request order. Slots before `slotHead` have been handed to the writer; the
   * others wait for their reply or for an earlier slot. Invariant: when no slot is waiting,
   * `slots` is empty, so a reply produced synchronously goes straight to the writer.
   */
  private slots: PendingReply[] = [];
  private slotHead = 0;
  /**
   * No command runs until every earlier one is answered (`idle`), or every earlier read
   * (`reads`); see the file comment.
   */
  private waitFor: 'none' | 'idle' | 'reads' = 'none';
  /** The command that asked for `waitFor`, run once the wait is over. */
  private deferred: QueuedCommand | null = null;
  /** Reads dispatched and not yet answered. */
  private pendingReads = 0;

  /** QUIT, a protocol error or CLIENT KILL of oneself: stop reading, send what is due, close. */
  private closing = false;
  private closed = false;
  /** The client shut down its side: close once the requests received are answered. */
  private inputEnded = false;
  private processing = false;
  private flushScheduled = false;
  private readingPaused = false;

  constructor(socket: Socket, options: ConnectionOptions) {
    this.socket = socket;
    this.executor = options.executor;
    this.registry = options.registry;
    this.settings = options.registry.settings;
    this.commandStats = options.registry.commandStats;
    this.clock = options.nowMs ?? Date.now;
    this.maxInflightCommands = options.maxInflightCommands ?? DEFAULT_MAX_INFLIGHT_COMMANDS;
    this.maxOutputBufferBytes = options.maxOutputBufferBytes ?? DEFAULT_MAX_OUTPUT_BUFFER_BYTES;
    this.parser = new RequestParser({ maxBulkLengthBytes: this.settings.protoMaxBulkLenBytes });
    this.id = this.registry.allocateId();
    // Redis clientSetDefaultAuth: a client starts authenticated when no password is required.
    this.authenticated = this.settings.requirepass === null;
    this.address = formatAddress(socket.remoteAddress, socket.remotePort);
    this.localAddress = formatAddress(socket.localAddress, socket.localPort);
    this.createdMs = this.clock();
    this.lastInteractionMs = this.createdMs;
    this.registry.add(this);

    socket.setNoDelay(true);
    socket.setKeepAlive(true, 300_000);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('drain', () => this.resumeIfIdle());
    socket.on('error', () => undefined);
    socket.on('end', () => this.onEnd());
    socket.on('close', () => this.onClose());
  }

  // ---- RegisteredClient and ConnectionState ------------------------------------------------

  nowMs(): number {
    return this.clock();
  }

  describe(nowMs: number): ClientDescription {
    // Redis's order of flag letters: x (MULTI), d (a watched key changed), c (closing), r.
    let flags = '';
    if (this.transaction !== null || this.executingCount >= 0) flags += 'x';
    if (this.watchedKeyChanged()) flags += 'd';
    if (this.closing) flags += 'c';
    if (this.staleReads) flags += 'r';
    return {
      id: this.id,
      addr: this.address,
      laddr: this.localAddress,
      fd: (this.socket as unknown as { _handle?: { fd?: number } })._handle?.fd ?? -1,
      name: this.name ?? '',
      ageSeconds: Math.floor((nowMs - this.createdMs) / 1000),
      idleSeconds: Math.floor((nowMs - this.lastInteractionMs) / 1000),
      flags: flags === '' ? 'N' : flags,
      db: this.db,
      multi: this.transaction !== null ? this.transaction.length : this.executingCount,
      queryBufferBytes: this.parser.bufferedBytes,
      argvMemoryBytes: 0,
      multiMemoryBytes: this.transactionBytes,
      outputListLength: this.slots.length - this.slotHead,
      outputMemoryBytes: this.socket.writableLength,
      lastCommand: this.lastCommand,
      protocol: this.protocol,
    };
  }

  kill(): void {
    this.socket.destroy();
    this.onClose();
  }

  closeAfterReply(): void {
    this.closing = true;
  }

  /** Redis CLIENT_DIRTY_CAS, computed when asked: has a watched key changed since WATCH? */
  private watchedKeyChanged(): boolean {
    for (const watch of this.watches) {
      if (this.executor.watch(watch.db, watch.key).modIndex !== watch.modIndex) return true;
    }
    return false;
  }

  unwatchAll(): void {
    this.watches = [];
  }

  /** What an executor's server commands see of this client. */
  view(): ClientView {
    return { id: this.id, db: this.db, protocol: this.protocol, name: this.name, address: this.address };
  }

  // ---- input -------------------------------------------------------------------------------

  private onData(chunk: Buffer): void {
    if (this.closed || this.closing) return;
    this.parser.feed(chunk);
    this.lastInteractionMs = this.clock();
    if (this.parser.bufferedBytes + this.transactionBytes > this.settings.clientQueryBufferLimitBytes) {
      // Redis closes such a client without a reply ("reached max query buffer length").
      this.kill();
      return;
    }
    this.processInput();
  }

  private inflightCount(): number {
    return this.slots.length - this.slotHead;
  }

  /** Why the connection may not take the next command now, if it may not. */
  private blocked(): boolean {
    if (this.closed || this.closing) return true;
    if (this.waitFor === 'idle' && this.inflightCount() > 0) return true;
    if (this.waitFor === 'reads' && this.pendingReads > 0) return true;
    return this.inflightCount() >= this.maxInflightCommands || this.socket.writableLength > this.maxOutputBufferBytes;
  }

  private processInput(): void {
    if (this.processing) return;
    this.processing = true;
    try {
      while (!this.blocked()) {
        if (this.waitFor !== 'none') {
          this.waitFor = 'none';
          const deferred = this.deferred;
          if (deferred !== null) {
            this.deferred = null;
            this.dispatch(deferred.spec, deferred.argv);
            continue;
          }
        }
        this.parser.unauthenticated = this.authRequired();
        this.parser.maxBulkLengthBytes = this.settings.protoMaxBulkLenBytes;
        let argv: Buffer[] | null;
        try {
          argv = this.parser.next();
        } catch (caught) {
          if (!(caught instanceof ProtocolError)) throw caught;
          this.reply(error(caught.message));
          this.closing = true;
          break;
        }
        if (argv === null) {
          if (this.inputEnded) this.closing = true;
          break;
        }
        this.execute(argv);
      }
    } finally {
      this.processing = false;
    }
    const blocked = this.blocked();
    if (blocked && !this.readingPaused) {
      this.readingPaused = true;
      this.socket.pause();
    } else if (!blocked && this.readingPaused) {
      this.readingPaused = false;
      this.socket.resume();
    }
    this.scheduleFlush();
  }

  private resumeIfIdle(): void {
    if (this.readingPaused || this.waitFor !== 'none') this.processInput();
  }

  private authRequired(): boolean {
    return this.settings.requirepass !== null && !this.authenticated;
  }

  /** Redis processCommand, up to the point where the command runs or is queued. */
  private execute(argv: Buffer[]): void {
    const first = argv[0]!;
    // Redis handles QUIT before looking the command up: any arguments, even before AUTH.
    if (isWord(first, 'quit')) {
      this.reply(OK);
      this.closing = true;
      return;
    }
    // Redis's "Possible SECURITY ATTACK detected" (an HTTP request sent to the port): close at
    // once, without a reply and without what was pending.
    if (isWord(first, 'post') || isWord(first, 'host:')) {
      this.kill();
      return;
    }
    const resolution = resolveCommand(argv);
    if (!resolution.ok) {
      this.countRejected(this.commandStats.unknown());
      this.lastCommand = 'NULL';
      // EXEC has no subcommands: if it resolves to an error, that is its arity.
      this.reject(resolution.error, isWord(first, 'exec'));
      return;
    }
    const spec = resolution.spec;
    this.lastCommand = spec.name;
    const flags = flagBits(spec);
    if (this.authRequired() && (flags & FLAG_NO_AUTH) === 0) {
      this.countRejected(this.commandStats.of(spec));
      this.reject(NOAUTH, spec.name === 'exec');
      return;
    }
    if (this.transaction !== null) {
      if ((flags & FLAG_NO_MULTI) !== 0) {
        this.countRejected(this.commandStats.of(spec));
        this.reject(error('ERR Command not allowed inside a transaction'));
        return;
      }
      if (!RUNS_INSIDE_MULTI.has(spec.name)) {
        this.queue(spec, argv);
        return;
      }
    }
    if ((spec.route === 'server' || spec.name === 'watch') && this.inflightCount() > 0) {
      this.deferred = { spec, argv };
      this.waitFor = 'idle';
      return;
    }
    if ((spec.route === 'write' || spec.name === 'exec') && this.pendingReads > 0 && this.executor.isolatesReadsFromLaterWrites !== true) {
      this.deferred = { spec, argv };
      this.waitFor = 'reads';
      return;
    }
    this.dispatch(spec, argv);
  }

  /**
   * Redis rejectCommand: the error, and inside MULTI the transaction is doomed. A rejected EXEC
   * (wrong arity) discards the transaction and says why, in or out of MULTI, as Redis 7.0 does.
   */
  private reject(reply: Reply, isExec = false): void {
    if (isExec && reply.kind === 'error') {
      this.discardTransaction();
      const reason = reply.value.startsWith('ERR ') ? reply.value.slice(4) : reply.value;
      this.reply(error(`EXECABORT Transaction discarded because of: ${reason}`));
      return;
    }
    if (this.transaction !== null) this.transactionDirty = true;
    this.reply(reply);
  }

  private queue(spec: CommandSpec, argv: readonly Buffer[]): void {
    // Redis stops storing commands once the transaction is doomed, but still answers QUEUED.
    if (!this.transactionDirty && this.transaction !== null) {
      // Copied into one buffer: views into socket chunks would pin whole chunks for the
      // lifetime of the transaction.
      let size = 0;
      for (const arg of argv) size += arg.length;
      const storage = Buffer.allocUnsafe(size);
      const copy: Buffer[] = [];
      let offset = 0;
      for (const arg of argv) {
        arg.copy(storage, offset);
        copy.push(storage.subarray(offset, offset + arg.length));
        offset += arg.length;
      }
      this.transaction.push({ spec, argv: copy });
      // Counted as memory, like the parser's partial request: bytes plus each argument's cost.
      this.transactionBytes += size + argv.length * ARG_OVERHEAD_BYTES;
    }
    this.reply(QUEUED);
  }

  /** A command refused before it ran (unknown, NOAUTH, not allowed in MULTI): an error, no duration. */
  private countRejected(stat: CommandStat): void {
    this.commandStats.record(stat, 0, 0, true);
  }

  private dispatch(spec: CommandSpec, argv: readonly Buffer[]): void {
    this.registry.stats.commandsProcessed++;
    const stat = this.commandStats.of(spec);
    const startMs = performance.now();
    switch (spec.route) {
      case 'write':
        this.executor.write(this.db, argv, this.timedSlot(stat, startMs));
        return;
      case 'read': {
        const slot = this.timedSlot(stat, startMs);
        slot.isRead = true;
        this.pendingReads++;
        this.executor.read(this.db, argv, this.staleReads ? 'stale' : 'linearizable', slot);
        return;
      }
      case 'server':
        this.executor.server(this.view(), spec, argv, this.timedSlot(stat, startMs));
        return;
      case 'connection':
        // Answered here, through reply() or (EXEC) a slot; whichever comes first records it.
        this.timing = stat;
        this.timingStartMs = startMs;
        try {
          this.runConnection(spec, argv);
        } finally {
          this.timing = null;
        }
        return;
      default: {
        const never: never = spec.route;
        throw new Error(`connection: command ${spec.name} has unknown route ${String(never)}`);
      }
    }
  }

  private runConnection(spec: CommandSpec, argv: readonly Buffer[]): void {
    switch (spec.name) {
      case 'multi':
        if (this.transaction !== null) {
          this.reply(error('ERR MULTI calls can not be nested'));
          return;
        }
        this.transaction = [];
        this.transactionDirty = false;
        this.transactionBytes = 0;
        this.reply(OK);
        return;
      case 'discard':
        if (this.transaction === null) {
          this.reply(error('ERR DISCARD without MULTI'));
          return;
        }
        this.discardTransaction();
        this.reply(OK);
        return;
      case 'watch':
        if (this.transaction !== null) {
          this.reply(error('ERR WATCH inside MULTI is not allowed'));
          return;
        }
        for (let index = 1; index < argv.length; index++) this.watch(argv[index]!);
        this.reply(OK);
        return;
      case 'exec':
        this.exec();
        return;
      case 'reset':
        this.reset();
        this.reply(RESET);
        return;
      default:
        this.reply(runConnectionCommand(this, spec, argv));
    }
  }

  private watch(key: Buffer): void {
    for (const watch of this.watches) {
      if (watch.db === this.db && watch.key.equals(key)) return;
    }
    this.watches.push(this.executor.watch(this.db, Buffer.from(key)));
  }

  private discardTransaction(): void {
    this.transaction = null;
    this.transactionDirty = false;
    this.transactionBytes = 0;
    this.unwatchAll();
  }

  /** Redis clearClientConnectionState. */
  private reset(): void {
    this.discardTransaction();
    this.db = 0;
    this.protocol = 2;
    this.authenticated = this.settings.requirepass === null;
    this.name = null;
    this.staleReads = false;
  }

  // ---- transactions ------------------------------------------------------------------------

  private exec(): void {
    const queued = this.transaction;
    if (queued === null) {
      this.reply(error('ERR EXEC without MULTI'));
      return;
    }
    if (this.transactionDirty) {
      this.discardTransaction();
      this.reply(EXECABORT);
      return;
    }
    const watches = this.watches;
    this.discardTransaction();
    // What the state machine executes (data commands, and SELECT, PING, ECHO, TIME) goes to it as
    // one entry; the connection answers the others once it knows the transaction ran.
    const keyspace: (readonly Buffer[])[] = [];
    let changesState = false;
    for (const command of queued) {
      if (runsInStateMachine(command.spec)) {
        keyspace.push(command.argv);
        if (command.spec.name === 'select') changesState = true;
      } else if (command.spec.route === 'connection' && !STATELESS_CONNECTION_COMMANDS.has(command.spec.name)) {
        changesState = true;
      }
    }
    const slot = this.newSlot();
    if (changesState) this.waitFor = 'idle';
    if (keyspace.length === 0 && watches.length === 0) {
      this.finishTransaction(slot, queued, EMPTY_ARRAY);
      return;
    }
    this.executor.transaction(this.db, keyspace, watches, {
      complete: (outcome: Reply) => this.finishTransaction(slot, queued, outcome),
    });
  }

  /**
   * Builds EXEC's reply once the state machine has answered: its replies for the keyspace
   * commands, interleaved with the connection's own for the others, run now in queue order.
   */
  private finishTransaction(slot: PendingReply, queued: readonly QueuedCommand[], outcome: Reply): void {
    if (outcome.kind !== 'array') {
      // A null array (a watched key changed) or an error: nothing else runs.
      slot.complete(outcome.kind === 'nullArray' ? NULL_ARRAY : outcome);
      return;
    }
    const servers: ServerCall[] = [];
    this.executingCount = queued.length;
    let replies: Reply[];
    try {
      replies = this.runQueued(queued, outcome.value, slot.protocol, servers);
    } finally {
      this.executingCount = -1;
    }
    if (servers.length === 0) {
      slot.complete({ kind: 'array', value: replies });
      return;
    }
    // Server commands inside MULTI (TIME, INFO, ...) answer through the executor, maybe later.
    let remaining = servers.length;
    for (const { index, protocol, spec, argv } of servers) {
      this.executor.server(this.view(), spec, argv, {
        complete: (reply: Reply) => {
          replies[index] = protocol === slot.protocol ? reply : { kind: 'raw', value: encodeReply(reply, protocol) };
          if (--remaining === 0) slot.complete({ kind: 'array', value: replies });
        },
      });
    }
  }

  /**
   * EXEC's replies in queue order: the state machine's for what it executed, the connection's own
   * for the rest (run now, in order), placeholders for server commands (recorded in `servers`).
   */
  private runQueued(queued: readonly QueuedCommand[], applied: readonly Reply[], execProtocol: ProtocolVersion, servers: ServerCall[]): Reply[] {
    const replies: Reply[] = [];
    let appliedIndex = 0;
    for (const { spec, argv } of queued) {
      let reply: Reply;
      if (runsInStateMachine(spec)) {
        const next = applied[appliedIndex++];
        if (next === undefined) throw new Error(`connection: transaction of ${queued.length} commands got ${applied.length} replies`);
        reply = next;
        if (spec.name === 'select' && reply.kind !== 'error') {
          const db = parseDatabaseIndex(argv[1]!);
          if (typeof db === 'number') this.db = db;
        }
      } else if (spec.route === 'server') {
        servers.push({ index: replies.length, protocol: this.protocol, spec, argv });
        reply = NULL_ARRAY;
      } else {
        reply = runConnectionCommand(this, spec, argv);
      }
      // Redis writes each reply in the protocol in force when it ran: after a HELLO inside the
      // transaction, the rest of EXEC's array is in the new protocol.
      replies.push(this.protocol === execProtocol ? reply : { kind: 'raw', value: encodeReply(reply, this.protocol) });
    }
    return replies;
  }

  // ---- output ------------------------------------------------------------------------------

  /** A reply produced now, in order after every reply still pending. */
  private reply(reply: Reply): void {
    const timing = this.timing;
    if (timing !== null) {
      this.timing = null;
      this.commandStats.record(timing, this.timingStartMs, performance.now(), isErrorReply(reply));
    }
    if (this.slots.length === 0) {
      this.writer.push(reply, this.protocol);
      return;
    }
    const slot = new PendingReply(this, this.protocol);
    slot.reply = reply;
    this.slots.push(slot);
  }

  private newSlot(): PendingReply {
    const slot = new PendingReply(this, this.protocol);
    this.slots.push(slot);
    if (this.timing !== null) {
      slot.stat = this.timing;
      slot.startMs = this.timingStartMs;
      this.timing = null;
    }
    return slot;
  }

  /** A slot whose reply is recorded in `stat` as taking from `startMs` until it arrives. */
  private timedSlot(stat: CommandStat, startMs: number): PendingReply {
    const slot = this.newSlot();
    slot.stat = stat;
    slot.startMs = startMs;
    return slot;
  }

  /** Called by a PendingReply when its reply arrives. */
  settle(slot: PendingReply, reply: Reply): void {
    if (slot.reply !== null) throw new Error(`connection ${this.id}: a reply was completed twice`);
    slot.reply = reply;
    if (slot.stat !== null) this.commandStats.record(slot.stat, slot.startMs, performance.now(), isErrorReply(reply));
    if (slot.isRead) this.pendingReads--;
    if (this.closed || this.slots[this.slotHead] !== slot) return;
    while (this.slotHead < this.slots.length) {
      const head = this.slots[this.slotHead]!;
      if (head.reply === null) break;
      this.writer.push(head.reply, head.protocol);
      this.slotHead++;
    }
    if (this.slotHead === this.slots.length) {
      this.slots = [];
      this.slotHead = 0;
    } else if (this.slotHead >= 1024 && this.slotHead * 2 >= this.slots.length) {
      this.slots = this.slots.slice(this.slotHead);
      this.slotHead = 0;
    }
    this.scheduleFlush();
    if (!this.processing) this.resumeIfIdle();
  }

  private scheduleFlush(): void {
    if (this.flushScheduled || this.closed) return;
    this.flushScheduled = true;
    process.nextTick(flushConnection, this);
  }

  /** Writes what is due; closes the connection if it was closing and nothing is pending. */
  flush(): void {
    this.flushScheduled = false;
    if (this.closed) return;
    this.writer.flushTo(this.socket);
    if (this.closing && this.inflightCount() === 0) {
      this.closed = true;
      this.socket.end(() => this.socket.destroy());
      this.registry.remove(this);
    }
  }

  /**
   * The client shut down its side. With `allowHalfOpen` (as the servers create their sockets)
   * the requests already received still run and their replies are written before closing, as
   * Redis writes what it has produced before it reads the end of the stream.
   */
  private onEnd(): void {
    this.inputEnded = true;
    this.processInput();
  }

  private onClose(): void {
    if (!this.closed) this.closed = true;
    this.registry.remove(this);
    this.slots = [];
    this.slotHead = 0;
    this.transaction = null;
    this.watches = [];
    this.deferred = null;
    this.pendingReads = 0;
  }
}

function flushConnection(connection: Connection): void {
  connection.flush();
}
