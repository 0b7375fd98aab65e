// The HTTP admin port of one node:
//   GET /health      200 when the node is up and knows a leader, else 503 with the reason (JSON);
//   GET /metrics     Prometheus exposition (metrics.ts, a registry of this node's own);
//   GET /api/stats   JSON: role, leader, term, commit index, log length and members;
//   /api/set, /api/get, /api/list, /api/delete, /api/batch: the key-value JSON API (http-api.ts,
//                    passed in by server.ts as extra routes; docs/http-api.md).
//
// Routes live in one table keyed by "METHOD /path"; a route is a function from a parsed request
// (method, URL, body read up to a bound) to a response (status, JSON value or text). Adding an
// endpoint is adding a table entry (see adminRoutes), or passing extra routes to startAdminHttp.
// A path that exists with another method gets 405 with an Allow header; an unknown path 404.

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describeCluster } from './cluster-info.js';
import { raftRoleName, raftStateName } from './info.js';
import { createNodeMetrics, type NodeMetrics, type NodeMetricsOptions } from './metrics.js';
import type { RaftNode } from './node.js';

export interface AdminHttp {
  close(): Promise<void>;
  readonly port: number;
}

/** The largest request body a route may receive. */
export const ADMIN_BODY_MAX_BYTES = 1024 * 1024;

export interface AdminRequest {
  readonly method: string;
  readonly url: URL;
  readonly headers: http.IncomingHttpHeaders;
  /** The whole body (empty for GET), at most ADMIN_BODY_MAX_BYTES. */
  readonly body: Buffer;
}

export interface AdminResponse {
  readonly status: number;
  /** A string or Buffer is sent as is (text/plain unless contentType says otherwise); anything else as JSON. */
  readonly body: unknown;
  readonly contentType?: string;
  readonly headers?: Readonly<Record<string, string>>;
}

export interface AdminContext {
  readonly node: RaftNode;
  readonly metrics: NodeMetrics;
}

export type AdminRoute = (request: AdminRequest, context: AdminContext) => AdminResponse | Promise<AdminResponse>;

/** Why the node cannot serve, or undefined when it can (what /health reports). */
export function unavailableReason(node: RaftNode): string | undefined {
  if (node.isRemoved) return 'this node was removed from the cluster';
  const disk = node.diskFailureReason;
  if (disk !== undefined) return `writes are refused: the disk failed (${disk})`;
  if (!node.leaderAddress()) {
    const status = node.status();
    return `no leader known (this node is ${raftRoleName(status.role)} in term ${status.term})`;
  }
  return undefined;
}

function health(_request: AdminRequest, { node }: AdminContext): AdminResponse {
  const status = node.status();
  const reason = unavailableReason(node);
  const summary = { id: node.options.id, role: raftRoleName(status.role), term: status.term, leader: node.leaderAddress()?.id ?? null };
  if (reason !== undefined) return { status: 503, body: { status: 'unavailable', reason, ...summary } };
  return { status: 200, body: { status: 'ok', ...summary } };
}

async function metrics(_request: AdminRequest, context: AdminContext): Promise<AdminResponse> {
  const { contentType, body } = await context.metrics.render();
  return { status: 200, body, contentType };
}

/** The JSON of GET /api/stats. */
export function clusterStats(node: RaftNode): Record<string, unknown> {
  const status = node.status();
  const leader = node.leaderAddress();
  const view = describeCluster(node);
  return {
    id: node.options.id,
    cluster_id: node.options.clusterId,
    state: raftRoleName(status.role),
    raft_state: raftStateName(node),
    leader: leader ? { id: leader.id, host: leader.host, client_port: leader.clientPort, peer_port: leader.peerPort } : null,
    term: status.term,
    commit_index: status.commit,
    applied_index: status.applied,
    first_index: status.firstIndex,
    last_index: status.lastIndex,
    snapshot_index: status.snapshotIndex,
    log_length: Math.max(0, status.lastIndex - status.snapshotIndex),
    disk_failure: node.diskFailureReason ?? null,
    members: view.members.map((member) => ({
      id: member.id,
      host: member.address?.host ?? null,
      client_port: member.address?.clientPort ?? null,
      peer_port: member.address?.peerPort ?? null,
      voter: member.voter,
      self: member.self,
      leader: member.leader,
      // Known on the leader only.
      match_index: member.matchIndex ?? null,
      lag: member.matchIndex === undefined ? null : Math.max(0, status.lastIndex - member.matchIndex),
      connection: member.connection,
    })),
    stats: { ...node.stats },
  };
}

