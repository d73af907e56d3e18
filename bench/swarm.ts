/**
 * N node processes (default 20) fetch one blob (default 256 MiB) at the same
 * moment from a byte-counting origin: time until all finish, origin bytes ÷
 * blob size (goal <= 1.05), per-node throughput, peak RSS of a node.
 *   npm run build && node dist/bench/swarm.js [--nodes 20] [--size-mib 256] [--origin-rate-mib 0]
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { startOriginServer } from '../test/fixtures/origin-server.js'
import { loopbackAddr, startNodeProcess, type NodeProcess } from '../test/fixtures/swarm.js'
import { cpuSeconds, median, peakRssMiB, writeRandomFile } from './util.js'

/** Before the fetch: the nodes together must use less than this many cores per node for QUIET_MS (an idle node still runs gossipsub and DHT heartbeats). */
const QUIET_CORES_PER_NODE = 0.03
const QUIET_MS = 2000
const SETTLE_POLL_MS = 500
const MIN_SETTLE_MS = 4000
/** Fifty node processes starting on 2 cores take longer than a test's 30 s. */
const NODE_START_TIMEOUT_MS = 180_000
const MAX_SETTLE_MS = 90_000

async function idleCores (nodes: Array<{ proc: { pid?: number } }>): Promise<number> {
  const a = await totalCpu(nodes)
  await new Promise(resolve => setTimeout(resolve, 1000))
  return await totalCpu(nodes) - a
}

