// Every command the state machine itself executes, by lower-case name: the data commands (routed
// `write` or `read`) plus the few connection and server commands that may run inside a
// transaction (SELECT, PING, ECHO, TIME). Handlers are thin; families share workers.

import type { Handler } from './context.js';
import { KEY_HANDLERS } from './keys.js';
import { STRING_HANDLERS } from './strings.js';

export const HANDLERS: ReadonlyMap<string, Handler> = new Map([...STRING_HANDLERS, ...KEY_HANDLERS]);

/** Whether the state machine can execute this command (as a write, a read, or inside EXEC). */
export function isExecutable(nameLowercase: string): boolean {
  return HANDLERS.has(nameLowercase);
}
