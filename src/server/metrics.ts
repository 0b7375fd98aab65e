// Prometheus metrics of one node (GET /metrics on the admin port). Each node has a Registry of
// its own, never prom-client's global one, so several nodes in one process (tests) do not mix
// their figures. Nothing is recorded on the request path: every metric reads the node when it is
// scraped (prom-client's collect() callbacks), so the figures are the node's own counters at that
// moment and scraping costs the node nothing between scrapes.
//
// The node's counters (proposals, reads, ...) only grow; they are exposed as Prometheus counters
// set to the node's value on each scrape. Per-peer series (replication lag, match index, link
// state) are rebuilt on each scrape, so a removed peer's series disappear.
//
// The one exception is per-command counts and latencies: the connections record them as commands
// are answered, into plain counters (command-stats.ts, no prom-client call per command), and
// these metrics read them when scraped like the rest.

import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry, type MetricObjectWithValues, type MetricType, type MetricValueWithName } from 'prom-client';
import type { Role } from '../raft/index.js';
import { FSYNC_DURATION_BUCKETS } from '../storage/sync-stats.js';
import { describeCluster } from './cluster-info.js';
import { COMMAND_DURATION_BUCKETS, type CommandStats } from './command-stats.js';
import { RAFTIS_VERSION, raftRoleName } from './info.js';
import type { RaftNode } from './node.js';

const ROLES: readonly Role[] = ['leader', 'follower', 'candidate', 'preCandidate'];

export interface NodeMetrics {
  readonly registry: Registry;
  /** The exposition text and its content type. */
  render(): Promise<{ contentType: string; body: string }>;
}

export interface NodeMetricsOptions {
  /** prom-client's process metrics (CPU, memory, event-loop lag, GC): on by default. */
  readonly processMetrics?: boolean;
  /** The node's per-command counts and latencies (its ClientRegistry's); none when absent. */
  readonly commandStats?: CommandStats;
}

type HistogramValue = MetricValueWithName<string>;

/** One labelled series of a histogram read at scrape time: per-bucket (not cumulative) counts. */
interface HistogramSeries {
  readonly labels: Readonly<Record<string, string>>;
  /** One count per bound, then one above the largest. */
  readonly buckets: ArrayLike<number>;
  readonly count: number;
  readonly sum: number;
}

/**
 * A histogram whose buckets are read from the node's own counters when scraped, rather than
 * observed through prom-client where the event happens (the request path, the disk loop).
 */
class ScrapedHistogram extends Histogram<string> {
  constructor(
    registry: Registry,
    private readonly spec: { readonly name: string; readonly help: string; readonly bounds: readonly number[]; readonly labelNames: readonly string[] },
    private readonly read: () => Iterable<HistogramSeries>,
  ) {
    super({ name: spec.name, help: spec.help, labelNames: spec.labelNames, buckets: [...spec.bounds], registers: [registry] });
  }

  override get(): Promise<MetricObjectWithValues<HistogramValue>> {
    const { name, help, bounds } = this.spec;
    const values: HistogramValue[] = [];
    const bucketName = `${name}_bucket`;
    for (const series of this.read()) {
      let cumulative = 0;
      bounds.forEach((bound, at) => {
        cumulative += series.buckets[at] ?? 0;
        values.push({ metricName: bucketName, labels: { ...series.labels, le: bound }, value: cumulative });
      });
      values.push({ metricName: bucketName, labels: { ...series.labels, le: '+Inf' }, value: series.count });
      values.push({ metricName: `${name}_sum`, labels: series.labels, value: series.sum });
      values.push({ metricName: `${name}_count`, labels: series.labels, value: series.count });
    }
    // prom-client's typings declare MetricType as a numeric enum; at run time the type is this string.
    const type = 'histogram' as unknown as MetricType;
    return Promise.resolve({ name, help, type, aggregator: 'sum', values, collect: () => undefined });
  }

  /** What the registry calls for the text format (prom-client's own would read its empty buckets). */
  getForPromString(): Promise<MetricObjectWithValues<HistogramValue>> {
    return this.get();
  }
}

/** Registers a counter whose value is read from the node at scrape time. */
function counterOf(registry: Registry, name: string, help: string, read: () => number): void {
  new Counter({
    name, help, registers: [registry],
    collect() {
      this.reset();
      this.inc(read());
    },
  });
}

/** Registers an unlabelled gauge whose value is read from the node at scrape time. */
function gaugeOf(registry: Registry, name: string, help: string, read: () => number): void {
  new Gauge({
    name, help, registers: [registry],
    collect() {
      this.set(read());
    },
  });
}

