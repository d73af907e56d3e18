/**
 * What the integrity tests share: a temp folder and an HTTP origin serving
 * random blobs (one rig per test file), victim daemons, honest node
 * processes holding a blob, and small waits and comparisons.
 */
import { createHash, randomBytes } from 'node:crypto'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll } from 'vitest'
import { loadConfig } from '../../src/daemon/config.js'
import { startDaemon, type Daemon } from '../../src/daemon/daemon.js'
import { startOriginServer, type OriginServer } from '../fixtures/origin-server.js'
import { startNodeProcess, type NodeProcess } from '../fixtures/swarm.js'

export const MiB = 1024 * 1024
const silent = { debug () {}, info () {}, warn () {}, error () {}, trace () {}, fatal () {}, child () { return silent } } as any

export interface TestBlob { bytes: Uint8Array, digest: string, hex: string }

/** A test file's folder, origin and blobs (set in its beforeAll), and what its afterAll stops, last first. */
export interface IntegrityRig {
  dir: string
  origin: OriginServer
  blobs: Record<string, TestBlob>
  cleanup: Array<() => Promise<unknown>>
}

/** Registers the file's beforeAll and afterAll: a blob of random bytes per name, each served by the origin at `/<name>`. */
export function useIntegrityRig (sizes: Record<string, number>): IntegrityRig {
  const rig = { blobs: {}, cleanup: [] } as unknown as IntegrityRig
  beforeAll(async () => {
    rig.dir = await mkdtemp(join(tmpdir(), 'starling-integrity-'))
    for (const [name, size] of Object.entries(sizes)) {
      const bytes = new Uint8Array(randomBytes(size))
      const hex = createHash('sha256').update(bytes).digest('hex')
      rig.blobs[name] = { bytes, digest: `sha256:${hex}`, hex }
    }
    const files: Record<string, Uint8Array> = {}
    for (const [k, b] of Object.entries(rig.blobs)) files[`/${k}`] = b.bytes
    rig.origin = await startOriginServer({ files })
  })
  afterAll(async () => {
    for (const c of rig.cleanup.reverse()) await c().catch(() => {})
    await rig.origin?.close()
    await rm(rig.dir, { recursive: true, force: true })
  })
  return rig
}

export async function startVictim (dataDir: string, bootstrap: string[] = []): Promise<Daemon> {
  const config = await loadConfig({ env: {}, flags: { dataDir, api: '127.0.0.1:0', listen: ['/ip4/127.0.0.1/tcp/0'], gcInterval: '0', cacheSize: '1GiB', ...(bootstrap.length > 0 ? { bootstrap } : {}) } as any })
  return await startDaemon(config, { logger: silent })
}

export async function token (d: Daemon): Promise<string> {
  return (await readFile(d.tokenFile, 'utf8')).trim()
}

export function equal (a: Uint8Array, b: Uint8Array): boolean { return Buffer.from(a).equals(Buffer.from(b)) }

export async function waitFor (pred: () => Promise<boolean> | boolean, ms: number): Promise<void> {
  const end = Date.now() + ms
  while (Date.now() < end) {
    if (await pred()) return
    await new Promise(resolve => setTimeout(resolve, 100))
  }
  throw new Error('condition not met in time')
}

/** An honest node process holding the blob, bootstrapped to `addr` (the victim). */
export async function startHonest (rig: IntegrityRig, name: string, b: { bytes: Uint8Array }, addr: string): Promise<NodeProcess> {
  const file = join(rig.dir, `${name}.bin`)
  await writeFile(file, b.bytes)
  const honest = await startNodeProcess({ dataDir: join(rig.dir, name), listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: [addr] })
  rig.cleanup.push(async () => { await honest.kill() })
  await honest.call('add', { path: file })
  return honest
}
