/**
 * Multi-datacenter swarms on a network-namespace testbed (root, Linux):
 * L locations × N node processes (default 3 × 4), one blob (default
 * 256 MiB), each location's link capped with tc tbf; runs, each on a fresh
 * testbed and fresh nodes:
 *   locality      labels dc1…dcL, the group rule (each piece enters each location once)
 *   +latency      the same with --delay-ms of user-space latency on the cross-location path
 *   per-location  labels dc1…dcL with originPerLocation (each location pulls the origin itself)
 *   no locality   every node given the same label (the rule sees one location)
 * Prints time until all finished, bytes into each link ÷ blob (wire, and the
 * nodes' own origin + other-location bytes), origin ÷ blob.
 *   npm run build && node dist/bench/multidc.js [--nodes 4] [--locations 3] [--size-mib 256] [--rate-mbit 200] [--delay-ms 25]
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { testbedUnavailable } from '../test/fixtures/netns.js'
import { fetchEverywhere, startDcBed } from '../test/fixtures/multidc.js'
import { writeRandomFile } from './util.js'

const MiB = 1024 * 1024
function arg (name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 ? Number(process.argv[i + 1]) : dflt
}
const perLocation = arg('nodes', 4)
const locations = arg('locations', 3)
const size = arg('size-mib', 256) * MiB
const rateMbit = arg('rate-mbit', 200)
const delayMs = arg('delay-ms', 25)
/** Twelve processes starting on a shared 2-core machine can take long. */
const START_TIMEOUT_MS = 120_000

const why = testbedUnavailable()
if (why != null) { console.error(`bench/multidc: cannot run — ${why}`); process.exit(2) }

const runs: Array<{ name: string, delayMs: number, label: (k: number) => string, nodeOptions?: Record<string, unknown> }> = [
  { name: 'locality', delayMs: 0, label: k => `dc${k}` },
  { name: `locality +${delayMs} ms latency`, delayMs, label: k => `dc${k}` },
  { name: 'per-location origin', delayMs: 0, label: k => `dc${k}`, nodeOptions: { originPerLocation: true } },
  { name: 'no locality (one label)', delayMs: 0, label: () => 'dc' }
]

const dir = await mkdtemp(join(tmpdir(), 'starling-bench-multidc-'))
try {
  const file = join(dir, 'blob')
  const digest = await writeRandomFile(file, size)
  console.log(`${locations} locations × ${perLocation} nodes, blob ${size / MiB} MiB, links ${rateMbit} Mbit/s each way (tc tbf); load average at start ${loadavg()[0].toFixed(1)}`)
  for (const r of runs) {
    const runDir = join(dir, r.name.replace(/\W+/g, '-'))
    const { tb, swarm, close } = await startDcBed({ locations, rateMbit, delayMs: r.delayMs }, { dir: runDir, files: { '/blob': file }, perLocation, label: r.label, nodeOptions: r.nodeOptions, startTimeoutMs: START_TIMEOUT_MS })
    try {
      // let connections, the DHT and gossip meshes settle, as a fleet that asks for a new blob once it is up
      await new Promise(resolve => setTimeout(resolve, 5000))
      const res = await fetchEverywhere(tb, swarm, digest, '/blob')
      const links = res.links.map(l => `dc${l.location} ${(l.wireIn / size).toFixed(3)} (nodes ${(l.metricsIn / size).toFixed(3)})`).join(', ')
      console.log(`${r.name}: ${res.ok ? 'all verified' : `FAILED ${res.errors.join('; ')}`}; all finished in ${(res.ms / 1000).toFixed(1)} s; ` +
        `origin ${(res.origin / size).toFixed(3)}× blob; into each link ÷ blob: ${links}; load average ${loadavg()[0].toFixed(1)}`)
    } finally {
      await close()
    }
  }
} finally {
  await rm(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 })
}
