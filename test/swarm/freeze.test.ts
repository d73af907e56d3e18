/**
 * Sixteen node processes fetch a new blob at once; when the swarm is about a
 * third done, three of them are frozen (SIGSTOP) for five seconds — as a
 * busy host or a GC pause would — then resumed. Every node must verify the
 * blob, and the origin must not be asked for much more than the blob: the
 * others wait for a frozen owner's pieces instead of stampeding the origin
 * (docs/no-scheduler.md, "no herd").
 */
import { createHash, randomBytes } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { startOriginServer } from '../fixtures/origin-server.js'
import { loopbackAddr, startNodeProcess, type NodeProcess } from '../fixtures/swarm.js'

const MiB = 1024 * 1024
const NODES = 16
const FROZEN = 3
const FREEZE_MS = 5000
const SIZE = 32 * MiB
/** The bound for this scenario: origin bytes ÷ blob size. */
const MAX_ORIGIN_RATIO = 1.3

describe('16 node processes, 3 frozen for 5 s a third of the way', () => {
  let dir: string | undefined
  let origin: Awaited<ReturnType<typeof startOriginServer>> | undefined
  const nodes: NodeProcess[] = []

  afterAll(async () => {
    for (const n of nodes) n.proc.kill('SIGCONT')
    await Promise.all(nodes.map(async n => { await n.kill() }))
    await origin?.close()
    if (dir != null) await rm(dir, { recursive: true, force: true })
  })

  it('every node verifies and the origin sends at most 1.3 x the blob', async () => {
    dir = await mkdtemp(join(tmpdir(), 'starling-freeze-'))
    const bytes = randomBytes(SIZE)
    const path = join(dir, 'blob')
    await writeFile(path, bytes)
    const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`
    origin = await startOriginServer({ files: { '/blob': path } })
    const first = await startNodeProcess({ dataDir: join(dir, 'n0'), listen: ['/ip4/127.0.0.1/tcp/0'] })
    nodes.push(first)
    // start in small batches: 15 processes booting at once on 2 cores time out their first dials
    for (let i = 1; i < NODES; i += 5) {
      nodes.push(...await Promise.all(Array.from({ length: Math.min(5, NODES - i) }, async (_, k) =>
        await startNodeProcess({ dataDir: join(dir!, `n${i + k}`), listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: [loopbackAddr(first)] }, 60_000))))
    }
    await new Promise(resolve => setTimeout(resolve, 4000))

    const pieces = SIZE / MiB // 1 MiB pieces at this size
    const total = (): number => nodes.reduce((a, n) => a + n.events.filter(e => e.event === 'piece').length, 0)
    const fetches = Promise.all(nodes.map(async n => await n.call('fetch', { digest, origin: `${origin!.url}/blob` }, 300_000)))

    // Freeze three non-bootstrap nodes once the swarm holds a third of all pieces it needs.
    const victims = nodes.slice(1, 1 + FROZEN)
    const deadline = Date.now() + 120_000
    while (total() < (NODES * pieces) / 3 && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 50))
    const frozenAt = total()
    for (const v of victims) v.proc.kill('SIGSTOP')
    await new Promise(resolve => setTimeout(resolve, FREEZE_MS))
    for (const v of victims) v.proc.kill('SIGCONT')

    const replies = await fetches
    for (const r of replies) {
      expect(r.ok, JSON.stringify(r.error)).toBe(true)
      expect(r.sha256).toBe(digest)
    }
    const ratio = origin.bytesSent() / SIZE
    console.log(`[freeze] ${NODES} nodes, ${SIZE / MiB} MiB, ${FROZEN} frozen ${FREEZE_MS} ms at ${frozenAt} of ${NODES * pieces} pieces: origin sent ${ratio.toFixed(3)} x the blob`)
    expect(frozenAt).toBeLessThan(NODES * pieces) // the freeze happened mid-transfer
    expect(ratio).toBeGreaterThanOrEqual(1)
    expect(ratio).toBeLessThanOrEqual(MAX_ORIGIN_RATIO)
  }, 420_000)
})
