// One raftis server process: the node (Raft driver, storage, peer transport), the RESP listener
// for clients, and the HTTP admin port. `raftis server` builds the options and calls startServer.
import net from 'node:net';
import { ClientRegistry } from './client-registry.js';
import { acceptClient, type Connection } from './connection.js';
import { RaftNode, type NodeOptions } from './node.js';
import { installServerCommands } from './server-commands.js';
import { startAdminHttp, type AdminHttp } from './admin-http.js';
import { httpApiRoutes } from './http-api.js';
import { authenticate } from './connection-commands.js';

export interface ServerOptions extends NodeOptions {
  /** 0 disables the HTTP admin port. */
  readonly httpPort: number;
  readonly maxclients: number;
  readonly protoMaxBulkLenBytes: number;
}

export interface RunningServer {
  readonly node: RaftNode;
  readonly registry: ClientRegistry;
  /** Graceful: leadership transfer first, then the node flushes and closes. */
  shutdown(): Promise<void>;
  readonly stopped: Promise<void>;
}

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  let resolveStopped!: () => void;
  const stopped = new Promise<void>((resolve) => { resolveStopped = resolve; });
  let shuttingDown: Promise<void> | undefined;
  const registry = new ClientRegistry({
    requirepass: options.requirepass ?? null,
    maxclients: options.maxclients,
    protoMaxBulkLenBytes: options.protoMaxBulkLenBytes,
  });
  const node = await RaftNode.start({
    ...options,
    onRemoved: () => void shutdown(),
    // A node that cannot vouch for its state exits non-zero; its supervisor restarts it and it
    // recovers from its disk.
    onFatal: () => {
      process.exitCode = 1;
      void shutdown();
    },
  });
  const connections = new Set<Connection>();
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    const connection = acceptClient(socket, { executor: node, registry });
    if (connection === null) return;
    connections.add(connection);
    socket.once('close', () => connections.delete(connection));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.clientPort, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  let admin: AdminHttp | undefined;
  if (options.httpPort > 0) admin = await startAdminHttp(node, options.host, options.httpPort, httpApiRoutes(node, {
    requirepass: () => registry.settings.requirepass,
    authenticate: (username, password) => authenticate(registry, username, password),
  }), { commandStats: registry.commandStats });

  function shutdown(): Promise<void> {
    shuttingDown ??= (async () => {
      options.logger.info('shutting down');
      server.close();
      await node.shutdown();
      for (const connection of connections) connection.kill();
      for (const socket of sockets) socket.destroy();
      await admin?.close();
      resolveStopped();
    })();
    return shuttingDown;
  }
  installServerCommands(node, registry, shutdown);
  options.logger.info({ client: `${options.host}:${options.clientPort}`, peer: `${options.host}:${options.peerPort}`,
    http: options.httpPort > 0 ? `${options.host}:${options.httpPort}` : 'off' }, 'ready to accept connections');
  return { node, registry, shutdown, stopped };
}
