// Test helper: turns a list of differential cases into a vitest suite. One redis-server and one
// raftis target are started per distinct settings group and shared by its cases (each case starts
// from FLUSHALL with no other connection, see differential.ts). The subject defaults to the
// standalone server; RAFTIS_TARGET=host:port points the suites at a running raftis instead, and
// the node driver's cluster tests pass their own factory:
//
//   describeDifferential('differential: cluster', HAND_WRITTEN_CASES, { name: 'cluster', factory: startClusterTarget });
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { groupByOptions, runCase, type DifferentialCase } from './differential.js';
import {
  externalTargetFactory, REDIS_MISSING_MESSAGE, redisServerAvailable, startRedisTarget, startStandaloneTarget,
  type Target, type TargetFactory, type TargetOptions,
} from './targets.js';

export interface Subject {
  readonly name: string;
  readonly factory: TargetFactory;
  /** Whether the subject can run with these settings (an external server only has its own). */
  readonly supports?: (options: TargetOptions) => boolean;
}

export function subjectFromEnvironment(): Subject {
  const address = process.env['RAFTIS_TARGET'];
  if (address !== undefined && address !== '') {
    const external = externalTargetFactory(address);
    return { name: `raftis at ${address}`, factory: external.factory, supports: external.supports };
  }
  return { name: 'raftis standalone', factory: startStandaloneTarget };
}

export function describeDifferential(title: string, cases: readonly DifferentialCase[], subject: Subject = subjectFromEnvironment()): void {
  if (!redisServerAvailable()) {
    describe.skip(`${title} (${REDIS_MISSING_MESSAGE})`, () => {
      it('needs redis-server', () => undefined);
    });
    return;
  }
  describe(`${title}: ${subject.name} against redis-server`, () => {
    for (const [key, group] of groupByOptions(cases)) {
      const supported = subject.supports?.(group.options) ?? true;
      const suite = supported ? describe : describe.skip;
      suite(key === '{}' ? 'default settings' : `settings ${key}`, () => {
        let reference: Target | undefined;
        let target: Target | undefined;
        beforeAll(async () => {
          [reference, target] = await Promise.all([startRedisTarget(group.options), subject.factory(group.options)]);
        });
        afterAll(async () => {
          await Promise.all([reference?.stop(), target?.stop()]);
        });
        for (const testCase of group.cases) {
          it(testCase.name, async () => {
            const expected = await runCase(reference!, testCase);
            const actual = await runCase(target!, testCase);
            expect(actual).toEqual(expected);
          });
        }
      });
    }
  });
}
