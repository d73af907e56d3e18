/**
 * The `starling get` progress bar: bytes, speed, ETA, and where the bytes
 * came from (peers vs origin vs cache), drawn with cli-progress on stderr —
 * only when stderr is a terminal; otherwise every call is a no-op.
 */
import cliProgress from 'cli-progress'
import type { ByteSource } from '../types.js'
import { formatBytes } from '../daemon/size.js'

export interface Progress {
  setTotal(size: number): void
  /** Bytes written to the output so far. */
  update(written: number): void
  /** Bytes of verified pieces by source (from the daemon's events). */
  source(source: ByteSource, bytes: number): void
  readonly bySource: Record<ByteSource, number>
  stop(): void
}

export function createProgress (stream: NodeJS.WriteStream, enabled: boolean): Progress {
  const bySource: Record<ByteSource, number> = { origin: 0, 'peer-local': 0, 'peer-remote': 0, cache: 0 }
  if (!enabled) {
    return { setTotal () {}, update () {}, source (s, n) { bySource[s] += n }, bySource, stop () {} }
  }
  const started = performance.now()
  let total = 0
  let value = 0
  const bar = new cliProgress.SingleBar({
    stream,
    hideCursor: true,
    fps: 8,
    barsize: 24,
    format: (options, params) => {
      const secs = Math.max((performance.now() - started) / 1000, 0.001)
      const speed = value / secs
      const eta = total > 0 && speed > 0 ? Math.max(0, (total - value) / speed) : NaN
      const bar = cliProgress.Format.BarFormat(params.progress, options)
      const pct = total > 0 ? `${Math.floor(params.progress * 100)}%` : '?'
      return `${bar} ${pct.padStart(4)} ${formatBytes(value)}/${total > 0 ? formatBytes(total) : '?'} ${formatBytes(speed)}/s ETA ${fmtEta(eta)} ${share(bySource)}`
    }
  })
  bar.start(1, 0)
  return {
    setTotal (size) { total = size; bar.setTotal(Math.max(size, 1)) },
    update (written) { value = written; bar.update(Math.min(written, Math.max(total, 1))) },
    source (s, n) { bySource[s] += n },
    bySource,
    stop () { bar.update(Math.max(total, 1)); bar.stop() }
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
