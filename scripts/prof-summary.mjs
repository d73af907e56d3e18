#!/usr/bin/env node
/**
 * Summarizes V8 .cpuprofile files (node --cpu-prof): self time by function
 * and by file, and the share of idle/GC/program samples. With --from-ms /
 * --to-ms (relative to the profile's start) only that window counts, e.g.
 * the transfer without start-up.
 *   node scripts/prof-summary.mjs FILE.cpuprofile [--top 25] [--from-ms N] [--to-ms N]
 */
import { readFileSync } from 'node:fs'

const args = process.argv.slice(2)
const opt = (n, d) => { const i = args.indexOf(`--${n}`); return i >= 0 ? Number(args[i + 1]) : d }
const top = opt('top', 25)
const fromMs = opt('from-ms', 0)
const toMs = opt('to-ms', Infinity)
const files = args.filter((a, i) => !a.startsWith('--') && !(i > 0 && args[i - 1].startsWith('--')))

for (const file of files) {
  const p = JSON.parse(readFileSync(file, 'utf8'))
  const byId = new Map(p.nodes.map(n => [n.id, n]))
  const self = new Map()
  let t = p.startTime
  let total = 0
  for (let i = 0; i < p.samples.length; i++) {
    const dt = p.timeDeltas[i] ?? 0
    t += dt
    const rel = (t - p.startTime) / 1000
    if (rel < fromMs || rel > toMs) continue
    self.set(p.samples[i], (self.get(p.samples[i]) ?? 0) + dt)
    total += dt
  }
  if (args.includes('--timeline')) {
    // busy share (not idle, not program) per 1 s: finds the transfer's window
    const idle = new Set(p.nodes.filter(n => ['(idle)'].includes(n.callFrame.functionName)).map(n => n.id))
    const buckets = []
    let tt = p.startTime
    for (let i = 0; i < p.samples.length; i++) {
      tt += p.timeDeltas[i] ?? 0
      const b = Math.floor((tt - p.startTime) / 1e6)
      buckets[b] ??= [0, 0]
      buckets[b][1] += p.timeDeltas[i] ?? 0
      if (!idle.has(p.samples[i])) buckets[b][0] += p.timeDeltas[i] ?? 0
    }
    console.log('-- busy share per second: ' + buckets.map((x, i) => `${i}:${x == null ? '-' : Math.round(100 * x[0] / Math.max(1, x[1]))}`).join(' '))
  }
  const byFn = new Map()
  const byUrl = new Map()
  for (const [id, us] of self) {
    const cf = byId.get(id).callFrame
    const url = cf.url.replace(/^file:\/\//, '').replace(/.*node_modules\//, 'nm:').replace(/.*\/dist\//, 'dist/')
    const fn = `${cf.functionName || '(anon)'} ${url}:${cf.lineNumber + 1}`
    byFn.set(fn, (byFn.get(fn) ?? 0) + us)
    const pkg = url.startsWith('nm:') ? url.split('/').slice(0, url.startsWith('nm:@') ? 2 : 1).join('/') : (url || cf.functionName)
    byUrl.set(pkg, (byUrl.get(pkg) ?? 0) + us)
  }
  const pct = us => (100 * us / total).toFixed(1).padStart(5) + ' %'
  console.log(`== ${file}: ${(total / 1e6).toFixed(2)} s sampled in [${fromMs}, ${toMs}] ms`)
  console.log('-- self time by package/file')
  for (const [k, v] of [...byUrl].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(v)}  ${k}`)
  console.log('-- self time by function')
  for (const [k, v] of [...byFn].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(v)}  ${k}`)
}
