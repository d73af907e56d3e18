/**
 * Real daemons, driven only through the `starling` command: three daemons
 * bootstrapped from the first fetch a 32 MiB blob from a byte-counting
 * origin; /metrics and `starling stat` agree with what moved; a restarted daemon keeps its peer
 * id and blobs and serves them; the download rate cap holds; the progress
 * bar shows under a pseudo-terminal and not in a pipe.
 */
import { execFile } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startOriginServer, type OriginServer } from '../fixtures/origin-server.js'
import { BIN, bytesReceived, metrics, removeDir, runCli, startDaemonProcess, tempDir, waitReady, type DaemonProcess } from './helpers.js'

const MiB = 1024 * 1024
const SIZE = 32 * MiB
let dir: string
let origin: OriginServer
let blobPath: string
let digest: string
const daemons: DaemonProcess[] = []

beforeAll(async () => {
  dir = await tempDir()
  blobPath = join(dir, 'blob.bin')
  const bytes = randomBytes(SIZE)
  digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`
  await writeFile(blobPath, bytes)
  origin = await startOriginServer({ files: { '/blob.bin': blobPath } })
})

afterAll(async () => {
  await Promise.all(daemons.map(async d => await d.stop()))
  await origin?.close()
  await removeDir(dir)
})

async function sha256File (path: string): Promise<string> {
  return `sha256:${createHash('sha256').update(await readFile(path)).digest('hex')}`
}

describe('three daemons through the CLI', () => {
  let a: DaemonProcess, b: DaemonProcess, c: DaemonProcess

  it('start, bootstrapped from the first, and become ready', async () => {
    const t0 = Date.now()
    a = await startDaemonProcess(join(dir, 'a'))
    console.log(`a started after ${Date.now() - t0} ms`)
    daemons.push(a)
    const boot = a.addresses[0]
    expect(boot).toContain(`/p2p/${a.peerId}`);
    [b, c] = await Promise.all([
      startDaemonProcess(join(dir, 'b'), ['--bootstrap', boot]),
      startDaemonProcess(join(dir, 'c'), ['--bootstrap', boot])
    ])
    daemons.push(b, c)
    console.log(`b, c started after ${Date.now() - t0} ms`)
    await Promise.all([b, c].map(async d => { await waitReady(d.api) }))
    console.log(`b, c ready after ${Date.now() - t0} ms`)
    const info = JSON.parse((await runCli(['--api', b.api, '--json', 'info'])).stdout)
    expect(info.peerId).toBe(b.peerId)
    expect(info.addresses.every((x: string) => x.endsWith(`/p2p/${b.peerId}`))).toBe(true)
  })

  it('starling get of a 32 MiB blob on each: bytes match, origin sends at most 1.25x', async () => {
    const url = `${origin.url}/blob.bin`
    const runs = await Promise.all([a, b, c].map(async (d, i) =>
      await runCli(['--api', d.api, '--json', 'get', url, '--digest', digest, '-o', join(dir, `out-${i}.bin`)], { timeoutMs: 90_000 })))
    for (const r of runs) expect(r.stderr).toBe('')
    for (const r of runs) expect(r.code).toBe(0)
    for (let i = 0; i < 3; i++) expect(await sha256File(join(dir, `out-${i}.bin`))).toBe(digest)
    const ratio = origin.bytesSent() / SIZE
    console.log(`origin sent ${origin.bytesSent()} bytes = ${ratio.toFixed(3)} x the blob`)
    expect(ratio).toBeLessThanOrEqual(1.25)
    const results = runs.map(r => JSON.parse(r.stdout))
    for (const r of results) expect(r.size).toBe(SIZE)
  })

  it('/metrics parses as Prometheus text and its byte counters match what moved', async () => {
    const ms = await Promise.all([a, b, c].map(async d => await metrics(d.api)))
    let fromOrigin = 0
    for (const m of ms) {
      // Each daemon counted at least the whole blob in, by source.
      expect(bytesReceived(m)).toBeGreaterThanOrEqual(SIZE)
      expect(m.get('starling_cache_bytes')).toBeGreaterThanOrEqual(SIZE)
      expect(m.get('starling_connected_peers')).toBeGreaterThanOrEqual(1)
      fromOrigin += bytesReceived(m, 'origin')
    }
    // What the daemons say they got from the origin is what the origin sent,
    // less whole pieces that arrived twice (a deadline fallback racing the
    // designated peer) and were dropped as duplicates: at most a few pieces
    // (1 MiB each at this size). Every byte had to come from the origin once.
    const pieceSize = 1 * MiB
    console.log(`origin counters: ${fromOrigin} counted by the daemons, ${origin.bytesSent()} sent by the origin`)
    expect(fromOrigin).toBeGreaterThanOrEqual(SIZE)
    expect(fromOrigin).toBeLessThanOrEqual(origin.bytesSent())
    expect(origin.bytesSent() - fromOrigin).toBeLessThanOrEqual(4 * pieceSize)
    // And every byte one daemon got from a peer, some daemon uploaded.
    const peerIn = ms.reduce((n, m) => n + bytesReceived(m, 'peer-local') + bytesReceived(m, 'peer-remote'), 0)
    const uploaded = ms.reduce((n, m) => n + (m.get('starling_bytes_uploaded_total') ?? 0), 0)
    expect(peerIn).toBeGreaterThan(0)
    expect(uploaded).toBeGreaterThanOrEqual(peerIn)
  })

  it('starling stat with no digest shows bytes in by source, as /metrics counts them', async () => {
    for (const d of [a, b, c]) {
      const json = JSON.parse((await runCli(['--api', d.api, '--json', 'stat'])).stdout)
      const m = await metrics(d.api)
      for (const src of ['origin', 'peer-local', 'peer-remote', 'cache']) expect(json.bytesIn[src]).toBe(bytesReceived(m, src))
      expect(json.bytesUploaded).toBe(m.get('starling_bytes_uploaded_total'))
      const text = await runCli(['--api', d.api, 'stat'])
      expect(text.code).toBe(0)
      expect(text.stderr).toBe('')
      for (const label of ['origin:', 'same location:', 'other locations:', 'bytes uploaded:']) expect(text.stdout).toContain(label)
    }
    // with a digest, still the blob
    const blob = JSON.parse((await runCli(['--api', a.api, '--json', 'stat', digest])).stdout)
    expect(blob.complete).toBe(true)
    expect(blob.size).toBe(SIZE)
  })

  it('the progress bar renders under a pseudo-terminal and is absent in a pipe', async () => {
    const out = join(dir, 'tty.bin')
    const cmd = `${process.execPath} ${BIN} --api ${b.api} get ${digest} -o ${out}`
    const tty = await new Promise<string>((resolve, reject) => {
      execFile('script', ['-qfec', cmd, '/dev/null'], { timeout: 30_000 }, (err, stdout) => { if (err != null) reject(err); else resolve(stdout) })
    })
    expect(tty).toMatch(/100%/)
    expect(tty).toMatch(/ETA/)
    expect(tty).toMatch(/\/s/)
    expect(tty).toContain(digest)
    const piped = await runCli(['--api', b.api, 'get', digest, '-o', out])
    expect(piped.code).toBe(0)
    expect(piped.stderr).toBe('')
    expect(piped.stdout).toBe('')
    expect(await sha256File(out)).toBe(digest)
  })

  it('a restarted daemon keeps its peer id and blobs, and serves them', async () => {
    const id = b.peerId
    expect(await b.stop()).toBe(0) // SIGTERM: clean shutdown
    b = await startDaemonProcess(join(dir, 'b'), ['--bootstrap', a.addresses[0]])
    daemons.push(b)
    expect(b.peerId).toBe(id)
    const ls = JSON.parse((await runCli(['--api', b.api, '--json', 'ls'])).stdout)
    expect(ls.find((x: any) => x.digest === digest)?.complete).toBe(true)
    // Only b holds the blob now; a new daemon bootstrapped from b gets it with no origin at all.
    expect(await a.stop()).toBe(0)
    expect(await c.stop()).toBe(0)
    const d = await startDaemonProcess(join(dir, 'd'), ['--bootstrap', b.addresses[0], '--download-rate', '4MiB'])
    daemons.push(d)
    await waitReady(d.api)
    const sentBefore = origin.bytesSent()
    const out = join(dir, 'from-b.bin')
    const r = await runCli(['--api', d.api, '--json', 'get', digest, '-o', out], { timeoutMs: 60_000 })
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    expect(await sha256File(out)).toBe(digest)
    expect(origin.bytesSent()).toBe(sentBefore)
    // The download cap: a token bucket grants at most burst + R*t bytes by
    // time t, so SIZE bytes take at least (SIZE - burst)/R, where burst is
    // the limiter's bucket (a quarter second of rate: 1 MiB at 4 MiB/s).
    // 50 ms of slack for timer granularity.
    const rate = 4 * MiB
    const burst = rate / 4
    const minMs = ((SIZE - burst) / rate) * 1000 - 50
    console.log(`32 MiB at 4 MiB/s took ${Math.round(r.ms)} ms (floor ${Math.round(minMs)} ms)`)
    expect(r.ms).toBeGreaterThanOrEqual(minMs)
    const m = await metrics(d.api)
    expect(bytesReceived(m, 'peer-local') + bytesReceived(m, 'peer-remote')).toBeGreaterThanOrEqual(SIZE)
    expect(bytesReceived(m, 'origin')).toBe(0)
  })
})
