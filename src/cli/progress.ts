/**
 * The `starling get` progress bar: bytes, speed, ETA, and where the bytes
 * came from (peers vs origin vs cache), drawn with cli-progress on stderr —
 * only when stderr is a terminal; otherwise every call is a no-op. The line
 * is cut to the terminal's width on every redraw (it is read each time, so
 * a resized window is followed): a wrapped status line would scroll a new
 * copy of itself on each redraw.
 */
import cliProgress from 'cli-progress'
import type { ByteSource } from '../types.js'
import { formatBytes } from '../daemon/size.js'

export interface Progress {
  setTotal(size: number): void
  /** Bytes of the current stage so far (written to the output, or downloaded by an import). */
  update(written: number): void
  /**
   * A new stage with its own count, speed and ETA, named at the line's start
   * (`download` while a URL with no digest is imported, then `write`).
   */
  stage(label: string): void
  /** Bytes of verified pieces by source (from the daemon's events). */
  source(source: ByteSource, bytes: number): void
  readonly bySource: Record<ByteSource, number>
  stop(): void
}

/** Used when the stream tells no width (not a terminal, or a terminal that does not say). */
export const DEFAULT_COLUMNS = 80
const ELLIPSIS = '…'
/** The bar's width when there is room, and the least it shrinks to before the line is cut instead. */
const MAX_BAR = 24
const MIN_BAR = 8

function drawBar (progress: number, width: number): string {
  const done = Math.round(Math.min(Math.max(progress, 0), 1) * width)
  return '='.repeat(done) + '-'.repeat(width - done)
}

/**
 * The line cut to fit `columns` with one column to spare: a line exactly as
 * wide as the terminal leaves the cursor in its last column, where some
 * terminals wrap it on the next write.
 */
export function fitLine (line: string, columns: number | undefined): string {
  const width = (columns != null && columns > 0 ? columns : DEFAULT_COLUMNS) - 1
  const chars = [...line]
  if (chars.length <= width) return line
  if (width <= 0) return ''
  return chars.slice(0, width - 1).join('') + ELLIPSIS
}

export function createProgress (stream: NodeJS.WriteStream, enabled: boolean): Progress {
  const bySource: Record<ByteSource, number> = { origin: 0, 'peer-local': 0, 'peer-remote': 0, cache: 0 }
  if (!enabled) {
    return { setTotal () {}, update () {}, stage () {}, source (s, n) { bySource[s] += n }, bySource, stop () {} }
  }
  let started = performance.now()
  let total = 0
  let value = 0
  let label = ''
  let running = false
  const bar = new cliProgress.SingleBar({
    stream,
    hideCursor: true,
    fps: 8,
    format: (_options, params) => {
      const secs = Math.max((performance.now() - started) / 1000, 0.001)
      const speed = value / secs
      const eta = total > 0 && speed > 0 ? Math.max(0, (total - value) / speed) : NaN
      const pct = total > 0 ? `${Math.floor(params.progress * 100)}%` : '?'
      const text = ` ${pct.padStart(4)} ${formatBytes(value)}/${total > 0 ? formatBytes(total) : '?'} ${formatBytes(speed)}/s ETA ${fmtEta(eta)} ${share(bySource)}`.trimEnd()
      const head = label === '' ? '' : `${label} `
      // The bar gives up columns first, so the numbers and sources still fit a narrow terminal.
      const room = (stream.columns ?? DEFAULT_COLUMNS) - 1 - head.length - text.length
      return fitLine(head + drawBar(params.progress, Math.max(MIN_BAR, Math.min(MAX_BAR, room))) + text, stream.columns)
    }
  })
  // Drawn from the first number on, so a notice printed before (e.g. "no
  // --digest: downloading ...") is not drawn over.
  const draw = (): void => {
    if (running) return
    running = true
    bar.start(Math.max(total, 1), Math.min(value, Math.max(total, 1)))
  }
  return {
    setTotal (size) { total = size; draw(); bar.setTotal(Math.max(size, 1)) },
    update (written) { value = written; draw(); bar.update(Math.min(written, Math.max(total, 1))) },
    stage (name) {
      label = name
      value = 0
      started = performance.now()
      if (running) bar.update(0)
    },
    source (s, n) { bySource[s] += n },
    bySource,
    stop () {
      if (!running) return
      bar.update(Math.max(total, 1))
      bar.stop()
      running = false
    }
  }
}

function fmtEta (s: number): string {
  if (!Number.isFinite(s)) return '--'
  if (s < 60) return `${Math.ceil(s)}s`
  return `${Math.floor(s / 60)}m${String(Math.ceil(s % 60)).padStart(2, '0')}s`
}

/** `peers 75% origin 25%`: the share of verified piece bytes by source. */
export function share (b: Record<ByteSource, number>): string {
  const peers = b['peer-local'] + b['peer-remote']
  const sum = peers + b.origin + b.cache
  if (sum === 0) return ''
  const pct = (n: number): string => `${Math.round((n / sum) * 100)}%`
  const parts = [`peers ${pct(peers)}`, `origin ${pct(b.origin)}`]
  if (b.cache > 0) parts.push(`cache ${pct(b.cache)}`)
  return parts.join(' ')
}
