// The nemesis's command line (docs/testing.md):
//
//   npm run nemesis -- --time 60 --nodes 5 --faults kill,pause,partition,member,transfer [--seed N] [--out DIR]
//       runs a cluster under faults and checks what the clients saw; the last line is
//       "nemesis: PASS ..." (exit 0) or "nemesis: FAIL ..." (exit 1). Exit 2: refused (e.g.
//       partitions without root or nft) or bad usage.
//   npm run nemesis -- --check DIR/history.jsonl
//       checks a saved history again (linearizability per key, transaction atomicity), exactly
//       as the run did.
import fs from 'node:fs';
import path from 'node:path';
import { randomInt } from 'node:crypto';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { parseJsonHistory } from '../../src/check/index.js';
import { faultNames, type FaultName } from './nemesis.js';
import { defaultRunOptions, refusal, runNemesis } from './run.js';
import { checkKeys, nodesOfHistory, phantomWrites, tornReads } from './verify.js';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const d = defaultRunOptions;

function range(flag: string, text: string): [number, number] {
  const parts = text.split(',').map(Number);
  if (parts.length !== 2 || parts.some((part) => !Number.isInteger(part) || part < 0) || (parts[0] as number) > (parts[1] as number)) {
    throw new Error(`${flag} takes MIN,MAX in milliseconds, got ${text}`);
  }
  return parts as [number, number];
}

function faultList(text: string): FaultName[] {
  if (text === '' || text === 'none') return [];
  const names = text.split(',').map((name) => name.trim());
  for (const name of names) {
    if (!(faultNames as readonly string[]).includes(name)) throw new Error(`unknown fault "${name}"; known: ${faultNames.join(', ')} (or none)`);
  }
  return [...new Set(names)] as FaultName[];
}

