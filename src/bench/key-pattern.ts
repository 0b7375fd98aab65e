// Key choice, as memtier_benchmark defines it (obj_gen.cpp, client.cpp):
// - R: uniformly random in [min, max];
// - G: Gaussian around the median (default the middle of the range) with a standard deviation
//   of (max - min) / 6 unless given, redrawn until it falls inside the range;
// - S: sequential from min, wrapping to min after max; the SET side and the GET side keep
//   separate cursors, and every client walks the whole range on its own;
// - P: parallel, i.e. sequential over the client's own slice: the range is split into
//   `clients * threads` consecutive slices and the last client takes the leftover. As in
//   memtier it is the SET side's letter that decides whether the slices apply, and then they
//   narrow every choice of that client, GET side included.
// A key is the prefix followed by the decimal key index ("memtier-4711").

import type { KeyPattern, KeyPatternLetter } from './options.js';
import { Random } from './random.js';

export interface KeyRange {
  readonly minimum: number;
  readonly maximum: number;
}

/** The slice of [minimum, maximum] that client `clientIndex` of `clientCount` owns under P. */
export function parallelKeyRange(minimum: number, maximum: number, clientIndex: number, clientCount: number): KeyRange {
  if (!(clientIndex >= 0 && clientIndex < clientCount)) {
    throw new Error(`client index ${clientIndex} is outside [0, ${clientCount})`);
  }
  const span = Math.floor((maximum - minimum) / clientCount) + 1;
  const sliceMinimum = minimum + span * clientIndex;
  const sliceMaximum = clientIndex === clientCount - 1 ? maximum : sliceMinimum + span - 1;
  return { minimum: sliceMinimum, maximum: sliceMaximum };
}

export interface KeyGeneratorConfig {
  readonly keyMinimum: number;
  readonly keyMaximum: number;
  readonly keyPattern: KeyPattern;
  readonly keyStddev: number;
  readonly keyMedian: number;
}

/** The Marsaglia polar method, keeping the spare deviate as memtier's gaussian_noise does. */
class Gaussian {
  private spare = 0;
  private hasSpare = false;

  constructor(private readonly random: Random) {}

  next(stddev: number): number {
    if (this.hasSpare) {
      this.hasSpare = false;
      return stddev * this.spare;
    }
    let u: number;
    let v: number;
    let s: number;
    do {
      u = this.random.nextDouble() * 2 - 1;
      v = this.random.nextDouble() * 2 - 1;
      s = u * u + v * v;
    } while (s >= 1 || s === 0);
    const scale = Math.sqrt((-2 * Math.log(s)) / s);
    this.spare = v * scale;
    this.hasSpare = true;
    return stddev * u * scale;
  }
}

/** One client's key sequence. Pure: the same config, client and seed give the same keys. */
export class KeyGenerator {
  readonly range: KeyRange;
  private readonly random: Random;
  private readonly gaussian: Gaussian;
  private readonly stddev: number;
  private readonly median: number;
  /** Next key of the sequential SET and GET cursors; each stays within `range`. */
  private nextSetIndex: number;
  private nextGetIndex: number;

  constructor(
    private readonly config: KeyGeneratorConfig,
    clientIndex: number,
    clientCount: number,
    seed: number,
  ) {
    this.range =
      config.keyPattern.set === 'P'
        ? parallelKeyRange(config.keyMinimum, config.keyMaximum, clientIndex, clientCount)
        : { minimum: config.keyMinimum, maximum: config.keyMaximum };
    this.random = new Random(seed);
    this.gaussian = new Gaussian(this.random);
    const length = this.range.maximum - this.range.minimum;
    this.median = config.keyMedian !== 0 ? config.keyMedian : length / 2 + this.range.minimum + 0.5;
    this.stddev = config.keyStddev !== 0 ? config.keyStddev : length / 6;
    this.nextSetIndex = this.range.minimum;
    this.nextGetIndex = this.range.minimum;
  }

  nextSetKey(): number {
    return this.next(this.config.keyPattern.set, true);
  }

  nextGetKey(): number {
    return this.next(this.config.keyPattern.get, false);
  }

  private next(letter: KeyPatternLetter, setSide: boolean): number {
    const { minimum, maximum } = this.range;
    switch (letter) {
      case 'R':
        return this.random.nextIntInclusive(minimum, maximum);
      case 'G':
        return this.nextGaussian(minimum, maximum);
      case 'S':
      case 'P': {
        const index = setSide ? this.nextSetIndex : this.nextGetIndex;
        const following = index >= maximum ? minimum : index + 1;
        if (setSide) this.nextSetIndex = following;
        else this.nextGetIndex = following;
        return index;
      }
      default: {
        const unknown: never = letter;
        throw new Error(`unknown key pattern ${String(unknown)}`);
      }
    }
  }

  private nextGaussian(minimum: number, maximum: number): number {
    if (minimum === maximum) return minimum;
    let value: number;
    do {
      value = this.gaussian.next(this.stddev) + this.median;
    } while (value < minimum || value > maximum + 1);
    // memtier truncates to an integer, which can land on maximum + 1 itself; keep to the range.
    return Math.min(Math.floor(value), maximum);
  }
}

/**
 * The SET/GET interleaving of `--ratio a:b`: a SETs, then b GETs, then again (client.cpp,
 * create_request). Kept apart from key choice so that both are testable alone.
 */
export class RatioCycle {
  private setCount = 0;
  private getCount = 0;

  constructor(
    private readonly sets: number,
    private readonly gets: number,
  ) {
    if (sets + gets <= 0) throw new Error(`ratio ${sets}:${gets} sends nothing`);
  }

  /** True for a SET, false for a GET. */
  nextIsSet(): boolean {
    if (this.setCount >= this.sets && this.getCount >= this.gets) {
      this.setCount = 0;
      this.getCount = 0;
    }
    if (this.setCount < this.sets) {
      this.setCount++;
      return true;
    }
    this.getCount++;
    return false;
  }
}
