import { ConfigError } from '../errors.js'

/**
 * Byte sizes as people write them. Units (case-insensitive, optional space
 * between number and unit):
 *
 * - binary, IEC: `KiB` `MiB` `GiB` `TiB` = 1024^1..4
 * - decimal, SI: `KB` `MB` `GB` `TB` = 1000^1..4
 * - shorthand `K` `M` `G` `T` = binary (1024^n), as in `ulimit`, `dd`, and
 *   Kubernetes' habit of people meaning GiB when they type G
 * - `B` or no unit: bytes
 *
 * Fractions are allowed (`1.5G`); the result is rounded down to whole bytes.
 */
const UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1024,
  m: 1024 ** 2,
  g: 1024 ** 3,
  t: 1024 ** 4,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  tib: 1024 ** 4,
  kb: 1000,
  mb: 1000 ** 2,
  gb: 1000 ** 3,
  tb: 1000 ** 4
}

const SIZE_RE = /^\s*(\d+(?:\.\d+)?|\.\d+)\s*([a-z]*)\s*$/i

/** Parses `10GiB`, `500MB`, `1.5G`, `4096` (bytes). Throws ConfigError naming `what`. */
export function parseSize (input: string | number, what = ''): number {
  const at = what === '' ? '' : `${what}: `
  if (typeof input === 'number') {
    if (!Number.isFinite(input) || input < 0) throw new ConfigError(`${at}expected a byte size like 10GiB, 500MB or 1048576, got ${input}`)
    // Same bound as the string form (found by test/fuzz: 3.2e82 was taken as a size).
    if (!Number.isSafeInteger(Math.floor(input))) throw new ConfigError(`${at}${input} is too large`)
    return Math.floor(input)
  }
  const m = SIZE_RE.exec(input)
  const mult = m == null ? undefined : UNITS[m[2].toLowerCase()]
  if (m == null || mult == null) {
    throw new ConfigError(`${at}expected a byte size like 10GiB, 500MB or 1048576, got ${JSON.stringify(input)}`)
  }
  const n = Math.floor(Number(m[1]) * mult)
  if (!Number.isSafeInteger(n)) throw new ConfigError(`${at}${JSON.stringify(input)} is too large`)
  return n
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }
/**
 * Longest duration: what a Node timer can wait (about 24.8 days). Node runs
 * a longer timer after 1 ms instead, so `gcInterval: 1e9` would have run
 * the GC back to back (found by test/fuzz).
 */
export const MAX_DURATION_MS = 2 ** 31 - 1

/** Parses `500ms`, `30s`, `10m`, `1h` to milliseconds; a plain number is seconds. */
export function parseDuration (input: string | number, what = ''): number {
  const at = what === '' ? '' : `${what}: `
  if (typeof input === 'number') {
    if (!Number.isFinite(input) || input < 0) throw new ConfigError(`${at}expected a duration like 30s or 10m, got ${input}`)
    return capDuration(input * 1000, at, String(input))
  }
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/i.exec(input)
  if (m == null) throw new ConfigError(`${at}expected a duration like 30s, 10m or 1h, got ${JSON.stringify(input)}`)
  return capDuration(Math.floor(Number(m[1]) * DURATION_UNITS[(m[2] ?? 's').toLowerCase()]), at, JSON.stringify(input))
}

function capDuration (ms: number, at: string, shown: string): number {
  if (!(ms <= MAX_DURATION_MS)) throw new ConfigError(`${at}${shown} is longer than the longest timer, ${MAX_DURATION_MS} ms (24.8 days)`)
  return ms
}

/** `1536` → `1.5 KiB`: binary units, for humans. */
export function formatBytes (n: number): string {
  if (!Number.isFinite(n)) return String(n)
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let i = 0
  let v = n
  while (Math.abs(v) >= 1024 && i < units.length - 1) { v /= 1024; i++ }
  return i === 0 ? `${v} B` : `${v.toFixed(v < 10 ? 2 : 1)} ${units[i]}`
}
