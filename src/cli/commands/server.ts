// `raftis server`: runs one node. Every flag can also come from a JSON config file (--config);
// config/ has examples. docs/configuration.md is generated from these definitions.
import path from 'node:path';
import { Redis } from 'ioredis';
import pino, { type Logger } from 'pino';
import type { Argv, CommandModule } from 'yargs';
import { parsePeerList, type MemberAddress } from '../../server/members.js';
import { startServer } from '../../server/server.js';

export function serverOptions(yargs: Argv): Argv<ServerArgs> {
  return yargs
    .option('config', { type: 'string', config: true, describe: 'JSON file with any of these options (flags override it)' })
    .option('id', { type: 'number', demandOption: true, describe: 'this node\'s id: a positive integer, unique in the cluster, never reused' })
    .option('host', { type: 'string', default: '127.0.0.1', describe: 'address to bind and to advertise (any 127.0.0.x works for local tests)' })
    .option('port', { type: 'number', default: 7001, describe: 'client (RESP) port' })
    .option('peer-port', { type: 'number', describe: 'peer (Raft) port [default: port + 10000]' })
    .option('http-port', { type: 'number', describe: 'HTTP admin port: /health, /metrics, /api/stats; 0 turns it off [default: port + 2000]' })
    .option('data-dir', { type: 'string', describe: 'where the WAL and snapshots live [default: ./data/n<id>]' })
    .option('peers', { type: 'string', default: '', describe: 'initial members, this node included: 1@host:port,2@host:port,... (client ports; peer port = +10000, or give id@host:client:peer)' })
    .option('join', { type: 'string', describe: 'join a running cluster through any member (host:port) instead of --peers' })
    .option('cluster-id', { type: 'string', default: 'raftis', describe: 'peers of another cluster id are refused' })
    .option('secret', { type: 'string', describe: 'shared secret peers must prove they know (HMAC challenge)' })
    .option('tick-ms', { type: 'number', default: 100, describe: 'length of one Raft tick' })
    .option('election-ticks', { type: 'number', default: 10, describe: 'a follower campaigns after [n, 2n) ticks without a leader' })
    .option('heartbeat-ticks', { type: 'number', default: 1, describe: 'leader heartbeat interval, in ticks' })
    .option('fsync', { choices: ['always', 'never'] as const, default: 'always' as const, describe: '"never" is UNSAFE: a crash can lose acknowledged writes; for experiments only' })
    .option('repair-wal', { type: 'boolean', default: false, describe: 'truncate a corrupted WAL at the first bad record (logged) and catch up from the leader' })
    .option('snapshot-entries', { type: 'number', default: 100_000, describe: 'snapshot and compact the log about every this many entries (each member at its own turn, so the members of a cluster do not snapshot at once)' })
    .option('snapshot-log-bytes', { type: 'number', default: 64 * 1024 * 1024, describe: 'or once the entries logged since the last snapshot take this many bytes and at least as many as that snapshot' })
    .option('async-writes', { type: 'boolean', default: false, describe: 'write the log in the background while the loop goes on (etcd\'s asynchronous storage writes); experimental: no faster on the reference machine' })
    .option('snapshots-retained', { type: 'number', default: 2, describe: 'snapshot files kept on disk' })
    .option('follower-mode', { choices: ['proxy', 'redirect'] as const, default: 'proxy' as const, describe: 'followers forward commands to the leader, or answer -MOVED (the HTTP API always forwards)' })
    .option('read-mode', { choices: ['linearizable', 'lease'] as const, default: 'linearizable' as const, describe: 'linearizable: a heartbeat round confirms leadership for each batch of reads; lease: the leader serves reads alone while its lease holds, assuming node clocks (tick rates) drift by less than one tick per election timeout' })
    .option('leader-wait-ms', { type: 'number', default: 3000, describe: 'how long a command waits for a leader before -CLUSTERDOWN' })
    .option('command-timeout-ms', { type: 'number', default: 10_000, describe: 'a write not applied by then gets a TIMEOUT error (outcome unknown)' })
    .option('requirepass', { type: 'string', describe: 'clients must AUTH with this password (the HTTP API asks for it too)' })
    .option('maxclients', { type: 'number', default: 10_000, describe: 'most client connections at once' })
    .option('proto-max-bulk-len', { type: 'number', default: 512 * 1024 * 1024, describe: 'largest bulk string a client may send, in bytes' })
    .option('log-level', { choices: ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const, default: 'info' as const })
    .option('log-pretty', { type: 'boolean', default: false, describe: 'human-readable logs instead of JSON lines' }) as unknown as Argv<ServerArgs>;
}

