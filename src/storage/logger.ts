// The logging interface storage needs: the subset of pino's API it calls, so the server can pass
// its pino logger (or a child of it) and tests can pass a recorder.

export interface StorageLogger {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

/**
 * The default when no logger is given: one JSON line per event on stderr. Storage never drops or
 * repairs anything without saying so, so there is no silent default.
 */
export const stderrLogger: StorageLogger = {
  info: (fields, message) => writeLine('info', fields, message),
  warn: (fields, message) => writeLine('warn', fields, message),
  error: (fields, message) => writeLine('error', fields, message),
};

function writeLine(level: string, fields: object, message: string): void {
  process.stderr.write(`${JSON.stringify({ level, component: 'storage', ...fields, msg: message })}\n`);
}
