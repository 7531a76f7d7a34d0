/**
 * The core takes its randomness (election timeout jitter) from an injected generator, so a run is
 * a pure function of its seed. SplitMix32-style mixing over a 32-bit state: small, fast and good
 * enough for jitter and fault schedules (not for cryptography).
 */
export interface Prng {
  /** A uniformly distributed integer in [0, 2^32). */
  nextUint32(): number;
}

export class SeededPrng implements Prng {
  private state: number;

  constructor(seed: number) {
    if (!Number.isInteger(seed)) throw new RangeError(`seed must be an integer, got ${seed}`);
    this.state = seed >>> 0;
  }

  nextUint32(): number {
    this.state = (this.state + 0x9e3779b9) >>> 0;
    let z = this.state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  }
}

/** A uniformly distributed integer in [0, bound). */
export function randomBelow(prng: Prng, bound: number): number {
  if (!Number.isInteger(bound) || bound <= 0) throw new RangeError(`bound must be a positive integer, got ${bound}`);
  return Math.floor((prng.nextUint32() / 0x1_0000_0000) * bound);
}

/** True with probability `p`. */
export function chance(prng: Prng, p: number): boolean {
  return prng.nextUint32() / 0x1_0000_0000 < p;
}
