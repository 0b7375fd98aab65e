// Network partitions between node addresses with nftables. Every node binds to its own loopback
// address and dials its peers from it, so a rule "drop packets from A to B" in the output hook
// cuts the link A -> B and nothing else; clients (from 127.0.0.1) are never cut.
//
// The rules live in a table of their own, `raftis_nemesis_<pid>`, and nowhere else: healing
// flushes its chain, cleaning up deletes the table. The pid in the name keeps two runs on one
// machine (a long run and `npm test`) from deleting each other's rules; at start a run also
// deletes any `raftis_nemesis*` table whose process is gone, so a run killed before its exit
// handlers could run leaves nothing behind for long.
import { spawnSync } from 'node:child_process';

export const TABLE_PREFIX = 'raftis_nemesis';
const CHAIN = 'output';

/** One direction of one link: packets from `from` to `to` are dropped. */
export interface Cut {
  readonly from: string;
  readonly to: string;
}

/** Undefined when partitions can be used here; otherwise why not, in words for the operator. */
export function partitionsUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'partitions need root to add nftables rules; run as root, or leave "partition" out of --faults';
  const probe = spawnSync('nft', ['--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) return 'partitions need the nft command (apt-get install nftables), which was not found';
  return undefined;
}

function nft(args: readonly string[], input?: string): { ok: boolean; stdout: string; stderr: string } {
  const result = spawnSync('nft', args, { encoding: 'utf8', input });
  return { ok: result.status === 0, stdout: result.stdout ?? '', stderr: result.stderr ?? String(result.error ?? '') };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Runs `cleanup` (synchronous) if the process exits or is told to stop by SIGINT, SIGTERM or
 * SIGHUP (its terminal closed) before the returned function is called; the signal is then
 * re-raised so the process still ends as it was asked to.
 */
export function onExit(cleanup: () => void): () => void {
  const onSignal = (signal: NodeJS.Signals): void => {
    remove();
    cleanup();
    process.kill(process.pid, signal);
  };
  const remove = (): void => {
    process.removeListener('exit', cleanup);
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    process.removeListener('SIGHUP', onSignal);
  };
  process.once('exit', cleanup);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  process.once('SIGHUP', onSignal);
  return remove;
}

export class NetworkFaults {
  readonly table = `${TABLE_PREFIX}_${process.pid}`;
  private created = false;
  private cuts: Cut[] = [];

  /** Deletes leftovers (ours, and those of dead runs), then creates an empty table and chain. */
  init(): void {
    const listed = nft(['list', 'tables']);
    if (!listed.ok) throw new Error(`nft list tables failed: ${listed.stderr.trim()}`);
    for (const line of listed.stdout.split('\n')) {
      const match = /^table inet (raftis_nemesis(?:_(\d+))?)$/.exec(line.trim());
      if (!match) continue;
      const pid = match[2] === undefined ? undefined : Number(match[2]);
      if (match[1] === this.table || pid === undefined || !alive(pid)) nft(['delete', 'table', 'inet', match[1] as string]);
    }
    this.apply([]);
    this.created = true;
  }

  /** The links currently cut. */
  current(): readonly Cut[] {
    return this.cuts;
  }

  /** Replaces the rules with exactly these cuts, atomically (one nft transaction). */
  apply(cuts: readonly Cut[]): void {
    const rules = cuts.map((cut) => `add rule inet ${this.table} ${CHAIN} ip saddr ${cut.from} ip daddr ${cut.to} drop`);
    const script = [
      `table inet ${this.table} {`,
      `  chain ${CHAIN} { type filter hook output priority 0; policy accept; }`,
      '}',
      `flush chain inet ${this.table} ${CHAIN}`,
      ...rules,
      '',
    ].join('\n');
    const result = nft(['-f', '-'], script);
    if (!result.ok) throw new Error(`nft failed: ${result.stderr.trim()}\n${script}`);
    this.cuts = [...cuts];
  }

  heal(): void {
    if (this.created) this.apply([]);
  }

  /** Deletes the table. Synchronous and idempotent, so exit handlers can call it. */
  destroy(): void {
    if (!this.created) return;
    this.created = false;
    this.cuts = [];
    nft(['delete', 'table', 'inet', this.table]);
  }

  /** The rules as nft lists them, for the run's record. */
  listing(): string {
    return nft(['list', 'table', 'inet', this.table]).stdout;
  }
}
