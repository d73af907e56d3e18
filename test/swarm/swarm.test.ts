/**
 * The swarm as users run it: separate node processes over TCP on loopback,
 * a real HTTP origin that counts the bytes it sends.
 */
import { createHash, randomBytes } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startOriginServer } from '../fixtures/origin-server.js'
import { loopbackAddr, startNodeProcess, type NodeProcess } from '../fixtures/swarm.js'

const MiB = 1024 * 1024
const SWARM = 8

async function randomFile (dir: string, name: string, size: number): Promise<{ path: string, digest: string }> {
  const path = join(dir, name)
  const bytes = randomBytes(size)
  await writeFile(path, bytes)
  return { path, digest: `sha256:${createHash('sha256').update(bytes).digest('hex')}` }
}

describe('swarm of separate node processes', () => {
  let dir: string
  let origin: Awaited<ReturnType<typeof startOriginServer>>
  let blob: { path: string, digest: string }
  let nodes: NodeProcess[] = []
  const extra: NodeProcess[] = []
  let boot: string

  async function spawnNode (name: string, opts: Record<string, unknown> = {}): Promise<NodeProcess> {
    return await startNodeProcess({ dataDir: join(dir, name), listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: boot != null ? [boot] : [], ...opts })
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'starling-swarm-'))
    blob = await randomFile(dir, 'blob64', 64 * MiB)
    origin = await startOriginServer({ files: { '/blob64': blob.path } })
    const first = await startNodeProcess({ dataDir: join(dir, 'n0'), listen: ['/ip4/127.0.0.1/tcp/0'] })
    boot = loopbackAddr(first)
    const rest = await Promise.all(Array.from({ length: SWARM - 1 }, async (_, i) => await spawnNode(`n${i + 1}`)))
    nodes = [first, ...rest]
    // let the DHT routing tables and gossipsub meshes form
    await new Promise(resolve => setTimeout(resolve, 3000))
  }, 120_000)

  afterAll(async () => {
    await Promise.all([...nodes, ...extra].map(async n => { await n.kill() }))
    await origin?.close()
    if (dir != null) await rm(dir, { recursive: true, force: true })
  })

  it(`${SWARM} nodes asked at once share the origin work and all verify`, async () => {
    const url = `${origin.url}/blob64`
    const before = origin.bytesSent()
    const replies = await Promise.all(nodes.map(async n => await n.call('fetch', { digest: blob.digest, origin: url }, 180_000)))
    for (const r of replies) {
      expect(r.ok, JSON.stringify(r.error)).toBe(true)
      expect(r.sha256).toBe(blob.digest)
      expect(r.streamed).toBe(64 * MiB)
    }
    const ratio = (origin.bytesSent() - before) / (64 * MiB)
    const fromPeers = replies.reduce((a, r) => a + r.result.bytesBySource['peer-local'] + r.result.bytesBySource['peer-remote'], 0)
    console.log(`[swarm] ${SWARM} nodes, 64 MiB: origin sent ${ratio.toFixed(3)} x the blob; ${(fromPeers / MiB).toFixed(0)} MiB moved between peers`)
    expect(ratio).toBeGreaterThanOrEqual(1)
    expect(ratio).toBeLessThanOrEqual(1.25)
  }, 240_000)

  it('a node that joins afterwards gets the blob with zero origin bytes', async () => {
    const late = await spawnNode('late')
    extra.push(late)
    await new Promise(resolve => setTimeout(resolve, 1500))
    const before = origin.bytesSent()
    const r = await late.call('fetch', { digest: blob.digest, origin: `${origin.url}/blob64` })
    expect(r.ok, JSON.stringify(r.error)).toBe(true)
    expect(r.sha256).toBe(blob.digest)
    expect(origin.bytesSent() - before).toBe(0)
    expect(r.result.bytesBySource.origin).toBe(0)
  }, 120_000)

  it('with the origin down, a new node still completes from the swarm', async () => {
    origin.setDown(true)
    try {
      const n = await spawnNode('origin-down')
      extra.push(n)
      await new Promise(resolve => setTimeout(resolve, 1500))
      const r = await n.call('fetch', { digest: blob.digest, origin: `${origin.url}/blob64` })
      expect(r.ok, JSON.stringify(r.error)).toBe(true)
      expect(r.sha256).toBe(blob.digest)
    } finally {
      origin.setDown(false)
    }
  }, 120_000)

  it('a peer that serves corrupted pieces is struck and the fetch still ends right', async () => {
    const b = await randomFile(dir, 'blob-corrupt', 16 * MiB)
    const liar = await spawnNode('liar', { corruptPieces: true })
    const honest = await spawnNode('honest')
    const victim = await spawnNode('victim')
    extra.push(liar, honest, victim)
    expect((await liar.call('add', { path: b.path })).digest).toBe(b.digest)
    expect((await honest.call('add', { path: b.path })).digest).toBe(b.digest)
    await new Promise(resolve => setTimeout(resolve, 2000))
    const r = await victim.call('fetch', { digest: b.digest })
    expect(r.ok, JSON.stringify(r.error)).toBe(true)
    expect(r.sha256).toBe(b.digest)
    const s = await victim.call('stats')
    expect(s.stats.piecesRejected).toBeGreaterThan(0)
  }, 120_000)

  it('a node killed half way resumes without refetching its verified pieces', async () => {
    const b = await randomFile(dir, 'blob-resume', 32 * MiB)
    const slow = await startOriginServer({ files: { '/r': b.path }, rateBytesPerSec: 8 * MiB })
    try {
      const opts = { dataDir: join(dir, 'resumer'), listen: ['/ip4/127.0.0.1/tcp/0'] }
      let n = await startNodeProcess(opts)
      const url = `${slow.url}/r`
      void n.call('fetch', { digest: b.digest, origin: url }).catch(() => {})
      await n.waitEvent(e => e.event === 'piece' && n.events.filter(x => x.event === 'piece').length >= 16, 60_000)
      const verifiedBeforeKill = n.events.filter(x => x.event === 'piece').length
      await n.kill('SIGKILL')
      const sentBefore = slow.bytesSent()
      n = await startNodeProcess(opts)
      extra.push(n)
      const r = await n.call('fetch', { digest: b.digest, origin: url })
      expect(r.ok, JSON.stringify(r.error)).toBe(true)
      expect(r.sha256).toBe(b.digest)
      const start = n.events.find(e => e.event === 'start')
      expect(start.piecesHeld).toBeGreaterThanOrEqual(verifiedBeforeKill)
      const refetched = slow.bytesSent() - sentBefore
      console.log(`[resume] ${verifiedBeforeKill} pieces verified before kill, ${start.piecesHeld} kept, ${(refetched / MiB).toFixed(1)} MiB fetched after restart`)
      expect(refetched).toBeLessThanOrEqual(32 * MiB - start.piecesHeld * MiB)
    } finally {
      await slow.close()
    }
  }, 120_000)

  it('bad input gives typed errors and stores nothing', async () => {
    const n = nodes[1]
    const bad = await n.call('fetch', { digest: 'sha256:xyz' })
    expect(bad.error.name).toBe('InvalidDigestError')

    const unknown = `sha256:${'ab'.repeat(32)}`
    const none = await n.call('fetch', { digest: unknown })
    expect(none.error.name).toBe('NoSourceError')
    expect((await n.call('stat', { digest: unknown })).info).toBeNull()

    const missing = await n.call('fetch', { digest: unknown, origin: `${origin.url}/nope` })
    expect(missing.error.name).toBe('OriginError')
    expect(missing.error.message).toMatch(/404|not found/i)

    // the origin serves other bytes than the digest names
    const liarDigest = `sha256:${'cd'.repeat(32)}`
    const wrong = await n.call('fetch', { digest: liarDigest, origin: `${origin.url}/blob64` })
    expect(wrong.error.name).toBe('DigestMismatchError')
    expect((await n.call('stat', { digest: liarDigest })).info).toBeNull()
  }, 120_000)
})
