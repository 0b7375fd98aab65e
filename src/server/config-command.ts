// CONFIG GET / SET / RESETSTAT / REWRITE / HELP for the settings raftis has, with Redis 7.0's
// replies and error messages:
// - the connection settings (requirepass, maxclients, proto-max-bulk-len,
//   client-query-buffer-limit) live in the node's ClientRegistry and take effect at once;
// - the rest are read-only and answer what raftis does in Redis's terms: the Raft log is the
//   append-only file (appendonly yes, appendfsync from --fsync), there are no RDB save points,
//   16 databases, cluster mode on. Setting one that Redis itself cannot change at runtime gets
//   Redis's "can't set immutable config"; one that Redis could change but raftis cannot gets the
//   same shape of error with the reason.
//
// CONFIG SET of several parameters is all or nothing: every name and value is checked before any
// is applied, and the first problem found (in argument order) is the one reported, as in Redis.

import { globMatch } from '../state/index.js';
import { array, bulkText, error, OK, simple, SYNTAX_ERROR } from '../resp/replies.js';
import type { Reply } from '../resp/reply.js';
import type { ClientRegistry, ClientSettings } from './client-registry.js';
import type { RaftNode } from './node.js';

/** A parsed value ready to apply, or the reason it was refused (Redis's wording). */
type Parsed = { readonly ok: true; readonly apply: () => void } | { readonly ok: false; readonly reason: string };

interface Setting {
  readonly name: string;
  get(node: RaftNode, registry: ClientRegistry): string;
  /** Absent for read-only settings. */
  parse?(registry: ClientRegistry, value: string): Parsed;
  /** Why a read-only setting cannot be set; Redis's own message for the ones Redis cannot set either. */
  readonly readOnlyReason?: string;
}

const IMMUTABLE = "can't set immutable config";
const FIXED_BY_RAFTIS = 'raftis does not support changing it';

/** Redis's memtoull: digits with an optional unit (b, k, kb, m, mb, g, gb; k = 1000, kb = 1024). */
export function parseMemory(value: string): bigint | undefined {
  const match = /^([0-9]+)(b|k|kb|m|mb|g|gb)?$/i.exec(value);
  if (!match) return undefined;
  const multipliers: Record<string, bigint> = {
    b: 1n, k: 1000n, kb: 1024n, m: 1000n ** 2n, mb: 1024n ** 2n, g: 1000n ** 3n, gb: 1024n ** 3n,
  };
  return BigInt(match[1] as string) * (multipliers[(match[2] ?? 'b').toLowerCase()] as bigint);
}

const LLONG_MAX = (1n << 63n) - 1n;

function numberSetting(
  name: string, field: 'maxclients' | 'protoMaxBulkLenBytes' | 'clientQueryBufferLimitBytes',
  kind: 'integer' | 'memory', minimum: bigint, maximum: bigint,
): Setting {
  return {
    name,
    get: (_node, registry) => String(registry.settings[field]),
    parse: (registry, value) => {
      let parsed: bigint | undefined;
      if (kind === 'memory') {
        parsed = parseMemory(value);
        if (parsed === undefined) return { ok: false, reason: 'argument must be a memory value' };
      } else {
        parsed = /^-?[0-9]+$/.test(value) ? BigInt(value) : undefined;
        if (parsed === undefined) return { ok: false, reason: "argument couldn't be parsed into an integer" };
      }
      if (parsed < minimum || parsed > maximum) {
        return { ok: false, reason: `argument must be between ${minimum} and ${maximum} inclusive` };
      }
      const settings: ClientSettings = registry.settings;
      const next = Number(parsed);
      return { ok: true, apply: () => { settings[field] = next; } };
    },
  };
}

function fixed(name: string, get: (node: RaftNode) => string, readOnlyReason = FIXED_BY_RAFTIS): Setting {
  return { name, get: (node) => get(node), readOnlyReason };
}

/** Every setting CONFIG knows, in the order CONFIG GET lists them. */
const SETTINGS: readonly Setting[] = [
  {
    name: 'requirepass',
    get: (_node, registry) => registry.settings.requirepass ?? '',
    parse: (registry, value) => ({ ok: true, apply: () => { registry.settings.requirepass = value === '' ? null : value; } }),
  },
  numberSetting('maxclients', 'maxclients', 'integer', 1n, 4_294_967_295n),
  numberSetting('proto-max-bulk-len', 'protoMaxBulkLenBytes', 'memory', 1024n * 1024n, LLONG_MAX),
  numberSetting('client-query-buffer-limit', 'clientQueryBufferLimitBytes', 'memory', 1024n * 1024n, LLONG_MAX),
  fixed('port', (node) => String(node.options.clientPort)),
  fixed('bind', (node) => node.options.host),
  fixed('dir', (node) => node.options.dataDir),
  fixed('databases', () => '16', IMMUTABLE),
  fixed('cluster-enabled', () => 'yes', IMMUTABLE),
  fixed('cluster-port', (node) => String(node.options.peerPort), IMMUTABLE),
  fixed('appendonly', () => 'yes'),
  fixed('appendfsync', (node) => (node.options.fsync === 'always' ? 'always' : 'no')),
  fixed('save', () => ''),
  fixed('maxmemory', () => '0'),
  fixed('maxmemory-policy', () => 'noeviction'),
  fixed('timeout', () => '0'),
  fixed('replica-read-only', () => 'yes'),
  fixed('daemonize', () => 'no', IMMUTABLE),
];

