/** A single `Range: bytes=a-b | a- | -n` against a known size; multi-ranges are ignored (whole blob). */
export type RangeResult = { kind: 'none' } | { kind: 'ok', start: number, end: number } | { kind: 'unsatisfiable' }

const RANGE_RE = /^\s*bytes\s*=\s*(?:(\d+)\s*)?-\s*(?:(\d+)\s*)?$/i

export function parseRange (value: string | undefined, size: number): RangeResult {
  if (value == null) return { kind: 'none' }
  // Each run of spaces can be matched one way only: `\s*(\d*)\s*` let the
  // two runs split one stretch of blanks every way, and a 16 KiB header of
  // them held the event loop for over a second (found by test/fuzz).
  const m = RANGE_RE.exec(value)
  const first = m?.[1] ?? ''
  const last = m?.[2] ?? ''
  if (m == null || (first === '' && last === '')) return { kind: 'none' }
  let start: number
  let end: number
  if (first === '') {
    const n = Number(last)
    if (n === 0) return { kind: 'unsatisfiable' }
    start = Math.max(0, size - n)
    end = size
  } else {
    start = Number(first)
    end = last === '' ? size : Math.min(size, Number(last) + 1)
    if (last !== '' && Number(last) < start) return { kind: 'none' }
  }
  if (start >= size) return { kind: 'unsatisfiable' }
  return { kind: 'ok', start, end }
}
