// The HTTP JSON API on the admin port (issue 8; docs/http-api.md):
//   POST   /api/set     {"key","value","ttl_ms"?}       → {"success":true}
//   GET    /api/get?key=K                              → {"value":V,"found":true} | {"found":false}
//   GET    /api/list?prefix=P[&limit=N][&cursor=C]      → {"pairs":[{"key","value"}...]} (+ "cursor" if cut short)
//   DELETE /api/delete?key=K                           → {"success":true}
//   POST   /api/batch   {"set":{K:V...},"delete":[K...]} → {"success":true}, one log entry
//
// It is a thin translation onto the Executor, the same interface RESP connections use: a set is
// the command SET (with PX for a TTL), a get is GET as a linearizable read, a batch is one
// MULTI/EXEC transaction (one log entry, so its keys appear together or not at all). The node
// behind the Executor forwards a follower's commands to the leader (also under --follower-mode
// redirect, whose -MOVED an HTTP client could not follow) and waits for a leader when none is
// known, so every door has the same consistency. Keys and values are the UTF-8 bytes of
// JSON strings; a stored value that is not UTF-8 (written through RESP) reads back with U+FFFD in
// place of its invalid bytes.
//
// With a password (requirepass) every request must carry it, or gets 401 (checkApiAuth).
// Errors are JSON {"error": message}: 400 for bad input, 413 for a body over the admin port's
// bound (admin-http.ts answers that one before any route runs), 503 when there is no leader or
// the node cannot serve for now (CLUSTERDOWN, TRYAGAIN, MISCONF: see statusOfError), 500 for any
// other error the command returns.

import type { Reply } from '../resp/reply.js';
import type { AdminRequest, AdminResponse, AdminRoute } from './admin-http.js';
import type { Executor } from './executor.js';

/** The API works on database 0, as a RESP client does until it SELECTs another. */
const DB = 0;

/** Keys asked for by one SCAN step of /api/list (each step and its MGET is one linearizable read). */
const LIST_SCAN_COUNT = 1000;
/** The most pairs one /api/list response carries unless `limit` asks for fewer. */
export const LIST_PAIRS_MAX = 10_000;
/** /api/list stops after the step that takes its keys and values past this many bytes. */
export const LIST_BYTES_MAX = 16 * 1024 * 1024;

const SET = Buffer.from('SET');
const PX = Buffer.from('PX');
const GET = Buffer.from('GET');
const DEL = Buffer.from('DEL');
const SCAN = Buffer.from('SCAN');
const MATCH = Buffer.from('MATCH');
const COUNT = Buffer.from('COUNT');
const MGET = Buffer.from('MGET');
const SCAN_COUNT = Buffer.from(String(LIST_SCAN_COUNT));

/** Bad client input: becomes a 400 with the message. */
class BadRequest extends Error {}

/** A command's error reply: becomes a 503 or a 500 with the Redis error text. */
class CommandFailed extends Error {}

function ok(body: unknown): AdminResponse {
  return { status: 200, body };
}

/**
 * The status for an error reply. 503 when the cluster or this node cannot serve for now and the
 * request was not applied: no leader (CLUSTERDOWN), leadership moving or a disk failure holding
 * reads (TRYAGAIN), a failed disk refusing writes (MISCONF). Anything else is 500.
 */
export function statusOfError(message: string): number {
  return UNAVAILABLE_CODES.some((code) => message.startsWith(code)) ? 503 : 500;
}

const UNAVAILABLE_CODES = ['CLUSTERDOWN ', 'TRYAGAIN ', 'MISCONF '];

function failure(error: unknown): AdminResponse {
  if (error instanceof BadRequest) return { status: 400, body: { error: error.message } };
  if (error instanceof CommandFailed) {
    const status = statusOfError(error.message);
    return { status, body: { error: error.message }, headers: status === 503 ? { 'retry-after': '1' } : undefined };
  }
  // Anything else is a bug in this file; admin-http.ts would answer 500 too, but say where.
  return { status: 500, body: { error: `internal error: ${error instanceof Error ? error.message : String(error)}` } };
}

