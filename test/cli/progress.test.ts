/** The status line is cut to the terminal's width (unit: fitLine, and the bar drawn into a narrow fake terminal). */
import { Writable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { createProgress, DEFAULT_COLUMNS, fitLine } from '../../src/cli/progress.js'

describe('fitLine', () => {
  it('leaves a line that fits, with a column to spare, as it is', () => {
    expect(fitLine('abc', 10)).toBe('abc')
    expect(fitLine('x'.repeat(9), 10)).toBe('x'.repeat(9))
  })

  it('cuts a longer line to one column less than the width, ending in an ellipsis', () => {
    const out = fitLine('x'.repeat(10), 10)
    expect([...out]).toHaveLength(9)
    expect(out.endsWith('…')).toBe(true)
    expect([...fitLine('y'.repeat(500), 40)]).toHaveLength(39)
  })

  it('counts characters, not UTF-16 units', () => {
    expect(fitLine('é'.repeat(9), 10)).toBe('é'.repeat(9))
  })

  it('uses 80 columns when the stream tells none, and gives nothing to a 1-column terminal', () => {
    expect([...fitLine('z'.repeat(200), undefined)]).toHaveLength(DEFAULT_COLUMNS - 1)
    expect(fitLine('abc', 1)).toBe('')
  })
})

/** A stream that looks like a terminal `columns` wide and keeps what is written. */
function fakeTerminal (columns: number): NodeJS.WriteStream & { text: () => string } {
  let text = ''
  const s = new Writable({ write (chunk, _enc, cb) { text += String(chunk); cb() } }) as any
  s.isTTY = true
  s.columns = columns
  s.cursorTo = (x: number, _y: unknown, cb?: () => void) => { text += `\x1b[${x + 1}G`; cb?.(); return true }
  s.clearLine = (_dir: number, cb?: () => void) => { text += '\x1b[0K'; cb?.(); return true }
  s.moveCursor = (_x: number, _y: number, cb?: () => void) => { cb?.(); return true }
  s.text = () => text
  return s
}

describe('the progress bar', () => {
  for (const columns of [30, 50, 120]) {
    it(`draws no frame wider than a ${columns}-column terminal`, () => {
      const term = fakeTerminal(columns)
      const bar = createProgress(term, true)
      bar.stage('download')
      bar.setTotal(3 * 1024 * 1024 * 1024)
      bar.source('peer-remote', 1024 * 1024 * 1024)
      bar.source('origin', 512 * 1024 * 1024)
      bar.update(1536 * 1024 * 1024)
      bar.stop()
      const frames = term.text().split('\x1b[1G').slice(1).map(f => f.split('\x1b[0K')[0])
      expect(frames.length).toBeGreaterThan(0)
      for (const f of frames) expect([...f].length, JSON.stringify(f)).toBeLessThanOrEqual(columns - 1)
      // a wide terminal has room for everything, sources included
      if (columns >= 120) expect(frames.at(-1)).toContain('peers 67% origin 33%')
    })
  }
})
