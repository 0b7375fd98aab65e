// Every client connection of one node, by id: what CLIENT LIST, CLIENT KILL and `maxclients`
// need, plus the settings that govern connections and the counters INFO reports. One registry
// per node; the node's CONFIG SET changes `settings` in place and connections read them at the
// moment they apply (the next request, the next accept).

import { REDIS_VERSION } from '../commands/table-redis.js';
import { CommandStats } from './command-stats.js';

/** Redis 7.0's defaults. */
export const DEFAULT_CLIENT_SETTINGS: ClientSettings = {
  requirepass: null,
  maxclients: 10000,
  protoMaxBulkLenBytes: 512 * 1024 * 1024,
  clientQueryBufferLimitBytes: 1024 * 1024 * 1024,
  helloRole: 'master',
  helloVersion: REDIS_VERSION,
};

export interface ClientSettings {
  /** Redis `requirepass`: the default user's password, or null when none is required. */
  requirepass: string | null;
  /** Redis `maxclients`: connections beyond this get "-ERR max number of clients reached". */
  maxclients: number;
  /** Redis `proto-max-bulk-len`: the longest bulk string a request may carry. */
  protoMaxBulkLenBytes: number;
  /** Redis `client-query-buffer-limit`: beyond this a client is disconnected. */
  clientQueryBufferLimitBytes: number;
  /** What HELLO reports as `role`: the node driver sets it as leadership moves. */
  helloRole: 'master' | 'replica';
  /** What HELLO reports as `version`: the Redis version raftis answers as. */
  helloVersion: string;
}

/** One CLIENT LIST line's fields, in Redis 7.0's order. */
export interface ClientDescription {
  readonly id: number;
  readonly addr: string;
  readonly laddr: string;
  readonly fd: number;
  /** Latin1 (byte) string; empty when the client has no name. */
  readonly name: string;
  readonly ageSeconds: number;
  readonly idleSeconds: number;
  readonly flags: string;
  readonly db: number;
  readonly multi: number;
  readonly queryBufferBytes: number;
  readonly argvMemoryBytes: number;
  readonly multiMemoryBytes: number;
  readonly outputListLength: number;
  readonly outputMemoryBytes: number;
  readonly lastCommand: string;
  readonly protocol: number;
}

/** What the registry needs of a connection. */
export interface RegisteredClient {
  readonly id: number;
  describe(nowMs: number): ClientDescription;
  /** Closes the connection at once, dropping pending replies (Redis freeClient). */
  kill(): void;
}

export interface ClientStats {
  /** INFO stats total_connections_received. */
  connectionsReceived: number;
  /** INFO stats rejected_connections (maxclients). */
  connectionsRejected: number;
  /** INFO stats total_commands_processed. */
  commandsProcessed: number;
}

export class ClientRegistry {
  readonly settings: ClientSettings;
  readonly stats: ClientStats = { connectionsReceived: 0, connectionsRejected: 0, commandsProcessed: 0 };
  /** Per-command counts and latencies, recorded by the connections (GET /metrics). */
  readonly commandStats = new CommandStats();
  private readonly clients = new Map<number, RegisteredClient>();
  /** Redis client ids start at 1 and are never reused. */
  private lastId = 0;

  constructor(settings: Partial<ClientSettings> = {}) {
    this.settings = { ...DEFAULT_CLIENT_SETTINGS, ...settings };
  }

  /** Whether one more client may connect (Redis checks before creating the client). */
  admits(): boolean {
    return this.clients.size < this.settings.maxclients;
  }

  allocateId(): number {
    return ++this.lastId;
  }

  add(client: RegisteredClient): void {
    if (this.clients.has(client.id)) throw new Error(`client registry: id ${client.id} registered twice`);
    this.clients.set(client.id, client);
    this.stats.connectionsReceived++;
  }

  remove(client: RegisteredClient): void {
    if (this.clients.get(client.id) === client) this.clients.delete(client.id);
  }

  get(id: number): RegisteredClient | undefined {
    return this.clients.get(id);
  }

  get size(): number {
    return this.clients.size;
  }

  /** Clients in id order, as Redis lists them (oldest first). */
  all(): IterableIterator<RegisteredClient> {
    return this.clients.values();
  }

  /** Closes every client, e.g. on shutdown. */
  killAll(): void {
    for (const client of [...this.clients.values()]) client.kill();
  }
}

/** Redis 7.0 catClientInfoString: one CLIENT LIST / CLIENT INFO line, without the newline. */
export function formatClientInfo(client: ClientDescription): string {
  const totalMemoryBytes = client.queryBufferBytes + client.argvMemoryBytes + client.multiMemoryBytes + client.outputMemoryBytes;
  return `id=${client.id} addr=${client.addr} laddr=${client.laddr} fd=${client.fd} name=${client.name}`
    + ` age=${client.ageSeconds} idle=${client.idleSeconds} flags=${client.flags} db=${client.db}`
    + ` sub=0 psub=0 ssub=0 multi=${client.multi} qbuf=${client.queryBufferBytes} qbuf-free=0`
    + ` argv-mem=${client.argvMemoryBytes} multi-mem=${client.multiMemoryBytes} rbs=0 rbp=0 obl=0`
    + ` oll=${client.outputListLength} omem=${client.outputMemoryBytes} tot-mem=${totalMemoryBytes}`
    + ` events=r cmd=${client.lastCommand} user=default redir=-1 resp=${client.protocol}`;
}