function stats(_request: AdminRequest, { node }: AdminContext): AdminResponse {
  return { status: 200, body: clusterStats(node) };
}

/** The built-in routes, keyed by "METHOD /path". */
export function adminRoutes(): Map<string, AdminRoute> {
  return new Map<string, AdminRoute>([
    ['GET /health', health],
    ['GET /metrics', metrics],
    ['GET /api/stats', stats],
  ]);
}

class BodyTooLarge extends Error {}

function readBody(request: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > ADMIN_BODY_MAX_BYTES) {
        // Keep draining (without keeping) the rest, so the client reads the 413 rather than a reset.
        chunks.length = 0;
        reject(new BodyTooLarge());
        return;
      }
      chunks.push(chunk);
    });
    request.once('end', () => resolve(Buffer.concat(chunks)));
    request.once('error', reject);
  });
}

function send(response: http.ServerResponse, reply: AdminResponse): void {
  const text = typeof reply.body === 'string' || Buffer.isBuffer(reply.body);
  const payload = text ? (reply.body as string | Buffer) : `${JSON.stringify(reply.body)}\n`;
  response.writeHead(reply.status, {
    'content-type': reply.contentType ?? (text ? 'text/plain; charset=utf-8' : 'application/json'),
    'content-length': Buffer.byteLength(payload),
    ...reply.headers,
  });
  response.end(payload);
}

async function dispatch(routes: ReadonlyMap<string, AdminRoute>, context: AdminContext,
  request: http.IncomingMessage, response: http.ServerResponse): Promise<void> {
  const method = request.method ?? 'GET';
  const url = new URL(request.url ?? '/', 'http://admin');
  const route = routes.get(`${method} ${url.pathname}`);
  if (!route) {
    const allowed = [...routes.keys()].filter((key) => key.endsWith(` ${url.pathname}`)).map((key) => key.split(' ')[0]);
    if (allowed.length > 0) send(response, { status: 405, body: { error: `${method} is not allowed on ${url.pathname}` }, headers: { allow: allowed.join(', ') } });
    else send(response, { status: 404, body: { error: `no such endpoint: ${url.pathname}` } });
    return;
  }
  try {
    const body = await readBody(request);
    send(response, await route({ method, url, headers: request.headers, body }, context));
  } catch (error) {
    if (error instanceof BodyTooLarge) {
      send(response, { status: 413, body: { error: `request body over ${ADMIN_BODY_MAX_BYTES} bytes` }, headers: { connection: 'close' } });
    }
    else send(response, { status: 500, body: { error: error instanceof Error ? error.message : String(error) } });
  }
}

/**
 * Listens on host:port (0 picks a free port) and serves the built-in routes plus `extraRoutes`
 * (which may replace built-in ones).
 */
export async function startAdminHttp(node: RaftNode, host: string, port: number,
  extraRoutes: ReadonlyMap<string, AdminRoute> = new Map(), metricsOptions: NodeMetricsOptions = {}): Promise<AdminHttp> {
  const routes = adminRoutes();
  for (const [key, route] of extraRoutes) routes.set(key, route);
  const context: AdminContext = { node, metrics: createNodeMetrics(node, metricsOptions) };
  const server = http.createServer((request, response) => {
    void dispatch(routes, context, request, response);
  });
  // Scrapers and health checkers keep connections alive; do not let one hold a shutdown.
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  return {
    port: address.port,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
