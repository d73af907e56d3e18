/**
 * Discovery a caller can rely on (issue #12), with real node processes over
 * TCP on loopback: start() resolves with the bootstrap peer connected; a
 * fetch with no origin issued before any connection exists waits for the
 * swarm instead of failing; a fetch nobody can serve fails with a
 * NoSourceError that says what was tried, after the documented waits
 * (src/fetch/seek.ts, docs/decisions.md "Ready means connected").
 */
import { createHash, randomBytes } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SEEK_ALONE_MS, SEEK_MIN_MS } from '../../src/fetch/seek.js'
import { DEFAULT_DISCOVERY_TIMEOUT_MS } from '../../src/fetch/constants.js'
import { loopbackAddr, startNodeProcess, type NodeProcess } from '../fixtures/swarm.js'

const MiB = 1024 * 1024
const UNKNOWN = `sha256:${'ab'.repeat(32)}`
const TRIED = /^no peer holds sha256:[0-9a-f]{64} and no origin was given: asked (\d+) peer\(s\) \((\d+) connected now\), (\d+) DHT lookup\(s\), waited (\d+\.\d) s$/

let dir: string
let seeder: NodeProcess
let digest: string
const nodes: NodeProcess[] = []

async function start (name: string, options: Record<string, unknown> = {}): Promise<NodeProcess> {
  const n = await startNodeProcess({ dataDir: join(dir, name), listen: ['/ip4/127.0.0.1/tcp/0'], ...options })
  nodes.push(n)
  return n
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'starling-discovery-'))
  const bytes = randomBytes(4 * MiB)
  digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`
  await writeFile(join(dir, 'blob.bin'), bytes)
  seeder = await start('seeder')
  const added = await seeder.call('add', { path: join(dir, 'blob.bin') })
  expect(added.digest).toBe(digest)
})

afterAll(async () => {
  await Promise.all(nodes.map(async n => { await n.kill() }))
  await rm(dir, { recursive: true, force: true })
})

describe('discovery right after start', () => {
  it('start() resolves once the bootstrap dial has settled: the bootstrap peer is connected', async () => {
    const n = await start('joined', { bootstrap: [loopbackAddr(seeder)] })
    const { stats } = await n.call('stats')
    expect(stats.connectedPeers).toBe(1)
  })

  it('a fetch with no origin issued before the bootstrap connection exists waits for the peer', async () => {
    // bootstrapTimeoutMs 0: start() does not wait, so only the fetch's own waiting can find the seeder
    const n = await start('early', { bootstrap: [loopbackAddr(seeder)], bootstrapTimeoutMs: 0 })
    const [{ stats }, r] = await Promise.all([n.call('stats'), n.call('fetch', { digest })])
    console.log(`[discovery] connected peers when the fetch began: ${stats.connectedPeers as number}`)
    expect(r.ok, JSON.stringify(r.error)).toBe(true)
    expect(r.sha256).toBe(digest)
    expect(r.result.bytesBySource['peer-local']).toBe(4 * MiB)
    expect(r.result.bytesBySource.origin).toBe(0)
  })

  it('a blob nobody holds: NoSourceError after the connected peer answered, saying what was tried', async () => {
    const n = nodes.find(x => x !== seeder)!
    const t0 = performance.now()
    const r = await n.call('fetch', { digest: UNKNOWN })
    const ms = performance.now() - t0
    expect(r.ok).toBe(false)
    expect(r.error.name).toBe('NoSourceError')
    const m = TRIED.exec(r.error.message)
    expect(m, r.error.message).not.toBeNull()
    // the seeder at least (the self-lookup after the bootstrap dial may have met the other node too)
    expect(Number(m![1])).toBeGreaterThanOrEqual(1)
    expect(Number(m![2])).toBeGreaterThanOrEqual(1)
    expect(Number(m![3])).toBeGreaterThanOrEqual(1)
    expect(Number(m![4])).toBeGreaterThanOrEqual(SEEK_MIN_MS / 1000)
    expect(ms).toBeGreaterThanOrEqual(SEEK_MIN_MS)
    expect(ms).toBeLessThan(DEFAULT_DISCOVERY_TIMEOUT_MS)
  })

  it('a node with no peer at all waits SEEK_ALONE_MS for one, then says nobody was there to ask', async () => {
    const n = await start('alone')
    const t0 = performance.now()
    const r = await n.call('fetch', { digest })
    const ms = performance.now() - t0
    expect(r.error?.name).toBe('NoSourceError')
    const m = TRIED.exec(r.error.message)
    expect(m, r.error.message).not.toBeNull()
    expect(Number(m![1])).toBe(0)
    expect(Number(m![2])).toBe(0)
    expect(Number(m![4])).toBeGreaterThanOrEqual(SEEK_ALONE_MS / 1000)
    expect(ms).toBeGreaterThanOrEqual(SEEK_ALONE_MS)
    expect(ms).toBeLessThan(DEFAULT_DISCOVERY_TIMEOUT_MS)
  })
})
