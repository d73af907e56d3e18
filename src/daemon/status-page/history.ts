/**
 * The byte counters of the last few minutes, sampled by the daemon, so the
 * status page draws bytes by source over time from the moment it opens
 * instead of from its own first poll (`GET /api/v1/stats/history`).
 * A sample is five numbers every few seconds: the cost is a timer and a
 * `stats()` call, whether or not anyone looks.
 */
import type { NodeStats } from '../../api.js'
import type { BytesBySource, Startable } from '../../types.js'

/** Often enough for a transfer of a few seconds to show as a step, rarely enough to cost nothing. */
export const HISTORY_INTERVAL_MS = 2_000
/** Five minutes of samples. */
export const HISTORY_SAMPLES = 150

export interface StatsSample {
  /** ms since the epoch */
  t: number
  /** The node's counters (they only grow): the page draws the differences. */
  bytesIn: BytesBySource
  bytesUploaded: number
}

export interface StatsHistory extends Startable {
  /** Oldest first. */
  samples(): StatsSample[]
}

export function createStatsHistory (stats: () => NodeStats, init: { intervalMs?: number, keep?: number } = {}): StatsHistory {
  const intervalMs = init.intervalMs ?? HISTORY_INTERVAL_MS
  const keep = init.keep ?? HISTORY_SAMPLES
  const ring: StatsSample[] = []
  let timer: NodeJS.Timeout | undefined

  function sample (): void {
    const s = stats()
    ring.push({ t: Date.now(), bytesIn: { ...s.bytesIn }, bytesUploaded: s.bytesUploaded })
    if (ring.length > keep) ring.shift()
  }

  return {
    start () {
      if (timer != null) return
      sample()
      timer = setInterval(sample, intervalMs)
      // never what keeps the process alive
      timer.unref()
    },
    stop () {
      clearInterval(timer)
      timer = undefined
    },
    samples: () => ring.map(s => ({ ...s, bytesIn: { ...s.bytesIn } }))
  }
}