async function totalCpu (nodes: Array<{ proc: { pid?: number } }>): Promise<number> {
  let t = 0
  for (const n of nodes) t += await cpuSeconds(n.proc.pid!)
  return t
}

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
      await startNodeProcess({ dataDir: join(dir, `n${i + k}`), listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: [loopbackAddr(first)] }, NODE_START_TIMEOUT_MS))))
  }
  // A fleet asks for a new blob once it is up, not while it boots: wait
  // until the nodes are quiet (start-up, connections, DHT refresh) — all of
  // them together under QUIET_CORES_PER_NODE × N for QUIET_MS — at least MIN_SETTLE_MS,
  // at most MAX_SETTLE_MS. Starting the fetch during the connection storm
  // of 50 processes on 2 cores measured the boot, not the swarm.
  const settleStart = performance.now()
  await new Promise(resolve => setTimeout(resolve, MIN_SETTLE_MS))
  let quietSince = -1
  let last = await totalCpu(nodes)
  while (performance.now() - settleStart < MAX_SETTLE_MS) {
    await new Promise(resolve => setTimeout(resolve, SETTLE_POLL_MS))
    const now = await totalCpu(nodes)
    const cores = (now - last) / (SETTLE_POLL_MS / 1000)
    last = now
    if (cores >= QUIET_CORES_PER_NODE * nodes.length) { quietSince = -1; continue }
    if (quietSince < 0) quietSince = performance.now()
    if (performance.now() - quietSince >= QUIET_MS) break
  }
  console.log(`swarm settled after ${((performance.now() - settleStart) / 1000).toFixed(1)} s${quietSince < 0 ? ' (not quiet: gave up waiting)' : ''}; idle nodes use ${(await idleCores(nodes)).toFixed(2)} cores in all`)
  if (process.env.STARLING_BENCH_TIMELINE === '1') {
    const st = await Promise.all(nodes.map(async n => (await n.call('stats')).stats))
    console.log(`before the fetch, connected/gossip peers per node: ${st.map(x => `${x.connectedPeers}/${x.gossipPeers}`).join(' ')}`)
  }
  const cpu0 = await Promise.all(nodes.map(async n => await cpuSeconds(n.proc.pid!)))
  const t0 = performance.now()
  const times: number[] = []
  const replies = await Promise.all(nodes.map(async n => {
    const r = await n.call('fetch', { digest, origin: `${origin.url}/blob` }, 1_800_000)
    times.push(performance.now() - t0)
    return r
  }))
  const total = performance.now() - t0
  if (process.env.STARLING_BENCH_TIMELINE === '1') {
    // per node: when its pieces arrived (s after the start) and from where
    const wall0 = Date.now() - total
    // node logs (STARLING_LOG) stamp their lines in epoch ms: this joins them with the timeline
    console.log(`fetch started at ${Math.round(wall0)} (epoch ms)`)
    const originBy: Record<number, string[]> = {}
    for (const n of nodes) {
      const ps = n.events.filter(e => e.event === 'piece')
      const at = (q: number): string => ((ps[Math.min(ps.length - 1, Math.floor(ps.length * q))].t - wall0) / 1000).toFixed(1)
      const bySrc: Record<string, number> = {}
      for (const p of ps) bySrc[p.source] = (bySrc[p.source] ?? 0) + 1
      for (const p of ps) if (p.source === 'origin') (originBy[p.index] ??= []).push(`${n.peerId.slice(-6)}@${((p.t - wall0) / 1000).toFixed(1)}`)
      const sized = n.events.find(e => e.event === 'start')
      console.log(`  ${n.peerId.slice(-6)}: size known at ${sized != null ? ((sized.t - wall0) / 1000).toFixed(1) : '?'} s, pieces at 10% ${at(0.1)} s, 50% ${at(0.5)} s, 90% ${at(0.9)} s, last ${at(1)} s; ${JSON.stringify(bySrc)}`)
    }
    for (const [i, who] of Object.entries(originBy)) if (who.length > 1) console.log(`  piece ${i} from the origin ${who.length}x: ${who.join(' ')}`)
  }
  const bad = replies.filter(r => !r.ok || r.sha256 !== digest)
  const stats = await Promise.all(nodes.map(async n => (await n.call('stats')).stats))
  const uploaded = stats.reduce((a, s) => a + s.bytesUploaded, 0)
  const fromPeers = stats.reduce((a, s) => a + s.bytesIn['peer-local'] + s.bytesIn['peer-remote'], 0)
  const cpu = await Promise.all(nodes.map(async (n, i) => await cpuSeconds(n.proc.pid!) - cpu0[i]))
  const rss = await Promise.all(nodes.map(async n => await peakRssMiB(n.proc.pid!)))
  console.log(`nodes: ${N}, blob: ${size / MiB} MiB, origin cap: ${originRate > 0 ? `${originRate / MiB} MiB/s` : 'none'}`)
  console.log(`all verified: ${bad.length === 0 ? 'yes' : `NO (${bad.length} failed: ${JSON.stringify(bad[0].error)})`}`)
  console.log(`time until all finished: ${(total / 1000).toFixed(2)} s (median node ${(median(times) / 1000).toFixed(2)} s)`)
  console.log(`origin bytes / blob size: ${(origin.bytesSent() / size).toFixed(3)} (goal <= 1.05)`)
  // where origin bytes beyond one copy went: whole second copies, or responses a node hung up on (paid for, then lost)
  const cut = origin.cut()
  console.log(`origin requests: ${origin.requests()} (${origin.rangeRequests().length} ranged); hung up on before their end: ${cut.responses}, ${(cut.bytes / size).toFixed(3)} of the blob`)
  console.log(`per-node throughput (median): ${(size / MiB / (median(times) / 1000)).toFixed(1)} MiB/s`)
  console.log(`peer bytes: ${(fromPeers / MiB).toFixed(0)} MiB verified and kept, ${(uploaded / MiB).toFixed(0)} MiB uploaded (waste ${((uploaded / Math.max(1, fromPeers) - 1) * 100).toFixed(0)} %); pieces rejected: ${stats.reduce((a, s) => a + s.piecesRejected, 0)}`)
  const received = stats.reduce((a, s) => a + s.bytesIn.origin + s.bytesIn['peer-local'] + s.bytesIn['peer-remote'], 0)
  const cpuTotal = cpu.reduce((a, b) => a + b, 0)
  console.log(`CPU per node during the fetch: median ${median(cpu).toFixed(1)} s, total ${cpuTotal.toFixed(1)} s`)
  // every node's CPU (serving included) over every byte the nodes received: the swarm's cost of moving a MiB
  console.log(`CPU per received MiB: ${(cpuTotal * 1000 / (received / MiB)).toFixed(1)} ms (${(received / MiB).toFixed(0)} MiB received in all; load average ${loadavg().map(x => x.toFixed(1)).join(' ')})`)
  console.log(`peak RSS of a node: max ${Math.max(...rss).toFixed(0)} MiB, median ${median(rss).toFixed(0)} MiB`)
  await origin.close()
} finally {
  await Promise.all(nodes.map(async n => { await n.kill() }))
  // nodes killed a moment ago may still be closing files in their data folders
  await rm(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 })
}