export interface ServerArgs {
  id: number;
  host: string;
  port: number;
  'peer-port'?: number;
  'http-port'?: number;
  'data-dir'?: string;
  peers: string;
  join?: string;
  'cluster-id': string;
  secret?: string;
  'tick-ms': number;
  'election-ticks': number;
  'heartbeat-ticks': number;
  fsync: 'always' | 'never';
  'repair-wal': boolean;
  'snapshot-entries': number;
  'snapshot-log-bytes': number;
  'async-writes': boolean;
  'snapshots-retained': number;
  'follower-mode': 'proxy' | 'redirect';
  'read-mode': 'linearizable' | 'lease';
  'leader-wait-ms': number;
  'command-timeout-ms': number;
  requirepass?: string;
  maxclients: number;
  'proto-max-bulk-len': number;
  'log-level': string;
  'log-pretty': boolean;
}

function makeLogger(args: ServerArgs): Logger {
  const options = { level: args['log-level'], base: { node: args.id } };
  if (!args['log-pretty']) return pino(options);
  return pino({ ...options, transport: { target: 'pino-pretty', options: { colorize: false, messageFormat: `[n${args.id}] {msg}`, ignore: 'pid,hostname,node' } } });
}

export async function runServer(args: ServerArgs): Promise<void> {
  const logger = makeLogger(args);
  const peerPort = args['peer-port'] ?? args.port + 10_000;
  const self: MemberAddress = { host: args.host, clientPort: args.port, peerPort };
  let peers = new Map<number, MemberAddress>();
  if (args.peers !== '') {
    peers = parsePeerList(args.peers);
    if (!peers.has(args.id)) throw new Error(`--peers must include this node (id ${args.id})`);
  } else if (args.join === undefined) {
    // A single-node cluster, unless the data directory says otherwise (it wins after bootstrap).
    peers.set(args.id, self);
  }
  const server = await startServer({
    id: args.id,
    clusterId: args['cluster-id'],
    host: args.host,
    clientPort: args.port,
    peerPort,
    httpPort: args['http-port'] ?? args.port + 2000,
    dataDir: path.resolve(args['data-dir'] ?? path.join('data', `n${args.id}`)),
    peers,
    peersFromFlag: args.peers !== '',
    tickMs: args['tick-ms'],
    electionTicks: args['election-ticks'],
    heartbeatTicks: args['heartbeat-ticks'],
    fsync: args.fsync,
    repairWal: args['repair-wal'],
    snapshotEntries: args['snapshot-entries'],
    snapshotLogBytes: args['snapshot-log-bytes'],
    asyncWrites: args['async-writes'],
    snapshotsRetained: args['snapshots-retained'],
    followerMode: args['follower-mode'],
    readMode: args['read-mode'],
    leaderWaitMs: args['leader-wait-ms'],
    commandTimeoutMs: args['command-timeout-ms'],
    requirepass: args.requirepass,
    secret: args.secret,
    maxclients: args.maxclients,
    protoMaxBulkLenBytes: args['proto-max-bulk-len'],
    logger,
  });
  let signals = 0;
  const onSignal = (signal: string): void => {
    signals++;
    if (signals > 1) {
      logger.warn({ signal }, 'second signal: exiting at once');
      process.exit(1);
    }
    logger.info({ signal }, 'signal received: shutting down gracefully');
    void server.shutdown();
  };
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));
  if (args.join !== undefined && !server.node.status().confState.voters.includes(args.id)
    && !server.node.status().confState.learners.includes(args.id)) {
    await joinCluster(args.join, args.id, self, args.requirepass, logger);
  }
  await server.stopped;
  logger.flush?.();
}

/** Asks the cluster (through any member, following -MOVED to the leader) to add this node. */
async function joinCluster(via: string, id: number, self: MemberAddress, password: string | undefined, logger: Logger): Promise<void> {
  let target = via;
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const [host, port] = target.split(':');
    const client = new Redis({ host, port: Number(port), password, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    try {
      await client.connect();
      await client.call('CLUSTER', 'ADDNODE', String(id), self.host, String(self.clientPort), String(self.peerPort));
      logger.info({ via: target }, 'joined the cluster as a learner; promotion follows once caught up');
      return;
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      const moved = /^MOVED \d+ (\S+)$/.exec(message);
      if (/invalid membership change/.test(message)) {
        // Already a member (added by hand, or an earlier attempt whose reply was lost).
        logger.info({ via: target }, 'this node is already a member; not joining again');
        return;
      }
      if (moved) target = moved[1] as string;
      else logger.warn({ via: target, error: message }, 'join attempt failed; retrying');
      if (!moved) await new Promise((resolve) => setTimeout(resolve, 500));
    } finally {
      client.disconnect();
    }
  }
  throw new Error(`could not join the cluster through ${via} within 60 s`);
}

export const serverCommand: CommandModule<object, ServerArgs> = {
  command: 'server',
  describe: 'run one raftis node',
  builder: (yargs) => serverOptions(yargs),
  handler: async (args) => {
    try {
      await runServer(args);
    } catch (error) {
      process.stderr.write(`raftis server: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = 1;
    }
  },
};
