// The simulator's command line.
//
//   npm run sim -- --seed N [--nodes 3|5|7] [--steps K] [--variant NAME]
//       replays one seed exactly; on a violation prints the seed, the options and the trace.
//   npm run sim -- --seeds N [--from S] [--nodes 3|5|7] [--steps K] [--variant NAME]
//       runs seeds S..S+N-1 (cluster sizes 3, 5, 7 in turn unless --nodes is given) and ends
//       with the line "sim: N seeds, V violations"; exits 1 when V > 0.
//
// --variant runs a deliberately broken core (test/sim/variants.ts) under the fault options
// biased for it (test/sim/scenarios.ts); --scenario NAME picks the bias alone, e.g. to run the
// correct core on the schedule that catches a broken one. --trace N prints the last N events.

import { emptyCoverage, type Coverage } from './context.js';
import { optionsForSeed, variantNames, type SimOverrides, type VariantName } from './options.js';
import { scenarios, withScenario, type ScenarioName } from './scenarios.js';
import { formatViolation, runSimulation, type SimResult } from './simulator.js';

interface Args {
  seed: number | undefined;
  seeds: number | undefined;
  from: number;
  nodes: number | undefined;
  steps: number | undefined;
  variant: VariantName;
  scenario: ScenarioName | undefined;
  verbose: boolean;
  traceTail: number | undefined;
}

function usage(message: string): never {
  process.stderr.write(`${message}\nusage: npm run sim -- (--seed N | --seeds N [--from S]) [--nodes 3|5|7] [--steps K] [--variant ${variantNames.join('|')}] [--scenario NAME] [--trace EVENTS] [--verbose]\n`);
  process.exit(2);
}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = { seed: undefined, seeds: undefined, from: 1, nodes: undefined, steps: undefined, variant: 'correct', scenario: undefined, verbose: false, traceTail: undefined };
  const integer = (flag: string, value: string | undefined): number => {
    const parsed = Number(value);
    if (value === undefined || !Number.isInteger(parsed)) usage(`${flag} needs an integer, got ${value ?? 'nothing'}`);
    return parsed;
  };
  for (let k = 0; k < argv.length; k++) {
    const flag = argv[k] as string;
    switch (flag) {
      case '--seed':
        args.seed = integer(flag, argv[++k]);
        break;
      case '--seeds':
        args.seeds = integer(flag, argv[++k]);
        break;
      case '--from':
        args.from = integer(flag, argv[++k]);
        break;
      case '--nodes':
        args.nodes = integer(flag, argv[++k]);
        if (![3, 5, 7].includes(args.nodes)) usage(`--nodes must be 3, 5 or 7`);
        break;
      case '--steps':
        args.steps = integer(flag, argv[++k]);
        if (args.steps < 1) usage('--steps must be positive');
        break;
      case '--variant': {
        const name = argv[++k] as VariantName;
        if (!variantNames.includes(name)) usage(`unknown variant ${name}`);
        args.variant = name;
        break;
      }
      case '--scenario': {
        const name = argv[++k] as ScenarioName;
        if (!(name in scenarios)) usage(`unknown scenario ${name}; known: ${Object.keys(scenarios).join(', ')}`);
        args.scenario = name;
        break;
      }
      case '--trace':
        args.traceTail = integer(flag, argv[++k]);
        if (args.traceTail < 1) usage('--trace must be positive');
        break;
      case '--verbose':
        args.verbose = true;
        break;
      default:
        usage(`unknown argument ${flag}`);
    }
  }
  if ((args.seed === undefined) === (args.seeds === undefined)) usage('give exactly one of --seed and --seeds');
  return args;
}

function overridesFor(args: Args): SimOverrides {
  // A broken variant runs under its own biased scenario unless another is named.
  const scenario = args.scenario ?? (args.variant === 'correct' ? undefined : args.variant);
  return withScenario(scenario, {
    variant: args.variant,
    ...(args.nodes === undefined ? {} : { nodes: args.nodes }),
    ...(args.steps === undefined ? {} : { steps: args.steps }),
    ...(args.traceTail === undefined ? {} : { traceTail: args.traceTail }),
  });
}

function describeCoverage(coverage: Coverage): string {
  return Object.entries(coverage).map(([name, count]) => `${name}=${count}`).join(' ');
}

function summary(result: SimResult): string {
  const { clients } = result;
  return `seed ${result.options.seed}: ${result.options.nodes} nodes, ${result.steps} steps, ${result.simMs}ms simulated, ` +
    `max term ${result.maxTerm}, committed ${result.maxCommitted}, ops ${clients.ok} ok / ${clients.failed} failed cas / ${clients.unknown} unknown, ` +
    `history ${result.linearizability}\n  ${describeCoverage(result.coverage)}`;
}

function main(): void {
  const args = parseArgs(process.argv.slice(2));
  if (args.seed !== undefined) {
    const result = runSimulation(optionsForSeed(args.seed, overridesFor(args)));
    if (result.violation !== undefined) {
      process.stdout.write(`${formatViolation(result)}\n`);
      process.exit(1);
    }
    process.stdout.write(`${summary(result)}\nsim: 1 seeds, 0 violations\n`);
    return;
  }
  const count = args.seeds as number;
  let violations = 0;
  let unknownHistories = 0;
  const total = emptyCoverage();
  let leaderTerms = 0;
  const started = performance.now();
  for (let seed = args.from; seed < args.from + count; seed++) {
    const result = runSimulation(optionsForSeed(seed, overridesFor(args)));
    if (result.linearizability === 'unknown') unknownHistories++;
    for (const name of Object.keys(total) as (keyof Coverage)[]) total[name] += result.coverage[name];
    leaderTerms += result.leaderTerms;
    if (result.violation !== undefined) {
      violations++;
      const text = formatViolation(result).split('\n');
      // Many seeds: a short excerpt each; --seed N replays one with the full trace.
      process.stdout.write(`${(args.verbose ? text : [...text.slice(0, 2), ...text.slice(-31)]).join('\n')}\n`);
    } else if (args.verbose) {
      process.stdout.write(`${summary(result)}\n`);
    }
  }
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  process.stdout.write(`covered: terms with a leader=${leaderTerms} ${describeCoverage(total)}\n`);
  if (unknownHistories > 0) process.stdout.write(`(${unknownHistories} histories too large for the linearizability budget)\n`);
  process.stdout.write(`(${seconds}s)\nsim: ${count} seeds, ${violations} violations\n`);
  if (violations > 0) process.exit(1);
}

main();