/** Runs one executor call as a promise; an error reply rejects with CommandFailed. */
function call(start: (complete: (reply: Reply) => void) => void): Promise<Reply> {
  return new Promise((resolve, reject) => {
    start((reply) => {
      if (reply.kind === 'error') reject(new CommandFailed(reply.value));
      else resolve(reply);
    });
  });
}

function unexpected(command: string, reply: Reply): CommandFailed {
  return new CommandFailed(`ERR unexpected reply to ${command}: ${reply.kind}`);
}

// ---------------------------------------------------------------------------------------------
// Input

function parseJsonObject(request: AdminRequest): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(request.body.toString('utf8'));
  } catch (error) {
    throw new BadRequest(`the body is not valid JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new BadRequest('the body must be a JSON object');
  return parsed as Record<string, unknown>;
}

/** Rejects fields the endpoint does not know, so a misspelt `ttl` is not silently ignored. */
function onlyFields(body: Record<string, unknown>, allowed: readonly string[]): void {
  for (const field of Object.keys(body)) {
    if (!allowed.includes(field)) throw new BadRequest(`unknown field "${field}" (expected ${allowed.map((name) => `"${name}"`).join(', ')})`);
  }
}

function stringField(body: Record<string, unknown>, field: string): string {
  const value = body[field];
  if (value === undefined) throw new BadRequest(`missing field "${field}"`);
  if (typeof value !== 'string') throw new BadRequest(`"${field}" must be a string, not ${jsonType(value)}`);
  return value;
}

function jsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

/** Exactly one occurrence of a query parameter (absent is `undefined` when optional). */
function queryParam(request: AdminRequest, name: string, required: true): string;
function queryParam(request: AdminRequest, name: string, required: false): string | undefined;
function queryParam(request: AdminRequest, name: string, required: boolean): string | undefined {
  const values = request.url.searchParams.getAll(name);
  if (values.length > 1) throw new BadRequest(`query parameter "${name}" given ${values.length} times`);
  if (values.length === 0 && required) throw new BadRequest(`missing query parameter "${name}"`);
  return values[0];
}

function positiveInteger(text: string, what: string, max: number): number {
  if (!/^[0-9]+$/.test(text)) throw new BadRequest(`${what} must be a positive integer`);
  const value = Number(text);
  if (value < 1 || value > max) throw new BadRequest(`${what} must be between 1 and ${max}`);
  return value;
}

/** The ASCII bytes Redis's glob matcher treats specially; UTF-8 continuation bytes never are. */
const GLOB_SPECIAL = new Set([0x2a /* * */, 0x3f /* ? */, 0x5b /* [ */, 0x5d /* ] */, 0x5c /* \ */]);

/** A SCAN MATCH pattern that matches exactly the keys starting with `prefix`'s bytes. */
export function prefixPattern(prefix: Buffer): Buffer {
  const out: number[] = [];
  for (const byte of prefix) {
    if (GLOB_SPECIAL.has(byte)) out.push(0x5c);
    out.push(byte);
  }
  out.push(0x2a);
  return Buffer.from(out);
}

// ---------------------------------------------------------------------------------------------
// Routes

const UNAUTHORIZED_HEADERS = { 'www-authenticate': 'Basic realm="raftis", charset="UTF-8"' };

/**
 * With a password (`requirepass`, read at each request so CONFIG SET takes effect at once), a
 * request must carry it: `Authorization: Bearer <password>`, or Basic with the user `default`
 * (or none, as `curl -u :<password>` sends) and the password, checked in constant time like AUTH.
 * Returns the 401 to send, or undefined when the request may go on.
 */
export function checkApiAuth(request: AdminRequest, requirepass: string | null, authenticate: (username: Buffer, password: Buffer) => boolean): AdminResponse | undefined {
  if (requirepass === null) return undefined;
  const header = request.headers.authorization;
  if (header === undefined) {
    return { status: 401, body: { error: 'NOAUTH Authentication required: send the password as "Authorization: Bearer <password>" or Basic auth' }, headers: UNAUTHORIZED_HEADERS };
  }
  // The credentials are everything after the scheme: a password may contain spaces.
  const space = header.indexOf(' ');
  const scheme = space < 0 ? header : header.slice(0, space);
  const credentials = space < 0 ? '' : header.slice(space + 1);
  let username = 'default';
  let password: string | undefined;
  if (scheme.toLowerCase() === 'bearer') {
    password = credentials;
  } else if (scheme.toLowerCase() === 'basic') {
    const decoded = Buffer.from(credentials, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon >= 0) {
      username = decoded.slice(0, colon) === '' ? 'default' : decoded.slice(0, colon);
      password = decoded.slice(colon + 1);
    }
  }
  if (password === undefined) {
    return { status: 401, body: { error: 'NOAUTH the Authorization header must be "Bearer <password>" or Basic' }, headers: UNAUTHORIZED_HEADERS };
  }
  if (!authenticate(Buffer.from(username, 'utf8'), Buffer.from(password, 'utf8'))) {
    return { status: 401, body: { error: 'WRONGPASS invalid username-password pair or user is disabled.' }, headers: UNAUTHORIZED_HEADERS };
  }
  return undefined;
}

/** Who may use the API: the node's current password and the check AUTH uses. */
export interface ApiAccess {
  readonly requirepass: () => string | null;
  readonly authenticate: (username: Buffer, password: Buffer) => boolean;
}

/** The API's routes over an executor (the node), for startAdminHttp's extra routes. */
export function httpApiRoutes(executor: Executor, access: ApiAccess): Map<string, AdminRoute> {
  // `forward`: an HTTP client cannot follow a -MOVED, so a follower forwards to the leader
  // whatever --follower-mode says.
  const write = (argv: readonly Buffer[]): Promise<Reply> => call((complete) => executor.write(DB, argv, { complete, forward: true }));
  const read = (argv: readonly Buffer[]): Promise<Reply> =>
    call((complete) => executor.read(DB, argv, 'linearizable', { complete, forward: true }));
  const transaction = (commands: readonly (readonly Buffer[])[]): Promise<Reply> =>
    call((complete) => executor.transaction(DB, commands, [], { complete, forward: true }));

  async function set(request: AdminRequest): Promise<AdminResponse> {
    const body = parseJsonObject(request);
    onlyFields(body, ['key', 'value', 'ttl_ms']);
    const argv = [SET, Buffer.from(stringField(body, 'key'), 'utf8'), Buffer.from(stringField(body, 'value'), 'utf8')];
    const ttlMs = body.ttl_ms;
    if (ttlMs !== undefined && ttlMs !== null) {
      if (typeof ttlMs !== 'number' || !Number.isSafeInteger(ttlMs) || ttlMs < 1) {
        throw new BadRequest('"ttl_ms" must be a positive integer number of milliseconds');
      }
      argv.push(PX, Buffer.from(String(ttlMs)));
    }
    const reply = await write(argv);
    if (reply.kind !== 'simple') throw unexpected('SET', reply);
    return ok({ success: true });
  }

  async function get(request: AdminRequest): Promise<AdminResponse> {
    const key = queryParam(request, 'key', true);
    const reply = await read([GET, Buffer.from(key, 'utf8')]);
    if (reply.kind === 'null') return ok({ found: false });
    if (reply.kind !== 'bulk') throw unexpected('GET', reply);
    return ok({ value: reply.value.toString('utf8'), found: true });
  }

  async function remove(request: AdminRequest): Promise<AdminResponse> {
    const key = queryParam(request, 'key', true);
    const reply = await write([DEL, Buffer.from(key, 'utf8')]);
    if (reply.kind !== 'integer') throw unexpected('DEL', reply);
    return ok({ success: true });
  }

  /**
   * SCAN steps with MATCH <prefix>*, each followed by an MGET of the keys it found. Each step is
   * linearizable, but the listing as a whole is not a point-in-time view: like SCAN, it returns
   * every key present for the whole listing, and a key deleted between its SCAN and its MGET is
   * left out.
   */
  async function list(request: AdminRequest): Promise<AdminResponse> {
    const pattern = prefixPattern(Buffer.from(queryParam(request, 'prefix', false) ?? '', 'utf8'));
    const limitText = queryParam(request, 'limit', false);
    const limit = limitText === undefined ? LIST_PAIRS_MAX : positiveInteger(limitText, '"limit"', LIST_PAIRS_MAX);
    const cursorText = queryParam(request, 'cursor', false) ?? '0';
    if (!/^[0-9]+$/.test(cursorText)) throw new BadRequest('"cursor" must be a cursor returned by an earlier /api/list');
    let cursor: Buffer = Buffer.from(cursorText);
    const pairs = new Map<string, string>();
    let bytes = 0;
    do {
      const reply = await read([SCAN, cursor, MATCH, pattern, COUNT, SCAN_COUNT]);
      const [next, found] = reply.kind === 'array' ? reply.value : [];
      if (next?.kind !== 'bulk' || found?.kind !== 'array') throw unexpected('SCAN', reply);
      cursor = next.value;
      // SCAN may return a key twice; an MGET of nothing is an arity error.
      const keys = found.value.flatMap((key) => (key.kind === 'bulk' && !pairs.has(key.value.toString('utf8')) ? [key.value] : []));
      if (keys.length === 0) continue;
      const values = await read([MGET, ...keys]);
      if (values.kind !== 'array' || values.value.length !== keys.length) throw unexpected('MGET', values);
      values.value.forEach((value, k) => {
        if (value.kind !== 'bulk') return;
        const key = keys[k] as Buffer;
        pairs.set(key.toString('utf8'), value.value.toString('utf8'));
        bytes += key.length + value.value.length;
      });
    } while (cursor.toString() !== '0' && pairs.size < limit && bytes < LIST_BYTES_MAX);
    const sorted = [...pairs].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([key, value]) => ({ key, value }));
    const more = cursor.toString() !== '0';
    return ok(more ? { pairs: sorted, cursor: cursor.toString() } : { pairs: sorted });
  }

  /** Sets and deletes as one MULTI/EXEC transaction: one log entry, all or nothing. */
  async function batch(request: AdminRequest): Promise<AdminResponse> {
    const body = parseJsonObject(request);
    onlyFields(body, ['set', 'delete']);
    const sets = body.set ?? {};
    const deletes = body.delete ?? [];
    if (typeof sets !== 'object' || sets === null || Array.isArray(sets)) throw new BadRequest(`"set" must be an object of key to value, not ${jsonType(sets)}`);
    if (!Array.isArray(deletes)) throw new BadRequest(`"delete" must be an array of keys, not ${jsonType(deletes)}`);
    const commands: Buffer[][] = [];
    for (const [key, value] of Object.entries(sets)) {
      if (typeof value !== 'string') throw new BadRequest(`"set" value of "${key}" must be a string, not ${jsonType(value)}`);
      commands.push([SET, Buffer.from(key, 'utf8'), Buffer.from(value, 'utf8')]);
    }
    const deleted: Buffer[] = [];
    for (const key of deletes) {
      if (typeof key !== 'string') throw new BadRequest(`"delete" keys must be strings, not ${jsonType(key)}`);
      // The order of a set and a delete of one key would decide the outcome: refuse to guess.
      if (Object.hasOwn(sets, key)) throw new BadRequest(`key "${key}" is both set and deleted`);
      deleted.push(Buffer.from(key, 'utf8'));
    }
    if (deleted.length > 0) commands.push([DEL, ...deleted]);
    const reply = await transaction(commands);
    if (reply.kind !== 'array' || reply.value.length !== commands.length) throw unexpected('EXEC', reply);
    const failed = reply.value.find((item) => item.kind === 'error');
    if (failed?.kind === 'error') throw new CommandFailed(failed.value);
    return ok({ success: true });
  }

  const guard = (handler: (request: AdminRequest) => Promise<AdminResponse>): AdminRoute =>
    (request) => checkApiAuth(request, access.requirepass(), access.authenticate) ?? handler(request).catch(failure);
  return new Map<string, AdminRoute>([
    ['POST /api/set', guard(set)],
    ['GET /api/get', guard(get)],
    ['GET /api/list', guard(list)],
    ['DELETE /api/delete', guard(remove)],
    ['POST /api/batch', guard(batch)],
  ]);
}
