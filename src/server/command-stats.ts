// Per-command counts and latencies of one node's RESP clients, for GET /metrics
// (raftis_commands_total, raftis_command_errors_total, raftis_command_duration_seconds).
//
// Recorded on the request path, so it costs little: the connection reads the clock once when it
// dispatches a command and once when the reply is ready, and record() bumps a counter and one
// histogram bucket of a per-command slot found through the command's spec (a Map lookup by
// object identity). Nothing is allocated per command. prom-client reads the slots when /metrics
// is scraped (metrics.ts).
//
// Labels are the command table's lower-case names ("get", "client|list"), so the label set is
// bounded by the table; whatever the table does not resolve (an unknown command or subcommand, a
// wrong number of arguments) is counted under "unknown".

import type { CommandSpec } from '../commands/types.js';

/**
 * Bucket upper bounds in seconds: 50 µs (a local read) to 10 s (a write waiting for a leader;
 * --command-timeout-ms defaults to a few seconds).
 */
export const COMMAND_DURATION_BUCKETS: readonly number[] = [
  0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

/** The label of commands the table does not resolve. */
export const UNKNOWN_COMMAND = 'unknown';

export class CommandStat {
  count = 0;
  errors = 0;
  /** Seconds, summed over every recorded command. */
  sumSeconds = 0;
  /** Non-cumulative: buckets[i] counts durations in (bound[i-1], bound[i]]; the last one is +Inf. */
  readonly buckets = new Float64Array(COMMAND_DURATION_BUCKETS.length + 1);
  constructor(readonly command: string) {}
}

export class CommandStats {
  private readonly byName = new Map<string, CommandStat>();
  private readonly bySpec = new Map<CommandSpec, CommandStat>();

  /** The slot of a resolved command. */
  of(spec: CommandSpec): CommandStat {
    let stat = this.bySpec.get(spec);
    if (stat === undefined) {
      stat = this.named(spec.name);
      this.bySpec.set(spec, stat);
    }
    return stat;
  }

  /** The slot of whatever the command table did not resolve. */
  unknown(): CommandStat {
    return this.named(UNKNOWN_COMMAND);
  }

  private named(name: string): CommandStat {
    let stat = this.byName.get(name);
    if (stat === undefined) {
      stat = new CommandStat(name);
      this.byName.set(name, stat);
    }
    return stat;
  }

  /** One command answered: `startMs` and `endMs` from performance.now(). */
  record(stat: CommandStat, startMs: number, endMs: number, isError: boolean): void {
    const seconds = endMs > startMs ? (endMs - startMs) / 1000 : 0;
    stat.count++;
    if (isError) stat.errors++;
    stat.sumSeconds += seconds;
    let bucket = 0;
    while (bucket < COMMAND_DURATION_BUCKETS.length && seconds > COMMAND_DURATION_BUCKETS[bucket]!) bucket++;
    stat.buckets[bucket] = (stat.buckets[bucket] ?? 0) + 1;
  }

  /** Every command seen so far, by name. */
  all(): IterableIterator<CommandStat> {
    return this.byName.values();
  }
}
