// The linearizability checker: the public surface. The simulator and the nemesis harness call
// `checkOperations` with operations they recorded; the CLI reads a file with `checkHistory`.

import { checkOperations } from './checker.js';
import { eventsToOperations, type HistoryEvent } from './history.js';
import { kvFunctions, models, registerFunctions, type KvOperation, type ModelName } from './models.js';
import { parseJepsenKvHistory, parseJepsenRegisterHistory } from './parse-jepsen.js';
import { parseJsonHistory } from './parse-json.js';
import type { CheckOptions, CheckResult } from './types.js';
import type { KvInput, KvOutput } from './models.js';

export { checkOperations, hashString } from './checker.js';
export { eventsToOperations, HistoryError } from './history.js';
export type { EventType, HistoryErrorCode, HistoryEvent } from './history.js';
export {
  describeKvOperation,
  describeValue,
  kvFunctions,
  kvModel,
  models,
  partitionByKey,
  registerFunctions,
  registerModel,
} from './models.js';
export type { KvFunction, KvInput, KvModel, KvOperation, KvOutput, ModelName, Value } from './models.js';
export { parseJepsenKvHistory, parseJepsenRegisterHistory } from './parse-jepsen.js';
export { parseJsonHistory } from './parse-json.js';
export type { CheckOptions, CheckResult, Counterexample, Model, Operation, Partition } from './types.js';

export const historyFormats = ['json', 'jepsen-register', 'jepsen-kv'] as const;
export type HistoryFormat = (typeof historyFormats)[number];

/** Reads a history in one of the supported formats into events; throws HistoryError. */
export function parseHistory(text: string, format: HistoryFormat): HistoryEvent[] {
  switch (format) {
    case 'json':
      return parseJsonHistory(text);
    case 'jepsen-register':
      return parseJepsenRegisterHistory(text);
    case 'jepsen-kv':
      return parseJepsenKvHistory(text);
    default:
      return assertNever(format);
  }
}

/** The operations of a history, checked against what `model` supports; throws HistoryError. */
export function parseOperations(text: string, format: HistoryFormat, model: ModelName): KvOperation[] {
  const functions = model === 'register' ? registerFunctions : kvFunctions;
  return eventsToOperations(parseHistory(text, format), functions);
}

/** Parses and checks a history in one call; throws HistoryError when it cannot be read. */
export function checkHistory(
  text: string,
  format: HistoryFormat,
  model: ModelName,
  options: CheckOptions = {},
): CheckResult<KvInput, KvOutput> {
  return checkOperations(models[model], parseOperations(text, format, model), options);
}

function assertNever(value: never): never {
  throw new Error(`unreachable: ${JSON.stringify(value)}`);
}
