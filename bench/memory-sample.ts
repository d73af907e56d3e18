/**
 * Memory samples of a live daemon for bench/memory.ts: its resident set
 * from /proc (VmRSS, and RssAnon: the part a cgroup limit cannot reclaim
 * by dropping file pages) and its V8 heap and ArrayBuffers from its own
 * /metrics (the daemon reads process.memoryUsage() at each scrape).
 */
import { readFile } from 'node:fs/promises'

const MiB = 1024 * 1024

export interface Sample {
  /** ms since the bench started */
  t: number
  phase: string
  /** MiB */
  rss: number
  rssAnon: number
  heapUsed: number
  heapTotal: number
  arrayBuffers: number
  external: number
  activeUploads: number
  /** RssAnon of the process that launched the daemon when it runs in a child (--memory-limit: src/daemon/relaunch.ts), MiB; NaN otherwise */
  launcherAnon: number
}

export interface PhasePeaks {
  phase: string
  samples: number
  peakRssMiB: number
  peakRssAnonMiB: number
  peakHeapUsedMiB: number
  peakHeapTotalMiB: number
  peakArrayBuffersMiB: number
  peakExternalMiB: number
  maxActiveUploads: number
  meanActiveUploads: number
  peakLauncherAnonMiB: number
}

/** VmRSS, RssAnon and VmHWM of a live process, in MiB (NaN when it is gone). */
export async function procMemory (pid: number): Promise<{ rss: number, rssAnon: number, hwm: number }> {
  let status = ''
  try { status = await readFile(`/proc/${pid}/status`, 'utf8') } catch {}
  const kb = (key: string): number => {
    const m = new RegExp(`${key}:\\s+(\\d+) kB`).exec(status)
    return m == null ? NaN : Number(m[1]) / 1024
  }
  return { rss: kb('VmRSS'), rssAnon: kb('RssAnon'), hwm: kb('VmHWM') }
}

/** The daemon's Prometheus text → the gauges we sample. */
export function parseMetrics (text: string): Record<string, number> {
  const out: Record<string, number> = {}
  for (const line of text.split('\n')) {
    const m = /^(starling_[a-z_]+) ([0-9.e+-]+)$/.exec(line)
    if (m != null) out[m[1]] = Number(m[2])
  }
  return out
}

/**
 * Samples every `everyMs` until stopped; `phase()` names what the bench is
 * doing at that moment. A sample whose scrape fails keeps the RSS and
 * leaves the heap fields NaN (the peaks skip them).
 */
export function startSampler (pid: number, launcher: number | undefined, metricsUrl: string, everyMs: number, phase: () => string): { stop: () => Promise<Sample[]> } {
  const samples: Sample[] = []
  const t0 = performance.now()
  let running = true
  const loop = (async () => {
    while (running) {
      const started = performance.now()
      const [mem, parent, gauges] = await Promise.all([
        procMemory(pid),
        launcher == null ? undefined : procMemory(launcher),
        fetch(metricsUrl, { signal: AbortSignal.timeout(5000) }).then(async r => parseMetrics(await r.text())).catch(() => ({} as Record<string, number>))
      ])
      const g = (k: string): number => (gauges[k] ?? NaN) / MiB
      samples.push({
        t: Math.round(started - t0),
        phase: phase(),
        rss: mem.rss,
        rssAnon: mem.rssAnon,
        heapUsed: g('starling_memory_heap_used_bytes'),
        heapTotal: g('starling_memory_heap_total_bytes'),
        arrayBuffers: g('starling_memory_array_buffers_bytes'),
        external: g('starling_memory_external_bytes'),
        activeUploads: gauges.starling_active_uploads ?? NaN,
        launcherAnon: parent?.rssAnon ?? NaN
      })
      const wait = everyMs - (performance.now() - started)
      if (wait > 0) await new Promise(resolve => setTimeout(resolve, wait))
    }
  })()
  return {
    async stop () {
      running = false
      await loop
      return samples
    }
  }
}

const max = (xs: number[]): number => {
  const ok = xs.filter(Number.isFinite)
  return ok.length === 0 ? NaN : Math.max(...ok)
}

export function peaks (samples: Sample[], phase: string): PhasePeaks {
  const s = samples.filter(x => x.phase === phase)
  const uploads = s.map(x => x.activeUploads).filter(Number.isFinite)
  const r = (x: number): number => Math.round(x * 10) / 10
  return {
    phase,
    samples: s.length,
    peakRssMiB: r(max(s.map(x => x.rss))),
    peakRssAnonMiB: r(max(s.map(x => x.rssAnon))),
    peakHeapUsedMiB: r(max(s.map(x => x.heapUsed))),
    peakHeapTotalMiB: r(max(s.map(x => x.heapTotal))),
    peakArrayBuffersMiB: r(max(s.map(x => x.arrayBuffers))),
    peakExternalMiB: r(max(s.map(x => x.external))),
    maxActiveUploads: max(uploads),
    meanActiveUploads: r(uploads.reduce((a, b) => a + b, 0) / Math.max(1, uploads.length)),
    peakLauncherAnonMiB: r(max(s.map(x => x.launcherAnon)))
  }
}
