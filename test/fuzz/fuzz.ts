/**
 * Shared settings of the property-based tests (fast-check): a fixed seed so
 * a failure is the same on every machine, and a bounded number of runs so
 * the whole folder stays within a few seconds of `npm test`. To explore
 * further by hand: FUZZ_SEED=<n> FUZZ_RUNS=<n> npx vitest run test/fuzz.
 */
import { expect } from 'vitest'
import type { Parameters } from 'fast-check'

export const FUZZ_SEED = Number(process.env.FUZZ_SEED ?? 0x5eed)
export const FUZZ_RUNS = Number(process.env.FUZZ_RUNS ?? 500)

export function params<T> (runs = FUZZ_RUNS): Parameters<T> {
  return { seed: FUZZ_SEED, numRuns: runs, endOnFailure: true }
}

/** Runs `fn`; it may return, or throw an Error whose `.name` is one of `names` — nothing else. */
export function onlyTyped<T> (fn: () => T, names: readonly string[]): T | undefined {
  try {
    return fn()
  } catch (err) {
    expect(err).toBeInstanceOf(Error)
    expect(names).toContain((err as Error).name)
    return undefined
  }
}

export async function onlyTypedAsync<T> (fn: () => Promise<T>, names: readonly string[]): Promise<T | undefined> {
  try {
    return await fn()
  } catch (err) {
    expect(err).toBeInstanceOf(Error)
    expect(names).toContain((err as Error).name)
    return undefined
  }
}

/** Milliseconds `fn` takes (synchronous parsers: a slow one blocks the event loop for everyone). */
export function timed (fn: () => unknown): number {
  const t0 = performance.now()
  try { fn() } catch {}
  return performance.now() - t0
}

/** Longest input a header can carry through Node's HTTP parser (16 KiB). */
export const HEADER_BYTES = 16 * 1024
/** Time any parser may take on one header-sized input. Generous for a busy 2-core CI box; the bugs took over 1000 ms. */
export const PARSE_BUDGET_MS = 100
