// Generates src/commands/table-redis.ts from a real Redis 7 server's own description of the
// commands raftis implements (COMMAND INFO and COMMAND DOCS), so that arity, flags, key specs,
// ACL categories, tips, summaries, history and argument docs are Redis's, not transcribed by hand.
// Which commands we take and how each is routed (write/read/connection/server) is decided below.
//
// Usage: redis-server --port 6390 --save '' --appendonly no &
//        npx tsx test/unit/commands/tools/generate-redis-table.ts 6390 > src/commands/table-redis.ts
import { Redis } from 'ioredis';

type Route = 'write' | 'read' | 'connection' | 'server';

/** Top-level commands (or `parent|sub` for a chosen subset of a container's subcommands). */
const ROUTES: Record<string, Route> = {
  // Strings.
  get: 'read', set: 'write', setnx: 'write', setex: 'write', psetex: 'write', getset: 'write',
  getdel: 'write', getex: 'write', mget: 'read', mset: 'write', msetnx: 'write', append: 'write',
  strlen: 'read', incr: 'write', decr: 'write', incrby: 'write', decrby: 'write',
  incrbyfloat: 'write', getrange: 'read', substr: 'read', setrange: 'write', lcs: 'read',
  // Keys.
  del: 'write', unlink: 'write', exists: 'read', type: 'read', keys: 'read', scan: 'read',
  randomkey: 'read', rename: 'write', renamenx: 'write', copy: 'write', move: 'write',
  touch: 'read', expire: 'write', pexpire: 'write', expireat: 'write', pexpireat: 'write',
  ttl: 'read', pttl: 'read', expiretime: 'read', pexpiretime: 'read', persist: 'write',
  dbsize: 'read', flushdb: 'write', flushall: 'write', swapdb: 'write',
  // Transactions: the connection queues them; EXEC proposes one log entry.
  multi: 'connection', exec: 'connection', discard: 'connection', watch: 'connection',
  unwatch: 'connection',
  // Connection.
  ping: 'connection', echo: 'connection', quit: 'connection', reset: 'connection',
  hello: 'connection', auth: 'connection', select: 'connection', readonly: 'connection',
  readwrite: 'connection',
  client: 'connection', 'client|id': 'connection', 'client|setname': 'connection',
  'client|getname': 'connection', 'client|info': 'connection', 'client|list': 'connection',
  'client|kill': 'connection', 'client|help': 'connection',
  // Server.
  info: 'server', time: 'server', shutdown: 'server',
  config: 'server', 'config|get': 'server', 'config|set': 'server', 'config|resetstat': 'server',
  'config|help': 'server',
  command: 'server', 'command|count': 'server', 'command|info': 'server', 'command|docs': 'server',
  'command|list': 'server', 'command|getkeys': 'server', 'command|getkeysandflags': 'server',
  'command|help': 'server',
  function: 'server', 'function|flush': 'server', 'function|list': 'server',
  'function|stats': 'server', 'function|help': 'server', 'function|load': 'server',
  cluster: 'server', 'cluster|info': 'server', 'cluster|myid': 'server', 'cluster|nodes': 'server',
  'cluster|shards': 'server', 'cluster|slots': 'server', 'cluster|keyslot': 'server',
  'cluster|help': 'server',
};

type Raw = string | number | null | Raw[];

function pairs(raw: Raw): [string, Raw][] {
  if (!Array.isArray(raw)) throw new Error(`expected a map, got ${JSON.stringify(raw)}`);
  const out: [string, Raw][] = [];
  for (let i = 0; i < raw.length; i += 2) out.push([String(raw[i]), raw[i + 1] ?? null]);
  return out;
}

function convertSpecPart(raw: Raw): Record<string, unknown> {
  const map = Object.fromEntries(pairs(raw));
  const spec = Object.fromEntries(pairs(map.spec ?? []).map(([k, v]) => [camel(k), v]));
  return { type: map.type, ...spec };
}

function camel(name: string): string {
  return name.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase());
}

function convertKeySpec(raw: Raw): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of pairs(raw)) {
    if (k === 'begin_search') out.beginSearch = convertSpecPart(v);
    else if (k === 'find_keys') out.findKeys = convertSpecPart(v);
    else out[camel(k)] = v;
  }
  return out;
}

function convertArg(raw: Raw): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of pairs(raw)) {
    if (k === 'arguments') out.arguments = (v as Raw[]).map(convertArg);
    else out[camel(k)] = v;
  }
  return out;
}

interface Docs { [key: string]: unknown }

