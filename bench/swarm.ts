/**
 * N node processes (default 20) fetch one blob (default 256 MiB) at the same
 * moment from a byte-counting origin: time until all finish, origin bytes ÷
 * blob size (goal <= 1.05), per-node throughput, peak RSS of a node.
 *   npm run build && node dist/bench/swarm.js [--nodes 20] [--size-mib 256] [--origin-rate-mib 0]
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startOriginServer } from '../test/fixtures/origin-server.js'
import { loopbackAddr, startNodeProcess, type NodeProcess } from '../test/fixtures/swarm.js'
import { median, peakRssMiB, writeRandomFile } from './util.js'

const MiB = 1024 * 1024
function arg (name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 ? Number(process.argv[i + 1]) : dflt
}
const N = arg('nodes', 20)
const size = arg('size-mib', 256) * MiB
const originRate = arg('origin-rate-mib', 0) * MiB

const dir = await mkdtemp(join(tmpdir(), 'starling-bench-swarm-'))
const nodes: NodeProcess[] = []
try {
  const file = join(dir, 'blob')
  const digest = await writeRandomFile(file, size)
  const origin = await startOriginServer({ files: { '/blob': file }, ...(originRate > 0 ? { rateBytesPerSec: originRate } : {}) })
  const first = await startNodeProcess({ dataDir: join(dir, 'n0'), listen: ['/ip4/127.0.0.1/tcp/0'] })
  nodes.push(first)
  for (let i = 1; i < N; i += 5) {
    nodes.push(...await Promise.all(Array.from({ length: Math.min(5, N - i) }, async (_, k) =>
      await startNodeProcess({ dataDir: join(dir, `n${i + k}`), listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: [loopbackAddr(first)] }))))
  }
  await new Promise(resolve => setTimeout(resolve, 4000))
  const t0 = performance.now()
  const times: number[] = []
  const replies = await Promise.all(nodes.map(async n => {
    const r = await n.call('fetch', { digest, origin: `${origin.url}/blob` }, 1_800_000)
    times.push(performance.now() - t0)
    return r
  }))
  const total = performance.now() - t0
  const bad = replies.filter(r => !r.ok || r.sha256 !== digest)
  const rss = await Promise.all(nodes.map(async n => await peakRssMiB(n.proc.pid!)))
  console.log(`nodes: ${N}, blob: ${size / MiB} MiB, origin cap: ${originRate > 0 ? `${originRate / MiB} MiB/s` : 'none'}`)
  console.log(`all verified: ${bad.length === 0 ? 'yes' : `NO (${bad.length} failed: ${JSON.stringify(bad[0].error)})`}`)
  console.log(`time until all finished: ${(total / 1000).toFixed(2)} s (median node ${(median(times) / 1000).toFixed(2)} s)`)
  console.log(`origin bytes / blob size: ${(origin.bytesSent() / size).toFixed(3)} (goal <= 1.05)`)
  console.log(`per-node throughput (median): ${(size / MiB / (median(times) / 1000)).toFixed(1)} MiB/s`)
  console.log(`peak RSS of a node: max ${Math.max(...rss).toFixed(0)} MiB, median ${median(rss).toFixed(0)} MiB`)
  await origin.close()
} finally {
  await Promise.all(nodes.map(async n => { await n.kill() }))
  await rm(dir, { recursive: true, force: true })
}
