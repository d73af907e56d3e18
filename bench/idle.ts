/**
 * What an idle swarm costs: N node processes join, then sit idle; prints the
 * cores they use together once started, sampled over a window.
 *   npm run build && node dist/bench/idle.js [--nodes 30] [--wait-s 60] [--window-s 10]
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loopbackAddr, startNodeProcess, type NodeProcess } from '../test/fixtures/swarm.js'
import { cpuSeconds } from './util.js'

const NODE_START_TIMEOUT_MS = 180_000
function arg (name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 ? Number(process.argv[i + 1]) : dflt
}
const N = arg('nodes', 30)
const waitS = arg('wait-s', 60)
const windowS = arg('window-s', 10)

async function totalCpu (nodes: NodeProcess[]): Promise<number> {
  let t = 0
  for (const n of nodes) t += await cpuSeconds(n.proc.pid!)
  return t
}

const dir = await mkdtemp(join(tmpdir(), 'starling-bench-idle-'))
const nodes: NodeProcess[] = []
try {
  const first = await startNodeProcess({ dataDir: join(dir, 'n0'), listen: ['/ip4/127.0.0.1/tcp/0'] })
  nodes.push(first)
  for (let i = 1; i < N; i += 5) {
    nodes.push(...await Promise.all(Array.from({ length: Math.min(5, N - i) }, async (_, k) =>
      await startNodeProcess({ dataDir: join(dir, `n${i + k}`), listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: [loopbackAddr(first)] }, NODE_START_TIMEOUT_MS))))
  }
  const t0 = performance.now()
  for (let s = 0; s < waitS; s += windowS) {
    const a = await totalCpu(nodes)
    await new Promise(resolve => setTimeout(resolve, windowS * 1000))
    const cores = (await totalCpu(nodes) - a) / windowS
    const st = await Promise.all(nodes.map(async n => (await n.call('stats')).stats))
    const conns = st.map(x => x.connectedPeers).sort((x, y) => x - y)
    console.log(`${((performance.now() - t0) / 1000).toFixed(0)} s after the last start: ${cores.toFixed(2)} cores in all (${(cores / N * 1000).toFixed(0)} mcores per node); connections per node ${conns[0]}..${conns[conns.length - 1]}`)
  }
} finally {
  await Promise.all(nodes.map(async n => { await n.kill() }))
  await rm(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 })
}
