/** A single `Range: bytes=a-b | a- | -n` against a known size; multi-ranges are ignored (whole blob). */
export type RangeResult = { kind: 'none' } | { kind: 'ok', start: number, end: number } | { kind: 'unsatisfiable' }

export function parseRange (value: string | undefined, size: number): RangeResult {
  if (value == null) return { kind: 'none' }
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(value)
  if (m == null || (m[1] === '' && m[2] === '')) return { kind: 'none' }
  let start: number
  let end: number
  if (m[1] === '') {
    const n = Number(m[2])
    if (n === 0) return { kind: 'unsatisfiable' }
    start = Math.max(0, size - n)
    end = size
  } else {
    start = Number(m[1])
    end = m[2] === '' ? size : Math.min(size, Number(m[2]) + 1)
    if (m[2] !== '' && Number(m[2]) < start) return { kind: 'none' }
  }
  if (start >= size) return { kind: 'unsatisfiable' }
  return { kind: 'ok', start, end }
}
