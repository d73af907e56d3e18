/**
 * One peer to one peer: a 1 GiB blob through starling vs a raw libp2p stream
 * measured in the same run (goal: starling >= 0.8 of raw), plus peak RSS of
 * both nodes (must not grow with blob size).
 *   npm run build && node dist/bench/p2p.js [--size-mib 1024]
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { loopbackAddr, startNodeProcess } from '../test/fixtures/swarm.js'
import { firstJsonLine, peakRssMiB, writeRandomFile } from './util.js'

const MiB = 1024 * 1024
const sizeArg = process.argv.indexOf('--size-mib')
const size = (sizeArg > 0 ? Number(process.argv[sizeArg + 1]) : 1024) * MiB
const here = dirname(fileURLToPath(import.meta.url))

const dir = await mkdtemp(join(tmpdir(), 'starling-bench-p2p-'))
try {
  const file = join(dir, 'blob')
  const digest = await writeRandomFile(file, size)

  const { line: served, proc: server } = await firstJsonLine([join(here, 'raw-peer.js'), 'serve'])
  const { line: raw } = await firstJsonLine([join(here, 'raw-peer.js'), 'pull', served.addr, String(size)])
  server.kill()
  const rawMBs = raw.bytes / MiB / (raw.ms / 1000)

  const seeder = await startNodeProcess({ dataDir: join(dir, 'seed'), listen: ['/ip4/127.0.0.1/tcp/0'] })
  await seeder.call('add', { path: file }, 600_000)
  const leecher = await startNodeProcess({ dataDir: join(dir, 'leech'), listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: [loopbackAddr(seeder)] })
  await new Promise(resolve => setTimeout(resolve, 1500))
  const wall0 = Date.now()
  const t0 = performance.now()
  const r = await leecher.call('fetch', { digest }, 600_000)
  const ms = performance.now() - t0
  const startEvent = leecher.events.find(e => e.event === 'start')
  const discoveryMs = startEvent != null ? startEvent.t - wall0 : NaN
  if (!r.ok || r.sha256 !== digest) throw new Error(`fetch failed: ${JSON.stringify(r.error ?? r.sha256)}`)
  const starlingMBs = size / MiB / (ms / 1000)
  const rssSeed = await peakRssMiB(seeder.proc.pid!)
  const rssLeech = await peakRssMiB(leecher.proc.pid!)
  await seeder.kill()
  await leecher.kill()

  console.log(`blob: ${size / MiB} MiB`)
  console.log(`raw libp2p stream: ${rawMBs.toFixed(0)} MiB/s (${(raw.ms / 1000).toFixed(2)} s)`)
  console.log(`starling fetch (verified, stored): ${starlingMBs.toFixed(0)} MiB/s (${(ms / 1000).toFixed(2)} s)`)
  console.log(`  of which finding the blob (DHT + meta): ${(discoveryMs / 1000).toFixed(2)} s; transfer alone: ${(size / MiB / ((ms - discoveryMs) / 1000)).toFixed(0)} MiB/s`)
  console.log(`ratio starling/raw: ${(starlingMBs / rawMBs).toFixed(2)} (goal >= 0.8)`)
  console.log(`peak RSS: seeder ${rssSeed.toFixed(0)} MiB, leecher ${rssLeech.toFixed(0)} MiB`)
} finally {
  await rm(dir, { recursive: true, force: true })
}