const BY_NAME = new Map(SETTINGS.map((setting) => [setting.name, setting]));

/**
 * CONFIG GET pattern [pattern ...]: name/value pairs of every setting some pattern matches. As in
 * Redis 7.0, a pattern without glob characters is a name looked up case-insensitively and
 * answered with the spelling given; a glob matches case-insensitively and answers the setting's
 * own name. Each setting is listed once, in table order (Redis's order is its hash table's).
 */
function configGet(node: RaftNode, registry: ClientRegistry, patterns: readonly Buffer[]): Reply {
  const names = new Map<Setting, string>();
  for (const pattern of patterns) {
    const given = pattern.toString('latin1');
    if (!/[[*?]/.test(given)) {
      const setting = BY_NAME.get(given.toLowerCase());
      if (setting && !names.has(setting)) names.set(setting, given);
      continue;
    }
    for (const setting of SETTINGS) {
      if (!names.has(setting) && globMatch(pattern, Buffer.from(setting.name, 'latin1'), true)) names.set(setting, setting.name);
    }
  }
  const pairs: (readonly [Reply, Reply])[] = [];
  for (const setting of SETTINGS) {
    const name = names.get(setting);
    if (name !== undefined) pairs.push([bulkText(name), bulkText(setting.get(node, registry))]);
  }
  // A map in RESP3; RESP2 flattens it to name, value, name, value as Redis does.
  return { kind: 'map', value: pairs };
}

/**
 * CONFIG SET name value [name value ...]. Like Redis's configSetCommand, names are checked first
 * (unknown, read-only, given twice: the first problem in argument order wins), then values.
 */
function configSet(registry: ClientRegistry, args: readonly Buffer[]): Reply {
  if (args.length === 0 || args.length % 2 !== 0) return SYNTAX_ERROR;
  const chosen: { setting: Setting; value: string }[] = [];
  for (let at = 0; at < args.length; at += 2) {
    const given = (args[at] as Buffer).toString('latin1');
    const setting = BY_NAME.get(given.toLowerCase());
    if (setting === undefined) return error(`ERR Unknown option or number of arguments for CONFIG SET - '${given}'`);
    if (setting.parse === undefined) {
      return error(`ERR CONFIG SET failed (possibly related to argument '${given}') - ${setting.readOnlyReason ?? FIXED_BY_RAFTIS}`);
    }
    if (chosen.some((earlier) => earlier.setting === setting)) {
      return error(`ERR CONFIG SET failed (possibly related to argument '${given}') - duplicate parameter`);
    }
    chosen.push({ setting, value: (args[at + 1] as Buffer).toString('latin1') });
  }
  const updates: (() => void)[] = [];
  for (const { setting, value } of chosen) {
    const parsed = (setting.parse as NonNullable<Setting['parse']>)(registry, value);
    // Redis names the setting itself (not the argument as typed) when a value is refused.
    if (!parsed.ok) return error(`ERR CONFIG SET failed (possibly related to argument '${setting.name}') - ${parsed.reason}`);
    updates.push(parsed.apply);
  }
  for (const apply of updates) apply();
  return OK;
}

const HELP_LINES = [
  'CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:',
  'GET <pattern>',
  '    Return parameters matching the glob-like <pattern> and their values.',
  'SET <directive> <value>',
  '    Set the configuration <directive> to <value>.',
  'RESETSTAT',
  '    Reset statistics reported by the INFO command.',
  'REWRITE',
  '    Rewrite the configuration file.',
  'HELP',
  '    Prints this help.',
];

/** CONFIG subcommands; `name` is the table's full name ('config|get', ...), arity already checked. */
export function configCommand(node: RaftNode, registry: ClientRegistry, name: string, argv: readonly Buffer[]): Reply {
  switch (name) {
    case 'config|get':
      return configGet(node, registry, argv.slice(2));
    case 'config|set':
      return configSet(registry, argv.slice(2));
    case 'config|resetstat':
      registry.stats.connectionsReceived = 0;
      registry.stats.connectionsRejected = 0;
      registry.stats.commandsProcessed = 0;
      return OK;
    case 'config|rewrite':
      // raftis settings come from flags or a JSON file it does not rewrite.
      return error('ERR The server is running without a config file');
    case 'config|help':
      return array(HELP_LINES.map((line) => simple(line)));
    default:
      return error(`ERR unknown subcommand '${name.slice(name.indexOf('|') + 1)}'. Try CONFIG HELP.`);
  }
}
