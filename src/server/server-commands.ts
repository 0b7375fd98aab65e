// The node's answers to commands routed `server` by the command table: what is about the node
// or the cluster rather than the keyspace. Membership, leadership and shutdown live here; INFO,
// CONFIG and the Redis Cluster introspection replies have modules of their own.
import { functionCommand } from '../commands/functions.js';
import { commandCommand } from '../commands/introspection.js';
import type { CommandSpec } from '../commands/types.js';
import { bulkText, error, OK } from '../resp/replies.js';
import type { Reply } from '../resp/reply.js';
import type { ClientRegistry } from './client-registry.js';
import { clusterIntrospection } from './cluster-info.js';
import { configCommand } from './config-command.js';
import type { ClientView, Completion } from './executor.js';
import { infoReply } from './info.js';
import type { RaftNode } from './node.js';

const text = (arg: Buffer | undefined): string => (arg ?? Buffer.alloc(0)).toString('latin1');

function parseId(arg: Buffer | undefined): number | undefined {
  const value = text(arg);
  return /^[1-9][0-9]{0,8}$/.test(value) ? Number(value) : undefined;
}

function parsePort(arg: Buffer | undefined): number | undefined {
  const value = text(arg);
  if (!/^[0-9]{1,5}$/.test(value)) return undefined;
  const port = Number(value);
  return port > 0 && port < 65536 ? port : undefined;
}

export function installServerCommands(node: RaftNode, registry: ClientRegistry, shutdown: () => Promise<void>): void {
  node.serverCommands = (_node, client: ClientView, spec: CommandSpec, argv: readonly Buffer[], completion: Completion) => {
    const reply = (value: Reply): void => completion.complete(value);
    switch (spec.name) {
      case 'cluster|addnode': {
        const id = parseId(argv[2]);
        const clientPort = parsePort(argv[4]);
        const peerPort = argv.length > 5 ? parsePort(argv[5]) : clientPort !== undefined ? clientPort + 10_000 : undefined;
        if (id === undefined || clientPort === undefined || peerPort === undefined || argv.length > 6) {
          reply(error('ERR usage: CLUSTER ADDNODE <id> <host> <client-port> [<peer-port>]'));
          return;
        }
        node.addNode(id, { host: text(argv[3]), clientPort, peerPort }, reply);
        return;
      }
      case 'cluster|removenode': {
        const id = parseId(argv[2]);
        if (id === undefined) {
          reply(error('ERR usage: CLUSTER REMOVENODE <id>'));
          return;
        }
        node.removeNode(id, reply);
        return;
      }
      case 'cluster|leave':
        node.removeNode(node.options.id, reply);
        return;
      case 'cluster|failover': {
        let target: number | undefined;
        if (argv.length === 4 && text(argv[2]).toUpperCase() === 'TO') target = parseId(argv[3]);
        else if (argv.length !== 2) {
          reply(error('ERR usage: CLUSTER FAILOVER [TO <id>]'));
          return;
        }
        if (argv.length === 4 && target === undefined) {
          reply(error('ERR usage: CLUSTER FAILOVER [TO <id>]'));
          return;
        }
        if (!node.isLeader()) {
          reply(error('ERR CLUSTER FAILOVER must be sent to the leader'));
          return;
        }
        void node.transferLeadership(target).then((moved) =>
          reply(moved ? OK : error('ERR leadership transfer did not complete within two election timeouts')));
        return;
      }
      case 'raft.snapshot':
        // Answered once the snapshot is durable. One already being written is refused, as Redis
        // refuses BGSAVE during a save ("ERR Background save already in progress"): its index
        // may be older than what this caller has seen applied, so waiting for it would not do.
        void node.takeSnapshot().then((outcome) => {
          switch (outcome.status) {
            case 'taken':
              reply(bulkText(`snapshot at index ${outcome.index}, ${outcome.bytes} bytes`));
              return;
            case 'current':
              reply(bulkText('nothing new to snapshot'));
              return;
            case 'busy':
              reply(error('ERR snapshot already in progress'));
              return;
            case 'failed':
              reply(error(`ERR snapshot failed: ${outcome.error.replace(/[\r\n]+/g, ' ')}`));
              return;
          }
        });
        return;
      case 'raft.digest':
        reply(bulkText(`${node.machine.appliedIndex}:${node.machine.digest()}`));
        return;
      case 'shutdown':
        // Redis closes the connection without a reply when SHUTDOWN succeeds.
        void shutdown();
        return;
      case 'time': {
        const nowMs = Date.now();
        const seconds = Math.floor(nowMs / 1000);
        reply({ kind: 'array', value: [bulkText(String(seconds)), bulkText(String((nowMs - seconds * 1000) * 1000))] });
        return;
      }
      case 'info':
        reply(infoReply(node, registry, argv.slice(1).map((arg) => text(arg).toLowerCase())));
        return;
      default:
        break;
    }
    if (spec.name === 'command' || spec.name.startsWith('command|')) {
      reply(commandCommand(argv));
      return;
    }
    if (spec.name === 'function' || spec.name.startsWith('function|')) {
      reply(functionCommand(argv));
      return;
    }
    if (spec.name.startsWith('config|')) {
      reply(configCommand(node, registry, spec.name, argv));
      return;
    }
    if (spec.name.startsWith('cluster|') || spec.name === 'readonly' || spec.name === 'readwrite') {
      const answer = clusterIntrospection(node, client, spec.name, argv);
      if (answer) {
        reply(answer);
        return;
      }
    }
    reply(error(`ERR '${spec.name.replace('|', ' ').toUpperCase()}' is not supported by raftis yet`));
  };
}
