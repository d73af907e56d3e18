/**
 * Side by side, on the same data: plain HTTP (N curls from the origin), a
 * BitTorrent swarm (aria2 + opentracker + mktorrent, the seed fed by the
 * origin), Helia (bitswap over libp2p) and starling, for a blob of S MiB
 * to N nodes, unshaped and with the origin capped. For each: the time until
 * all N hold verified bytes, origin bytes ÷ blob, CPU seconds and peak RSS
 * per node; for the capped case the lower bound
 * T_min = max(S/u_origin, S/d_min, N·S/(u_origin + Σu_i)).
 * Writes bench/results/compare-<date>.json and .svg. A competitor that
 * cannot be installed is reported "unavailable: why"; the rest still run.
 *   npm run build && npm run bench:compare -- [--size-mib 256] [--nodes 5,10]
 *     [--cap-mbs 25] [--modes unshaped,capped] [--tools http,aria2,helia,starling]
 *     [--node-up-mbs Infinity] [--node-down-mbs Infinity] [--timeout-s 600]
 * Loopback only. u_i and d_min are the nodes' links: unlimited on loopback
 * unless given (then T_min's last two terms vanish).
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { writeRandomFile } from './util.js'
import { runAria2, runHelia, runHttp, runStarling } from './compare-runners.js'
import type { RunContext, RunResult } from './compare-tools.js'
import { chart } from './compare-chart.js'

const MiB = 1024 * 1024
const MB = 1e6
const argv = process.argv.slice(2)
if (argv.includes('--help')) {
  console.log((await import('node:fs')).readFileSync(fileURLToPath(import.meta.url), 'utf8').split('*/')[0].replace(/^\/\*\*?/, '').replace(/^ \* ?/gm, ''))
  process.exit(0)
}
const opt = (name: string, dflt: string): string => { const i = argv.indexOf(`--${name}`); return i >= 0 ? argv[i + 1] : dflt }
const sizeMiB = Number(opt('size-mib', '256'))
const nodeCounts = opt('nodes', '5,10').split(',').map(Number)
const capMBs = Number(opt('cap-mbs', '25'))
const modes = opt('modes', 'unshaped,capped').split(',')
const tools = opt('tools', 'http,aria2,helia,starling').split(',')
const upMBs = Number(opt('node-up-mbs', 'Infinity'))
const downMBs = Number(opt('node-down-mbs', 'Infinity'))
const timeoutMs = Number(opt('timeout-s', '600')) * 1000

const here = dirname(fileURLToPath(import.meta.url)) // dist/bench
const distRoot = dirname(here)
const repoRoot = dirname(distRoot)
const size = sizeMiB * MiB

/** T_min for N nodes and an origin sending u_origin bytes/s (Infinity: no bound from that side). */
export function tMin (s: number, n: number, uOrigin: number, dMin: number, uNode: number): number {
  return Math.max(s / uOrigin, s / dMin, n * s / (uOrigin + n * uNode))
}

const runners: Record<string, (ctx: RunContext, base: RunResult) => Promise<RunResult>> = {
  http: runHttp,
  aria2: runAria2,
  helia: runHelia(join(repoRoot, 'bench', 'helia-peer.mjs')),
  starling: runStarling
}

const work = await mkdtemp(join(tmpdir(), 'starling-bench-compare-'))
const results: Array<RunResult & { tMinSeconds?: number, load: number[] }> = []
const startedAt = new Date()
try {
  const file = join(work, 'blob')
  const digest = await writeRandomFile(file, size)
  console.log(`blob ${sizeMiB} MiB ${digest}; nodes ${nodeCounts.join(', ')}; modes ${modes.join(', ')}; origin cap ${capMBs} MB/s`)
  for (const mode of modes) {
    const capped = mode === 'capped'
    for (const n of nodeCounts) {
      const bound = capped ? tMin(size, n, capMBs * MB, downMBs * MB, upMBs * MB) : undefined
      for (const tool of tools) {
        const runner = runners[tool]
        if (runner == null) throw new Error(`unknown tool ${tool}`)
        const dir = await mkdtemp(join(work, `${tool}-${n}-`))
        const ctx: RunContext = { file, digest, size, nodes: n, rate: capped ? capMBs * MB : 0, dir, timeoutMs, distRoot }
        const base: RunResult = { tool, nodes: n, capped }
        const load = loadavg()
        let r: RunResult
        try { r = await runner(ctx, base) } catch (err) { r = { ...base, error: (err as Error).message } }
        await rm(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 })
        results.push({ ...r, tMinSeconds: bound, load })
        console.log(line(r, bound, load))
      }
    }
  }
} finally {
  await rm(work, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 })
}

const stamp = startedAt.toISOString().replace(/[:.]/g, '-').slice(0, 19)
const outDir = join(repoRoot, 'bench', 'results')
await mkdir(outDir, { recursive: true })
const meta = { date: startedAt.toISOString(), command: `node dist/bench/compare.js ${argv.join(' ')}`.trim(), sizeMiB, capMBs, nodeUpMBs: upMBs, nodeDownMBs: downMBs, cores: (await import('node:os')).cpus().length }
await writeFile(join(outDir, `compare-${stamp}.json`), JSON.stringify({ ...meta, results }, (_, v) => v === Infinity ? 'Infinity' : v, 2) + '\n')
await writeFile(join(outDir, `compare-${stamp}.svg`), chart(results, meta))
console.log(`wrote bench/results/compare-${stamp}.json and .svg`)

function line (r: RunResult, bound: number | undefined, load: number[]): string {
  const head = `${r.capped ? 'capped  ' : 'unshaped'} N=${String(r.nodes).padEnd(3)} ${r.tool.padEnd(9)}`
  if (r.unavailable != null) return `${head} unavailable: ${r.unavailable}`
  const f = (x: number | undefined, d = 1): string => x == null || !Number.isFinite(x) ? '?' : x.toFixed(d)
  const parts = [
    r.error != null ? `FAILED: ${r.error}` : `${f(r.seconds, 2)} s`,
    `origin ${f(r.originRatio, 2)}x`,
    `CPU/node ${f(r.cpuS?.median)} s (max ${f(r.cpuS?.max)})`,
    `peak RSS/node ${f(r.rssMiB?.median, 0)} MiB (max ${f(r.rssMiB?.max, 0)})`
  ]
  if (bound != null && r.seconds != null) parts.push(`T_min ${f(bound, 2)} s (${f(r.seconds / bound, 2)}x)`)
  parts.push(`load ${load[0].toFixed(1)}`)
  return `${head} ${parts.join(', ')}`
}
