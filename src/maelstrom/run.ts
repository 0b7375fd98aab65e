// The process shell of a Maelstrom node: newline-delimited JSON on stdin, replies and peer
// messages on stdout, logs on stderr, and the process clock for Raft ticks and deadlines.
//
// Input lines that arrive together are handled in one event-loop turn before the Ready loop
// runs once for all of them, so a burst of reads shares one ReadIndex heartbeat round and a
// burst of writes one append per follower. Output is written once per turn.
//
// When stdin closes (Maelstrom is done, or a piped script ended), the node stops taking input
// and exits once every request it holds has been answered or has timed out, so
// `printf '...' | raftis maelstrom` prints its replies and returns.
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { MaelstromNode, defaultMaelstromNodeOptions, type MaelstromLogger, type MaelstromNodeOptions } from './node.js';
import { MaelstromProtocolError, parseEnvelope, type Envelope } from './protocol.js';

export interface RunMaelstromOptions extends MaelstromNodeOptions {
  /** Milliseconds per Raft tick. */
  readonly tickMs: number;
}

export const defaultRunMaelstromOptions: RunMaelstromOptions = { ...defaultMaelstromNodeOptions, tickMs: 25 };

export interface MaelstromStreams {
  readonly input: Readable;
  readonly output: Writable;
  readonly errors: Writable;
}

/** One JSON line per event on the given stream (stderr: Maelstrom keeps it as the node's log). */
export function jsonLineLogger(stream: Writable): MaelstromLogger {
  const write = (level: string, fields: object, message: string): void => {
    stream.write(`${JSON.stringify({ level, time: new Date().toISOString(), component: 'maelstrom', ...fields, msg: message })}\n`);
  };
  return {
    info: (fields, message) => write('info', fields, message),
    warn: (fields, message) => write('warn', fields, message),
  };
}

/** Runs a node until its input closes and nothing is left to answer. */
export function runMaelstrom(
  options: RunMaelstromOptions,
  streams: MaelstromStreams = { input: process.stdin, output: process.stdout, errors: process.stderr },
): Promise<void> {
  const log = jsonLineLogger(streams.errors);
  let outgoing: string[] = [];
  const node = new MaelstromNode(options, {
    send: (envelope: Envelope) => outgoing.push(JSON.stringify(envelope)),
    now: () => performance.now(),
    log,
  });
  const writeOutgoing = (): void => {
    if (outgoing.length === 0) return;
    streams.output.write(`${outgoing.join('\n')}\n`);
    outgoing = [];
  };

  return new Promise((resolve) => {
    let inputClosed = false;
    let stepScheduled = false;
    let finished = false;
    const step = (): void => {
      stepScheduled = false;
      if (finished) return;
      node.flush();
      writeOutgoing();
      if (inputClosed && node.outstanding() === 0) {
        finished = true;
        clearInterval(timer);
        log.info({ node: node.name ?? null }, 'input closed and every request answered; exiting');
        resolve();
      }
    };
    const scheduleStep = (): void => {
      if (stepScheduled) return;
      stepScheduled = true;
      setImmediate(step);
    };
    const timer = setInterval(() => {
      node.tick();
      step();
    }, options.tickMs);

    const lines = createInterface({ input: streams.input, crlfDelay: Infinity });
    lines.on('line', (line) => {
      if (line.trim() === '') return;
      let envelope: Envelope;
      try {
        envelope = parseEnvelope(line);
      } catch (error) {
        if (!(error instanceof MaelstromProtocolError)) throw error;
        log.warn({ code: error.code, error: error.message, line: line.slice(0, 200) }, 'ignoring an unreadable input line');
        return;
      }
      node.receive(envelope);
      scheduleStep();
    });
    lines.on('close', () => {
      inputClosed = true;
      scheduleStep();
    });
  });
}
