// `raftis cluster up`: a local cluster in the foreground, one child process per node, each line
// of output prefixed with its node id. Ctrl-C (SIGINT) or SIGTERM stops every node gracefully.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import type { Argv, CommandModule } from 'yargs';

interface ClusterUpArgs {
  nodes: number;
  host: string;
  'base-port': number;
  'http-base-port': number;
  'data-dir': string;
  fsync: string;
  'follower-mode': string;
}

export function clusterNodeArgs(args: ClusterUpArgs, id: number): string[] {
  const peers = Array.from({ length: args.nodes }, (_, k) => `${k + 1}@${args.host}:${args['base-port'] + k}`).join(',');
  return [
    'server', '--id', String(id), '--host', args.host,
    '--port', String(args['base-port'] + id - 1),
    '--peer-port', String(args['base-port'] + 10_000 + id - 1),
    '--http-port', String(args['http-base-port'] + id - 1),
    '--peers', peers, '--data-dir', path.join(args['data-dir'], `n${id}`),
    '--fsync', args.fsync, '--follower-mode', args['follower-mode'], '--log-pretty',
  ];
}

async function clusterUp(args: ClusterUpArgs): Promise<void> {
  const script = process.argv[1] as string;
  const children: ChildProcess[] = [];
  const exited: Promise<number | null>[] = [];
  for (let id = 1; id <= args.nodes; id++) {
    // Each node gets its own process group: Ctrl-C in the terminal then reaches only this
    // parent, which stops every node once, gracefully (SIGTERM), instead of each node getting
    // SIGINT from the terminal and SIGTERM from here (a second signal means "exit now").
    const child = spawn(process.execPath, [...process.execArgv, script, ...clusterNodeArgs(args, id)], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    children.push(child);
    for (const stream of [child.stdout, child.stderr]) {
      if (!stream) continue;
      readline.createInterface({ input: stream }).on('line', (line) => process.stdout.write(`n${id} | ${line}\n`));
    }
    exited.push(new Promise((resolve) => child.once('exit', (code) => {
      process.stdout.write(`n${id} | exited with code ${code}\n`);
      resolve(code);
    })));
  }
  process.stdout.write(`raftis: ${args.nodes} nodes on ${args.host} ports ${args['base-port']}..${args['base-port'] + args.nodes - 1} `
    + `(HTTP ${args['http-base-port']}..${args['http-base-port'] + args.nodes - 1}); data under ${args['data-dir']}. Ctrl-C stops them.\n`);
  let stopping = false;
  const stop = (): void => {
    if (stopping) {
      for (const child of children) child.kill('SIGKILL');
      return;
    }
    stopping = true;
    process.stdout.write('raftis: stopping every node gracefully (Ctrl-C again to kill)\n');
    for (const child of children) child.kill('SIGTERM');
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  const codes = await Promise.all(exited);
  process.exitCode = codes.every((code) => code === 0) ? 0 : 1;
}

export const clusterCommand: CommandModule = {
  command: 'cluster <action>',
  describe: 'manage a local cluster (action: up)',
  builder: (yargs: Argv) => yargs
    .positional('action', { choices: ['up'] as const, describe: 'up: start a local cluster in the foreground' })
    .option('nodes', { type: 'number', default: 3, describe: 'how many nodes' })
    .option('host', { type: 'string', default: '127.0.0.1' })
    .option('base-port', { type: 'number', default: 7001, describe: 'client ports P.., peer ports P+10000..' })
    .option('http-base-port', { type: 'number', default: 9001, describe: 'HTTP admin ports H..' })
    .option('data-dir', { type: 'string', default: './data', describe: 'each node keeps its files in D/n<id>' })
    .option('fsync', { choices: ['always', 'never'], default: 'always' })
    .option('follower-mode', { choices: ['proxy', 'redirect'], default: 'proxy' }),
  handler: async (args) => {
    await clusterUp(args as unknown as ClusterUpArgs);
  },
};
