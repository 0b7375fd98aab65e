// Per-command counts and latencies in GET /metrics (issue #4), against real `raftis server`
// processes: commands sent over RESP move raftis_commands_total, raftis_command_errors_total and
// raftis_command_duration_seconds by exactly what was sent, on the node the client talks to
// (the leader, and a follower that forwards to it). Every wait is a poll with a deadline.

import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { useCluster } from './helpers/cluster.js';

const shared = useCluster({ nodes: 3 });

/** Every sample of the exposition: `name{labels}` to value. */
async function scrape(id: number): Promise<Map<string, number>> {
  const node = shared.cluster.node(id);
  const response = await fetch(`http://${node.host}:${node.httpPort}/metrics`);
  expect(response.status).toBe(200);
  const samples = new Map<string, number>();
  for (const line of (await response.text()).split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    samples.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return samples;
}

const value = (samples: Map<string, number>, key: string): number => samples.get(key) ?? 0;

/** Bucket samples of one command's histogram, in exposition order: [le, cumulative count]. */
function buckets(samples: Map<string, number>, command: string): [string, number][] {
  const prefix = `raftis_command_duration_seconds_bucket{command="${command}",le="`;
  return [...samples].filter(([key]) => key.startsWith(prefix)).map(([key, count]) => [key.slice(prefix.length, -2), count]);
}

async function exercise(client: Redis, tag: string): Promise<void> {
  for (let at = 0; at < 5; at++) expect(await client.set(`${tag}:k${at}`, String(at))).toBe('OK');
  for (let at = 0; at < 3; at++) expect(await client.get(`${tag}:k${at}`)).toBe(String(at));
  expect(await client.incr(`${tag}:n`)).toBe(1);
  expect(await client.incr(`${tag}:n`)).toBe(2);
  await expect(client.incr(`${tag}:k0`)).resolves.toBe(1);
  await expect(client.set(`${tag}:text`, 'abc')).resolves.toBe('OK');
  await expect(client.incr(`${tag}:text`)).rejects.toThrow(/not an integer/);
  await expect(client.call('NOSUCHCOMMAND', 'x')).rejects.toThrow(/unknown command/);
}

describe('GET /metrics command counts and latencies', () => {
  for (const where of ['leader', 'follower'] as const) {
    it(`count every command sent to the ${where} by name, its errors, and time it in the histogram`, async () => {
      const id = where === 'leader' ? shared.leader : [1, 2, 3].find((other) => other !== shared.leader)!;
      // Connected first: ioredis sends commands of its own when it connects (CLIENT SETINFO, which
      // Redis 7.0 and raftis do not know, so they count as unknown).
      const client = shared.cluster.client(id);
      expect(await client.ping()).toBe('PONG');
      const before = await scrape(id);
      await exercise(client, where);
      const after = await scrape(id);
      const delta = (key: string): number => value(after, key) - value(before, key);

      expect(delta('raftis_commands_total{command="set"}')).toBe(6);
      expect(delta('raftis_commands_total{command="get"}')).toBe(3);
      expect(delta('raftis_commands_total{command="incr"}')).toBe(4);
      expect(delta('raftis_commands_total{command="unknown"}')).toBe(1);
      expect(delta('raftis_command_errors_total{command="set"}')).toBe(0);
      expect(delta('raftis_command_errors_total{command="get"}')).toBe(0);
      expect(delta('raftis_command_errors_total{command="incr"}')).toBe(1);
      expect(delta('raftis_command_errors_total{command="unknown"}')).toBe(1);

      for (const [command, count] of [['set', 6], ['get', 3], ['incr', 4]] as const) {
        expect(delta(`raftis_command_duration_seconds_count{command="${command}"}`)).toBe(count);
        const series = buckets(after, command);
        expect(series.map(([le]) => le)).toEqual(['0.00005', '0.0001', '0.00025', '0.0005', '0.001', '0.0025', '0.005', '0.01',
          '0.025', '0.05', '0.1', '0.25', '0.5', '1', '2.5', '5', '10', '+Inf']);
        for (let at = 1; at < series.length; at++) expect(series[at]![1]).toBeGreaterThanOrEqual(series[at - 1]![1]);
        expect(series.at(-1)![1]).toBe(value(after, `raftis_command_duration_seconds_count{command="${command}"}`));
        expect(value(after, `raftis_commands_total{command="${command}"}`)).toBe(series.at(-1)![1]);
        // A write waits for a commit (an fsync on a majority): well above zero, well below 10 s.
        const sum = delta(`raftis_command_duration_seconds_sum{command="${command}"}`);
        expect(sum).toBeGreaterThan(0);
        expect(sum).toBeLessThan(10 * count);
      }
      // Writes waited for their commit, so none took less than 50 µs.
      expect(delta('raftis_command_duration_seconds_bucket{command="set",le="0.00005"}')).toBe(0);
    });
  }

  it('time every fsync of every node in raftis_disk_wal_fsync_duration_seconds, as many as raftis_fsync_total', async () => {
    const ids = [1, 2, 3];
    const before = await Promise.all(ids.map((id) => scrape(id)));
    const client = shared.cluster.client(shared.leader);
    for (let at = 0; at < 5; at++) expect(await client.set(`fsync:k${at}`, String(at))).toBe('OK');
    const prefix = 'raftis_disk_wal_fsync_duration_seconds_bucket{le="';
    for (const [at, id] of ids.entries()) {
      const after = await scrape(id);
      const count = value(after, 'raftis_disk_wal_fsync_duration_seconds_count');
      // Every node appended the five entries to its log, and made them durable before acknowledging.
      expect(count - value(before[at]!, 'raftis_disk_wal_fsync_duration_seconds_count')).toBeGreaterThanOrEqual(1);
      expect(count).toBe(value(after, 'raftis_fsync_total'));
      const series = [...after].filter(([key]) => key.startsWith(prefix)).map(([key, n]) => [key.slice(prefix.length, -2), n] as const);
      expect(series.map(([le]) => le)).toEqual(['0.0001', '0.00025', '0.0005', '0.001', '0.002', '0.004', '0.008', '0.016',
        '0.032', '0.064', '0.128', '0.256', '0.512', '1.024', '2.048', '4.096', '8.192', '+Inf']);
      for (let k = 1; k < series.length; k++) expect(series[k]![1]).toBeGreaterThanOrEqual(series[k - 1]![1]);
      expect(series.at(-1)![1]).toBe(count);
      // Each fsync landed in a bucket: none took over 8 s.
      expect(series.at(-2)![1]).toBe(count);
      // The sum is what the average gauge says, over the same fsyncs.
      const sum = value(after, 'raftis_disk_wal_fsync_duration_seconds_sum');
      expect(sum).toBeGreaterThan(0);
      expect(sum).toBeCloseTo(value(after, 'raftis_fsync_avg_microseconds') * count / 1e6, 4);
    }
  });
});
