/**
 * One peer to one peer: a blob (default 1 GiB) through starling vs a raw
 * libp2p stream measured in the same run (goal: starling >= 0.8 of raw),
 * the time to first byte of a held blob from a peer (goal < 100 ms), and
 * the peak RSS of both nodes (must not grow with blob size).
 *   npm run build && node dist/bench/p2p.js [--size-mib 1024] [--read]
 * --read: the leecher also streams the blob back out of its store and
 * hashes it (what `starling get` does); by default the fetch ends when the
 * store has checked the whole sha256, which is the same trust.
 * Profile both nodes: STARLING_NODE_EXEC_ARGS='--cpu-prof --cpu-prof-dir=DIR',
 * then node scripts/prof-summary.mjs DIR/*.cpuprofile --timeline.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { loopbackAddr, startNodeProcess } from '../test/fixtures/swarm.js'
import { cpuSeconds, firstJsonLine, peakRssMiB, writeRandomFile } from './util.js'

if (process.argv.includes('--help')) {
  console.log('usage: node dist/bench/p2p.js [--size-mib 1024] [--read]\n  raw libp2p stream vs starling fetch, one peer to one peer, same run; time to first byte of a held blob')
  process.exit(0)
}
const MiB = 1024 * 1024
/** The time-to-first-byte probe: a small blob, so its fetch is all set-up. */
const TTFB_BLOB = 4 * MiB
const sizeArg = process.argv.indexOf('--size-mib')
const size = (sizeArg > 0 ? Number(process.argv[sizeArg + 1]) : 1024) * MiB
const read = process.argv.includes('--read')
const here = dirname(fileURLToPath(import.meta.url))

const dir = await mkdtemp(join(tmpdir(), 'starling-bench-p2p-'))
try {
  const file = join(dir, 'blob')
  const digest = await writeRandomFile(file, size)
  const small = join(dir, 'small')
  const smallDigest = await writeRandomFile(small, TTFB_BLOB)
  const load0 = loadavg()[0]

  const { line: served, proc: server } = await firstJsonLine([join(here, 'raw-peer.js'), 'serve'])
  const { line: raw } = await firstJsonLine([join(here, 'raw-peer.js'), 'pull', served.addr, String(size)])
  server.kill()
  const rawMBs = raw.bytes / MiB / (raw.ms / 1000)

  const seeder = await startNodeProcess({ dataDir: join(dir, 'seed'), listen: ['/ip4/127.0.0.1/tcp/0'] })
  await seeder.call('add', { path: file }, 600_000)
  await seeder.call('add', { path: small }, 600_000)
  const leecher = await startNodeProcess({ dataDir: join(dir, 'leech'), listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: [loopbackAddr(seeder)] })
  await new Promise(resolve => setTimeout(resolve, 1500))
  const cpu0 = [await cpuSeconds(seeder.proc.pid!), await cpuSeconds(leecher.proc.pid!)]
  const wall0 = Date.now()
  const t0 = performance.now()
  const r = await leecher.call('fetch', { digest, read, pieceEvents: false }, 600_000)
  const ms = performance.now() - t0
  const cpu = [await cpuSeconds(seeder.proc.pid!) - cpu0[0], await cpuSeconds(leecher.proc.pid!) - cpu0[1]]
  const startEvent = leecher.events.find(e => e.event === 'start')
  const discoveryMs = startEvent != null ? startEvent.t - wall0 : NaN
  if (!r.ok || r.sha256 !== digest) throw new Error(`fetch failed: ${JSON.stringify(r.error ?? r.sha256)}`)
  const starlingMBs = size / MiB / (ms / 1000)
  // time to first byte: the peer holds the small blob, the leecher asks for it and reads
  const ttfb = await leecher.call('fetch', { digest: smallDigest }, 60_000)
  if (!ttfb.ok || ttfb.sha256 !== smallDigest) throw new Error(`small fetch failed: ${JSON.stringify(ttfb.error ?? ttfb.sha256)}`)
  const rssSeed = await peakRssMiB(seeder.proc.pid!)
  const rssLeech = await peakRssMiB(leecher.proc.pid!)
  await seeder.kill()
  await leecher.kill()

  console.log(`blob: ${size / MiB} MiB; load average at start ${load0.toFixed(2)}, at end ${loadavg()[0].toFixed(2)} (2 cores)`)
  console.log(`raw libp2p stream: ${rawMBs.toFixed(0)} MiB/s (${(raw.ms / 1000).toFixed(2)} s)`)
  console.log(`starling fetch (verified, stored${read ? ', read back' : ''}): ${starlingMBs.toFixed(0)} MiB/s (${(ms / 1000).toFixed(2)} s)`)
  console.log(`  of which finding the blob (DHT + meta): ${(discoveryMs / 1000).toFixed(2)} s; transfer alone: ${(size / MiB / ((ms - discoveryMs) / 1000)).toFixed(0)} MiB/s`)
  console.log(`ratio starling/raw: ${(starlingMBs / rawMBs).toFixed(2)} (goal >= 0.8)`)
  console.log(`CPU of the receiver per MiB: raw ${(raw.cpuMs / (size / MiB)).toFixed(1)} ms, starling ${(cpu[1] * 1000 / (size / MiB)).toFixed(1)} ms (starling seeder ${(cpu[0] * 1000 / (size / MiB)).toFixed(1)} ms)`)
  console.log(`time to first byte of a held ${TTFB_BLOB / MiB} MiB blob from the peer: ${Number(ttfb.firstByteMs).toFixed(0)} ms (goal < 100 ms; size known after ${Number(ttfb.sizedMs).toFixed(0)} ms; whole: ${Number(ttfb.result.durationMs).toFixed(0)} ms)`)
  console.log(`peak RSS: seeder ${rssSeed.toFixed(0)} MiB, leecher ${rssLeech.toFixed(0)} MiB`)
} finally {
  await rm(dir, { recursive: true, force: true })
}