export function createNodeMetrics(node: RaftNode, options: NodeMetricsOptions = {}): NodeMetrics {
  const registry = new Registry();
  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry });

  new Gauge({
    name: 'raftis_info', help: 'Always 1; labels name the node, its cluster and the raftis version',
    labelNames: ['node_id', 'cluster_id', 'version'] as const, registers: [registry],
    collect() {
      this.set({ node_id: String(node.options.id), cluster_id: node.options.clusterId, version: RAFTIS_VERSION }, 1);
    },
  });
  new Gauge({
    name: 'raftis_raft_role', help: '1 for the role this node is in, 0 for the others',
    labelNames: ['role'] as const, registers: [registry],
    collect() {
      const role = node.status().role;
      for (const candidate of ROLES) this.set({ role: raftRoleName(candidate) }, candidate === role ? 1 : 0);
    },
  });
  gaugeOf(registry, 'raftis_raft_is_leader', '1 when this node is the leader', () => (node.isLeader() ? 1 : 0));
  gaugeOf(registry, 'raftis_raft_leader_known', '1 when this node knows a leader it can reach', () => (node.leaderAddress() ? 1 : 0));
  gaugeOf(registry, 'raftis_raft_leader_id', 'The id of the leader this node knows, 0 when none', () => node.leaderAddress()?.id ?? 0);
  gaugeOf(registry, 'raftis_raft_term', 'Current Raft term', () => node.status().term);
  gaugeOf(registry, 'raftis_raft_commit_index', 'Highest log index known to be committed', () => node.status().commit);
  gaugeOf(registry, 'raftis_raft_applied_index', 'Highest log index applied to the state machine', () => node.status().applied);
  gaugeOf(registry, 'raftis_raft_last_index', 'Index of the last entry in this node\'s log', () => node.status().lastIndex);
  gaugeOf(registry, 'raftis_raft_snapshot_index', 'Index the log is compacted up to', () => node.status().snapshotIndex);
  gaugeOf(registry, 'raftis_raft_log_entries', 'Entries in the log after the last snapshot', () => {
    const status = node.status();
    return Math.max(0, status.lastIndex - status.snapshotIndex);
  });
  gaugeOf(registry, 'raftis_raft_apply_lag_entries', 'Committed entries not applied yet', () => {
    const status = node.status();
    return Math.max(0, status.commit - status.applied);
  });
  new Gauge({
    name: 'raftis_raft_members', help: 'Members of the Raft group by kind',
    labelNames: ['kind'] as const, registers: [registry],
    collect() {
      const conf = node.status().confState;
      this.set({ kind: 'voter' }, conf.voters.length);
      this.set({ kind: 'learner' }, conf.learners.length);
    },
  });

  // Per-peer replication, as the leader sees it (the only node that knows match indexes).
  new Gauge({
    name: 'raftis_raft_peer_lag_entries', help: 'On the leader: its last index minus the peer\'s match index',
    labelNames: ['peer'] as const, registers: [registry],
    collect() {
      this.reset();
      const status = node.status();
      if (status.role !== 'leader') return;
      for (const progress of status.progress) {
        if (progress.id === status.id) continue;
        this.set({ peer: String(progress.id) }, Math.max(0, status.lastIndex - progress.match));
      }
    },
  });
  new Gauge({
    name: 'raftis_raft_peer_match_index', help: 'On the leader: the highest index known to be in the peer\'s log',
    labelNames: ['peer'] as const, registers: [registry],
    collect() {
      this.reset();
      const status = node.status();
      if (status.role !== 'leader') return;
      for (const progress of status.progress) if (progress.id !== status.id) this.set({ peer: String(progress.id) }, progress.match);
    },
  });

  // Peer links.
  new Gauge({
    name: 'raftis_peer_connected', help: '1 when this node\'s connection to the peer is up',
    labelNames: ['peer'] as const, registers: [registry],
    collect() {
      this.reset();
      for (const member of describeCluster(node).members) {
        if (!member.self) this.set({ peer: String(member.id) }, member.connection === 'connected' ? 1 : 0);
      }
    },
  });
  new Gauge({
    name: 'raftis_peer_queued_bytes', help: 'Bytes queued for the peer and not yet written',
    labelNames: ['peer'] as const, registers: [registry],
    collect() {
      this.reset();
      for (const peer of node.transportStats().peers) this.set({ peer: String(peer.id) }, peer.queuedBytes);
    },
  });
  for (const [field, help] of [['sent', 'Messages sent to the peer'], ['received', 'Messages received from the peer'],
    ['dropped', 'Messages to the peer dropped (queue full or link down)']] as const) {
    new Counter({
      name: `raftis_peer_messages_${field}_total`, help, labelNames: ['peer'] as const, registers: [registry],
      collect() {
        this.reset();
        for (const peer of node.transportStats().peers) this.inc({ peer: String(peer.id) }, peer[field]);
      },
    });
  }

  // What the node has done.
  counterOf(registry, 'raftis_proposals_total', 'Writes and transactions proposed to the log by this node as leader', () => node.stats.proposals);
  counterOf(registry, 'raftis_reads_total', 'Linearizable reads confirmed through ReadIndex by this node as leader', () => node.stats.reads);
  counterOf(registry, 'raftis_read_index_requests_total', 'ReadIndex requests this node made as leader (each confirms a batch of reads)', () => node.stats.readIndexRequests);
  counterOf(registry, 'raftis_forwarded_total', 'Commands this node forwarded to the leader as a follower', () => node.stats.forwarded);
  counterOf(registry, 'raftis_applied_entries_total', 'Log entries applied to the state machine', () => node.stats.applied);
  counterOf(registry, 'raftis_snapshots_taken_total', 'Snapshots this node took', () => node.stats.snapshotsTaken);
  counterOf(registry, 'raftis_snapshots_installed_total', 'Snapshots this node installed', () => node.stats.snapshotsInstalled);
  counterOf(registry, 'raftis_elections_won_total', 'Times this node became leader', () => node.stats.elections);

  // Client commands.
  const commandStats = options.commandStats;
  if (commandStats) {
    new Counter({
      name: 'raftis_commands_total', help: 'Client commands answered by this node, by command (unknown: not in the command table)',
      labelNames: ['command'] as const, registers: [registry],
      collect() {
        this.reset();
        for (const stat of commandStats.all()) this.inc({ command: stat.command }, stat.count);
      },
    });
    new Counter({
      name: 'raftis_command_errors_total', help: 'Client commands answered with an error reply, by command',
      labelNames: ['command'] as const, registers: [registry],
      collect() {
        this.reset();
        for (const stat of commandStats.all()) this.inc({ command: stat.command }, stat.errors);
      },
    });
    new ScrapedHistogram(registry, {
      name: 'raftis_command_duration_seconds',
      help: 'Time from dispatching a client command to its reply being ready (a write: until applied), by command',
      bounds: COMMAND_DURATION_BUCKETS, labelNames: ['command'],
    }, function* commandSeries() {
      for (const stat of commandStats.all()) yield { labels: { command: stat.command }, buckets: stat.buckets, count: stat.count, sum: stat.sumSeconds };
    });
  }

  // Storage.
  counterOf(registry, 'raftis_fsync_total', 'fsync calls on the write-ahead log', () => node.storageStats().fsyncCount);
  gaugeOf(registry, 'raftis_fsync_avg_microseconds', 'Average fsync duration', () => node.storageStats().fsyncAverageMicros);
  new ScrapedHistogram(registry, {
    name: 'raftis_disk_wal_fsync_duration_seconds',
    help: 'Duration of the fsyncs raftis_fsync_total counts: the WAL, its directory, and a finished snapshot file (etcd_disk_wal_fsync_duration_seconds)',
    bounds: FSYNC_DURATION_BUCKETS, labelNames: [],
  }, () => {
    const stats = node.storageStats();
    return [{ labels: {}, buckets: stats.fsyncBuckets, count: stats.fsyncCount, sum: stats.fsyncTotalSeconds }];
  });
  gaugeOf(registry, 'raftis_wal_size_bytes', 'Size of the write-ahead log on disk', () => node.storageStats().logSizeBytes);
  gaugeOf(registry, 'raftis_wal_segments', 'Write-ahead log segment files', () => node.storageStats().segmentCount);
  gaugeOf(registry, 'raftis_snapshot_size_bytes', 'Size of the newest snapshot file', () => node.storageStats().snapshotSizeBytes);
  gaugeOf(registry, 'raftis_disk_failure', '1 while writes are refused because the disk failed', () => (node.diskFailureReason === undefined ? 0 : 1));

  // The keyspace.
  gaugeOf(registry, 'raftis_keys', 'Keys in every database', () => node.machine.info(Date.now()).keys);
  gaugeOf(registry, 'raftis_expiring_keys', 'Keys with a time to live', () => node.machine.info(Date.now()).expires);
  gaugeOf(registry, 'raftis_keyspace_memory_bytes', 'Estimated memory of keys and values', () => node.machine.info(Date.now()).memoryBytes);

  return {
    registry,
    render: async () => ({ contentType: registry.contentType, body: await registry.metrics() }),
  };
}