function convertDocs(raw: Raw): Docs {
  const out: Docs = {};
  for (const [k, v] of pairs(raw)) {
    if (k === 'arguments') out.arguments = (v as Raw[]).map(convertArg);
    else if (k === 'subcommands') out.subcommands = Object.fromEntries(pairs(v).map(([n, d]) => [n, convertDocs(d)]));
    else if (k === 'history') out.history = v;
    else out[camel(k)] = v;
  }
  return out;
}

function buildSpec(info: Raw[], docs: Docs, route: Route, allInfo: Map<string, Raw[]>): Record<string, unknown> {
  const name = String(info[0]);
  const spec: Record<string, unknown> = {
    name,
    arity: info[1],
    flags: info[2],
    firstKey: info[3],
    lastKey: info[4],
    keyStep: info[5],
    aclCategories: info[6],
    group: docs.group,
    summary: docs.summary,
    since: docs.since,
    complexity: docs.complexity,
    route,
  };
  const tips = info[7] as string[];
  if (tips.length > 0) spec.tips = tips;
  const keySpecs = (info[8] as Raw[]).map(convertKeySpec);
  if (keySpecs.length > 0) spec.keySpecs = keySpecs;
  if (docs.docFlags) spec.docFlags = docs.docFlags;
  if (docs.deprecatedSince) spec.deprecatedSince = docs.deprecatedSince;
  if (docs.replacedBy) spec.replacedBy = docs.replacedBy;
  if (docs.history) spec.history = docs.history;
  if (docs.arguments) spec.arguments = docs.arguments;
  const subNames = Object.keys(ROUTES).filter((n) => n.startsWith(`${name}|`)).sort();
  if (subNames.length > 0) {
    const subDocs = (docs.subcommands ?? {}) as Record<string, Docs>;
    spec.subcommands = subNames.map((sub) => {
      const subInfo = allInfo.get(sub);
      const subDoc = subDocs[sub];
      if (!subInfo || !subDoc) throw new Error(`no Redis description of ${sub}`);
      return buildSpec(subInfo, subDoc, ROUTES[sub]!, allInfo);
    });
  }
  return spec;
}

function print(value: unknown, indent: string): string {
  if (Array.isArray(value) || value === null || typeof value !== 'object') return JSON.stringify(value);
  const inner = `${indent}  `;
  const lines = Object.entries(value as Record<string, unknown>).map(([k, v]) => {
    const text = k === 'subcommands'
      ? `[\n${(v as unknown[]).map((s) => `${inner}  ${print(s, `${inner}  `)},`).join('\n')}\n${inner}]`
      : JSON.stringify(v);
    return `${inner}${/^[a-zA-Z]+$/.test(k) ? k : JSON.stringify(k)}: ${text},`;
  });
  return `{\n${lines.join('\n')}\n${indent}}`;
}

async function main(): Promise<void> {
  const port = Number(process.argv[2] ?? 6390);
  const redis = new Redis({ port, lazyConnect: true });
  await redis.connect();
  const version = String(await redis.info('server')).match(/redis_version:(\S+)/)?.[1];
  const tops = Object.keys(ROUTES).filter((n) => !n.includes('|'));
  const allInfo = new Map<string, Raw[]>();
  const collect = (entry: Raw[]): void => {
    allInfo.set(String(entry[0]), entry);
    for (const sub of (entry[9] ?? []) as Raw[][]) collect(sub);
  };
  for (const entry of (await redis.call('COMMAND', 'INFO', ...tops)) as Raw[][]) {
    if (entry === null) throw new Error('unknown command in ROUTES');
    collect(entry);
  }
  const docsByName = new Map(pairs((await redis.call('COMMAND', 'DOCS', ...tops)) as Raw).map(([n, d]) => [n, convertDocs(d)]));
  await redis.quit();
  const specs = tops.map((name) => buildSpec(allInfo.get(name)!, docsByName.get(name)!, ROUTES[name]!, allInfo));
  const out: string[] = [
    '// GENERATED by test/unit/commands/tools/generate-redis-table.ts from redis-server ' + version + "'s own",
    '// COMMAND INFO and COMMAND DOCS. Do not edit by hand: change the generator (which decides the',
    '// commands and their routes) and run it again. Commands of our own live in table.ts.',
    "import type { CommandSpec } from './types.js';",
    '',
    `export const REDIS_VERSION = ${JSON.stringify(version)};`,
    '',
    'export const REDIS_COMMANDS: readonly CommandSpec[] = [',
    ...specs.map((s) => `  ${print(s, '  ')},`),
    '];',
    '',
  ];
  process.stdout.write(out.join('\n'));
}

await main();
