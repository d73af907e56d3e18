/**
 * bench/compare's chart: one group of horizontal bars per case (unshaped or
 * capped, N), one bar per tool (time until all N held verified bytes), the
 * origin's bytes ÷ blob written beside each bar, T_min as a dashed line in
 * the capped groups. Plain SVG, no dependency.
 */
import type { RunResult } from './compare-tools.js'

const COLORS: Record<string, string> = { http: '#7f7f7f', aria2: '#d62728', helia: '#1f77b4', starling: '#2ca02c' }
const BAR = 16
const GAP = 14
const LEFT = 150
const WIDTH = 760

export function chart (results: Array<RunResult & { tMinSeconds?: number }>, meta: { date: string, command: string, sizeMiB: number, capMBs: number }): string {
  const groups = new Map<string, typeof results>()
  for (const r of results) {
    const k = `${r.capped ? `origin capped ${meta.capMBs} MB/s` : 'unshaped'}, N=${r.nodes}`
    groups.set(k, [...groups.get(k) ?? [], r])
  }
  const max = Math.max(1, ...results.map(r => Math.max(r.seconds ?? 0, r.tMinSeconds ?? 0)))
  const x = (s: number): number => LEFT + (WIDTH - LEFT - 150) * s / max
  const out: string[] = []
  let y = 50
  for (const [title, rs] of groups) {
    out.push(`<text x="10" y="${y}" font-weight="bold">${esc(title)}</text>`)
    y += 8
    const top = y
    for (const r of rs) {
      const label = `<text x="${LEFT - 8}" y="${y + BAR - 4}" text-anchor="end">${esc(r.tool)}</text>`
      if (r.seconds == null) {
        out.push(label, `<text x="${LEFT + 4}" y="${y + BAR - 4}" fill="#888">${esc(r.unavailable != null ? `unavailable: ${r.unavailable}` : `failed: ${r.error ?? '?'}`).slice(0, 90)}</text>`)
      } else {
        const w = Math.max(1, x(r.seconds) - LEFT)
        out.push(label, `<rect x="${LEFT}" y="${y}" width="${w.toFixed(1)}" height="${BAR}" fill="${COLORS[r.tool] ?? '#999'}"/>`,
          `<text x="${(LEFT + w + 6).toFixed(1)}" y="${y + BAR - 4}">${r.seconds.toFixed(1)} s · origin ${(r.originRatio ?? NaN).toFixed(2)}×</text>`)
      }
      y += BAR + 4
    }
    const tmin = rs[0]?.tMinSeconds
    if (tmin != null && Number.isFinite(tmin)) {
      out.push(`<line x1="${x(tmin).toFixed(1)}" y1="${top - 4}" x2="${x(tmin).toFixed(1)}" y2="${y}" stroke="#000" stroke-dasharray="4 3"/>`,
        `<text x="${(x(tmin) + 3).toFixed(1)}" y="${top + 4}" font-size="10">T_min ${tmin.toFixed(1)} s</text>`)
    }
    y += GAP
  }
  const h = y + 20
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${h}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="#fff"/>
<text x="10" y="20" font-size="14" font-weight="bold">${esc(`${meta.sizeMiB} MiB to N nodes on loopback: time until all hold verified bytes`)}</text>
<text x="10" y="36" font-size="10" fill="#555">${esc(`${meta.date} · ${meta.command}`)}</text>
${out.join('\n')}
</svg>
`
}

function esc (s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
}