async function main(): Promise<number> {
  const argv = await yargs(hideBin(process.argv))
    .scriptName('npm run nemesis --')
    .usage('$0 [options]: a real cluster under faults, its clients\' history checked for linearizability')
    .option('time', { type: 'number', default: d.timeSec, describe: 'seconds of faults and load' })
    .option('nodes', { type: 'number', default: d.nodes, describe: 'cluster size (membership changes stay within one of it)' })
    .option('faults', { type: 'string', default: d.faults.join(','), describe: `comma-separated: ${faultNames.join(', ')}; or none` })
    .option('seed', { type: 'number', describe: 'seeds the fault schedule and the clients\' choices [default: random]' })
    .option('out', { type: 'string', describe: 'output folder [default: out/nemesis/<time>-seed<N>]' })
    .option('clients', { type: 'number', default: d.clients })
    .option('keys', { type: 'number', default: d.keys, describe: 'keys in use at once for GET/SET/cas' })
    .option('txn-pairs', { type: 'number', default: d.txnPairs, describe: 'pairs of keys in use at once for MULTI/EXEC (0: none)' })
    .option('ops-per-key', { type: 'number', default: d.opsPerKey, describe: 'operations on a key before a fresh key replaces it' })
    .option('client-timeout-ms', { type: 'number', default: d.clientTimeoutMs })
    .option('command-timeout-ms', { type: 'number', default: d.commandTimeoutMs, describe: 'the servers\' --command-timeout-ms and --leader-wait-ms' })
    .option('tick-ms', { type: 'number', default: d.tickMs })
    .option('election-ticks', { type: 'number', default: d.electionTicks })
    .option('snapshot-entries', { type: 'number', default: d.snapshotEntries, describe: 'small, so snapshots and their installation happen under faults' })
    .option('hold-ms', { type: 'string', default: d.holdMs.join(','), describe: 'MIN,MAX: how long a fault lasts' })
    .option('quiet-ms', { type: 'string', default: d.quietMs.join(','), describe: 'MIN,MAX: calm between faults' })
    .option('recovery-ms', { type: 'number', default: d.recoveryMs, describe: 'bound on recovery, final reads and convergence once faults stop' })
    .option('check-timeout', { type: 'number', default: d.checkTimeoutMs / 1000, describe: 'seconds of linearizability search per key' })
    .option('server-args', { type: 'string', default: '', describe: 'more raftis server flags for every node, e.g. "--read-mode lease"' })
    .option('keep-data', { type: 'boolean', default: false, describe: 'keep node data directories when the run passes' })
    .option('check', { type: 'string', describe: 'only check a saved history.jsonl' })
    .strict()
    .fail((message, error) => {
      process.stderr.write(`nemesis: ${message ?? error?.message}\n`);
      process.exit(2);
    })
    .parse();

  if (argv.check !== undefined) return checkSaved(argv.check, argv['check-timeout'] * 1000);

  let faults: FaultName[];
  let holdMs: [number, number];
  let quietMs: [number, number];
  try {
    faults = faultList(argv.faults);
    holdMs = range('--hold-ms', argv['hold-ms']);
    quietMs = range('--quiet-ms', argv['quiet-ms']);
    if (!(argv.nodes >= 1 && argv.nodes <= 200)) throw new Error(`--nodes must be 1..200, got ${argv.nodes}`);
  } catch (error) {
    process.stderr.write(`nemesis: ${(error as Error).message}\n`);
    return 2;
  }
  const refused = refusal({ faults });
  if (refused) {
    process.stderr.write(`nemesis: refusing to run: ${refused}\n`);
    return 2;
  }
  const seed = argv.seed ?? randomInt(1, 2 ** 31);
  const stamp = new Date().toISOString().replace(/[:.]/g, '-').replace(/Z$/, '');
  const out = argv.out ?? path.join(ROOT, 'out', 'nemesis', `${stamp}-seed${seed}`);
  const result = await runNemesis({
    ...d,
    timeSec: argv.time, nodes: argv.nodes, faults, seed, out, clients: argv.clients, keys: argv.keys, txnPairs: argv['txn-pairs'],
    opsPerKey: argv['ops-per-key'], clientTimeoutMs: argv['client-timeout-ms'], commandTimeoutMs: argv['command-timeout-ms'],
    tickMs: argv['tick-ms'], electionTicks: argv['election-ticks'], snapshotEntries: argv['snapshot-entries'], holdMs, quietMs,
    recoveryMs: argv['recovery-ms'], checkTimeoutMs: argv['check-timeout'] * 1000, keepData: argv['keep-data'],
    serverArgs: argv['server-args'].split(/\s+/).filter((word) => word !== ''),
    echo: (line) => process.stdout.write(`${line}\n`),
  });
  const s = result.summary;
  const faultCount = Object.values(s.faults).reduce((sum, count) => sum + count, 0);
  process.stdout.write(`faults: ${JSON.stringify(s.faults)}\noutcomes: ${JSON.stringify(s.outcomes)}\n`);
  if (s.anomalies.length > 0) process.stdout.write(`anomalies:\n${s.anomalies.map((a) => `  ${a.what}`).join('\n')}\n`);
  const line = `seed=${seed} ${s.durationSec}s ${s.operations} ops ${faultCount} faults ${s.keysChecked} keys checked in ${s.checkMs} ms; ${result.out}`;
  if (result.ok) {
    process.stdout.write(`nemesis: PASS ${line}\n`);
    return 0;
  }
  process.stdout.write(`${result.failures.map((failure) => `- ${failure}`).join('\n')}\nnemesis: FAIL ${line}\n`);
  return 1;
}

function checkSaved(file: string, timeoutMs: number): number {
  const text = fs.readFileSync(file, 'utf8');
  const events = parseJsonHistory(text);
  const verdicts = checkKeys(events, timeoutMs, nodesOfHistory(text));
  let bad = 0;
  for (const verdict of verdicts) {
    if (verdict.result === 'linearizable') continue;
    bad++;
    process.stdout.write(`${verdict.explanation.join('\n')}\n`);
  }
  for (const p of phantomWrites(events)) {
    bad++;
    process.stdout.write(`a write reported as not applied took effect: ${p.key}=${p.value} by process ${p.process} got "${p.error}", but process ${p.seenBy} saw it\n`);
  }
  for (const read of tornReads(events)) {
    bad++;
    process.stdout.write(`transaction atomicity: a MULTI GET of ${read.pair} saw a=${String(read.a)} b=${String(read.b)} (process ${read.process})\n`);
  }
  process.stdout.write(`${file}: ${verdicts.length} keys, ${bad === 0 ? 'PASS' : `FAIL (${bad} problems)`}\n`);
  return bad === 0 ? 0 : 1;
}

process.exitCode = await main();
