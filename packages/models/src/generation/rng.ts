// A small, well-known seeded PRNG so that the same seed gives the same draws on every platform and
// Node version: xoshiro128** 1.1 (Blackman & Vigna), 32-bit arithmetic only (Math.imul, >>>), its
// 128-bit state filled from a 64-bit seed by SplitMix64, as the authors recommend. State words:
// s0 = low and s1 = high half of SplitMix64's first output, s2/s3 likewise of its second.

import { InvalidArgumentError } from '@bminf/core';

const MASK64 = (1n << 64n) - 1n;

function splitMix64(state: { x: bigint }): bigint {
  state.x = (state.x + 0x9e3779b97f4a7c15n) & MASK64;
  let z = state.x;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK64;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK64;
  return z ^ (z >> 31n);
}

const rotl = (x: number, k: number): number => (x << k) | (x >>> (32 - k));

export class Xoshiro128StarStar {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  /** Seeds from any safe integer (negative ones are taken modulo 2^64). */
  constructor(seed: number) {
    if (!Number.isSafeInteger(seed)) {
      throw new InvalidArgumentError(`Expected the seed to be a safe integer but received ${seed}.`);
    }
    const state = { x: BigInt.asUintN(64, BigInt(seed)) };
    const a = splitMix64(state);
    const b = splitMix64(state);
    this.s0 = Number(a & 0xffffffffn) | 0;
    this.s1 = Number(a >> 32n) | 0;
    this.s2 = Number(b & 0xffffffffn) | 0;
    this.s3 = Number(b >> 32n) | 0;
  }

  /** The next 32-bit output, as an unsigned integer. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9);
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result >>> 0;
  }

  /** A double uniform in [0, 1) with 53 random bits (from two outputs). */
  nextFloat64(): number {
    const hi = this.nextUint32() >>> 5; // 27 bits
    const lo = this.nextUint32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }
}

/** A random safe integer from the operating system's CSPRNG, for runs without a seed. */
export function randomSeed(): number {
  const words = crypto.getRandomValues(new Uint32Array(2));
  return (words[0] & 0x1fffff) * 4294967296 + words[1]; // 53 bits
}
