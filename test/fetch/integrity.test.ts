/**
 * The trust rule (docs/security.md, "Trust rule") against a lying peer
 * written from the protocol specs (fixtures/liar.ts), over loopback TCP: a
 * victim daemon with its real node, the liar, an honest node process and an
 * HTTP origin. Wrong pieces and piece maps here; how long a liar can stall
 * a fetch, a wrong size and a full disk in integrity-bounds.test.ts.
 */
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import type { Daemon } from '../../src/daemon/daemon.js'
import { createNode } from '../../src/index.js'
import { choosePieceSize, pieceMapCid, PieceMapBuilder } from '../../src/content/index.js'
import { startLiar, type Liar } from '../fixtures/liar.js'
import { runCli } from '../cli/helpers.js'
import { equal, MiB, startHonest, startVictim, token, useIntegrityRig, waitFor } from './integrity-helpers.js'

const rig = useIntegrityRig({ lie: 12 * MiB, restart: 8 * MiB, noorigin: 12 * MiB, mapcid: 12 * MiB, mapcli: 6 * MiB })

/** Reads an HTTP body as far as it goes; a cut connection ends it early. */
async function getBody (url: string, auth: string): Promise<{ status: number, length?: number, body: Uint8Array, cut: boolean }> {
  const res = await fetch(url, { headers: { authorization: `Bearer ${auth}` } })
  const chunks: Uint8Array[] = []
  let cut = false
  try {
    for await (const c of res.body as any) chunks.push(c)
  } catch { cut = true }
  const body = new Uint8Array(Buffer.concat(chunks))
  const cl = res.headers.get('content-length')
  return { status: res.status, length: cl == null ? undefined : Number(cl), body, cut }
}

describe('a lying peer that serves a consistent fake piece map', () => {
  it('no reader gets a complete wrong body, the victim ends right from the origin, only the liar is struck and banned', async () => {
    const b = rig.blobs.lie
    const victim = await startVictim(join(rig.dir, 'victim'))
    rig.cleanup.push(async () => { await victim.stop() })
    const addr = victim.node.addresses()[0]
    // an honest node holding the blob, connected to the victim
    const honest = await startHonest(rig, 'honest', b, addr)
    // its last piece comes 1.5 s late: readers wait at the end of a body of fake bytes
    const liar: Liar = await startLiar({ digestHex: b.hex, size: b.bytes.byteLength, pieceSize: choosePieceSize(b.bytes.byteLength), mode: 'lie', holdLastMs: 1500 })
    rig.cleanup.push(async () => { await liar.stop() })
    await liar.dial(addr)
    await waitFor(() => victim.node.peers().some(p => p.id === honest.peerId) && victim.node.peers().some(p => p.id === liar.peerId), 15_000)

    const url = `${rig.origin.url}/lie`
    // a library reader and an HTTP API client, both while the download runs
    const lib = (async () => {
      const chunks: Uint8Array[] = []
      try {
        for await (const c of victim.node.fetch(b.digest, { origin: url })) chunks.push(c)
        return { body: new Uint8Array(Buffer.concat(chunks)), err: undefined }
      } catch (err) {
        return { body: new Uint8Array(Buffer.concat(chunks)), err: err as Error }
      }
    })()
    const http = getBody(`${victim.apiUrl}/api/v1/blobs/${b.digest}?origin=${encodeURIComponent(url)}`, await token(victim))
    const [l, h] = await Promise.all([lib, http])

    // the liar was asked for pieces (the test exercises the lie)
    expect(liar.requests()).toBeGreaterThan(0)
    // no reader received the final byte of a wrong body
    if (l.err == null) expect.soft(equal(l.body, b.bytes), 'library reader finished with a wrong body').toBe(true)
    else expect.soft(l.body.byteLength, 'library reader got every byte of a wrong body').toBeLessThan(b.bytes.byteLength)
    if (h.status === 200 && h.body.byteLength === h.length) expect.soft(equal(h.body, b.bytes), 'HTTP client got a complete wrong body').toBe(true)
    if (!equal(h.body, b.bytes)) expect.soft(h.body.byteLength, 'HTTP client got every byte of a wrong body').toBeLessThan(b.bytes.byteLength)

    // the victim ends with the right bytes
    const r = await victim.node.fetch(b.digest, { origin: url })
    expect(r.digest).toBe(b.digest)
    const again: Uint8Array[] = []
    for await (const c of victim.node.fetch(b.digest)) again.push(c)
    expect(equal(new Uint8Array(Buffer.concat(again)), b.bytes)).toBe(true)

    // only the liar is struck, and with repeated strikes banned
    const peers = victim.node.peers()
    const l2 = peers.find(p => p.id === liar.peerId)
    expect(l2?.banned).toBe(true)
    const h2 = peers.find(p => p.id === honest.peerId)
    expect(h2?.strikes ?? 0).toBe(0)
    expect(h2?.banned ?? false).toBe(false)
    expect(h2?.lastStrikes ?? []).toEqual([])
  }, 120_000)

  it('after a restart nothing of the liar remains: no piece held, and a fetch with the origin succeeds', async () => {
    const b = rig.blobs.restart
    const dataDir = join(rig.dir, 'victim-restart')
    let victim = await startVictim(dataDir)
    const liar = await startLiar({ digestHex: b.hex, size: b.bytes.byteLength, pieceSize: choosePieceSize(b.bytes.byteLength), mode: 'lie' })
    rig.cleanup.push(async () => { await liar.stop() })
    await liar.dial(victim.node.addresses()[0])
    await waitFor(() => victim.node.peers().some(p => p.id === liar.peerId), 15_000)
    // no origin: the victim can only take the liar's pieces (the last one never comes)
    const ctrl = new AbortController()
    const f = victim.node.fetch(b.digest, { signal: ctrl.signal })
    Promise.resolve(f).catch(() => {})
    const n = Math.ceil(b.bytes.byteLength / choosePieceSize(b.bytes.byteLength))
    await waitFor(async () => ((await victim.node.stat(b.digest))?.piecesHeld ?? 0) >= n - 1, 30_000)
    ctrl.abort()
    await liar.stop()
    await victim.stop()
    victim = await startVictim(dataDir)
    rig.cleanup.push(async () => { await victim.stop() })
    expect((await victim.node.stat(b.digest))?.piecesHeld ?? 0).toBe(0)
    const r = await victim.node.fetch(b.digest, { origin: `${rig.origin.url}/restart` })
    expect(r.digest).toBe(b.digest)
    const got: Uint8Array[] = []
    for await (const c of victim.node.fetch(b.digest)) got.push(c)
    expect(equal(new Uint8Array(Buffer.concat(got)), b.bytes)).toBe(true)
  }, 90_000)
})

describe('a whole-blob mismatch with no origin is resolved piece by piece', () => {
  it('the victim ends with the right bytes from the honest peer, the liar is struck once per wrong piece it sent, the honest peer not at all', async () => {
    const b = rig.blobs.noorigin
    const victim = await startVictim(join(rig.dir, 'victim-noorigin'))
    rig.cleanup.push(async () => { await victim.stop() })
    const addr = victim.node.addresses()[0]
    const honest = await startHonest(rig, 'honest-noorigin', b, addr)
    // the liar serves every piece at once: the victim takes some of them
    const pieceSize = choosePieceSize(b.bytes.byteLength)
    const liar = await startLiar({ digestHex: b.hex, size: b.bytes.byteLength, pieceSize, mode: 'lie', holdLastMs: 0 })
    rig.cleanup.push(async () => { await liar.stop() })
    await liar.dial(addr)
    await waitFor(() => victim.node.peers().some(p => p.id === honest.peerId) && victim.node.peers().some(p => p.id === liar.peerId), 15_000)

    // no origin: before, a mismatch here failed the fetch with DigestMismatchError
    const fromLiar = new Set<number>()
    const r = await victim.node.fetch(b.digest, {
      onProgress: (e) => { if (e.type === 'starling:fetch:piece' && e.detail.peer === liar.peerId) fromLiar.add(e.detail.index) }
    })
    expect(r.digest).toBe(b.digest)
    const got: Uint8Array[] = []
    for await (const c of victim.node.fetch(b.digest)) got.push(c)
    expect(equal(new Uint8Array(Buffer.concat(got)), b.bytes)).toBe(true)

    // the liar's pieces were taken (the test exercises the lie), and every one of them was fake
    expect(fromLiar.size).toBeGreaterThan(0)
    const peers = victim.node.peers()
    const l = peers.find(p => p.id === liar.peerId)
    // struck once per wrong piece it vouched for (the history keeps the last 5), banned from the third
    const struck = (l?.lastStrikes ?? []).map(s => Number(/piece (\d+)/.exec(s.reason)?.[1]))
    expect(struck.length).toBe(Math.min(fromLiar.size, 5))
    for (const i of struck) expect(fromLiar.has(i), `struck for piece ${i}, which it did not send`).toBe(true)
    expect(l?.banned ?? false).toBe(fromLiar.size >= 3)
    const h = peers.find(p => p.id === honest.peerId)
    expect(h?.strikes ?? 0).toBe(0)
    expect(h?.banned ?? false).toBe(false)
    expect(h?.lastStrikes ?? []).toEqual([])
  }, 120_000)
})

describe('an authenticated piece map (the caller gives its CID)', () => {
  it('a liar with a fake piece map gets no piece accepted: it is struck for its map, and the victim ends right from the honest peer', async () => {
    const b = rig.blobs.mapcid
    const pieceSize = choosePieceSize(b.bytes.byteLength)
    const builder = new PieceMapBuilder(pieceSize)
    builder.update(b.bytes)
    const cid = (await pieceMapCid(builder.finish(b.digest))).toString()
    const victim = await createNode({ dataDir: join(rig.dir, 'victim-mapcid'), listen: ['/ip4/127.0.0.1/tcp/0'] } as any)
    await victim.start()
    rig.cleanup.push(async () => { await victim.stop() })
    const addr = victim.addresses()[0]
    const honest = await startHonest(rig, 'honest-mapcid', b, addr)
    // the liar's consistent fake map: every piece, each matching its fake digest, served at once
    const liar = await startLiar({ digestHex: b.hex, size: b.bytes.byteLength, pieceSize, mode: 'lie', holdLastMs: 0 })
    rig.cleanup.push(async () => { await liar.stop() })
    await liar.dial(addr)
    await waitFor(() => victim.peers().some(p => p.id === honest.peerId) && victim.peers().some(p => p.id === liar.peerId), 15_000)

    const fromLiar: number[] = []
    const f = victim.fetch(b.digest, {
      pieceMap: cid,
      onProgress: (e) => { if (e.type === 'starling:fetch:piece' && e.detail.peer === liar.peerId) fromLiar.push(e.detail.index) }
    })
    const got: Uint8Array[] = []
    for await (const c of f) got.push(c)
    expect(equal(new Uint8Array(Buffer.concat(got)), b.bytes)).toBe(true)
    // not a single piece of the liar was accepted (without the CID it gets some: the test above)
    expect(fromLiar).toEqual([])
    const l = victim.peers().find(p => p.id === liar.peerId)
    expect((l?.lastStrikes ?? []).some(s => s.reason.includes('piece map'))).toBe(true)
    const h = victim.peers().find(p => p.id === honest.peerId)
    expect(h?.strikes ?? 0).toBe(0)
    expect(h?.lastStrikes ?? []).toEqual([])
  }, 120_000)

  it('the CLI: add --json and stat print the CID, get --piece-map fetches with it past a liar', async () => {
    const b = rig.blobs.mapcli
    const seeder = await startVictim(join(rig.dir, 'seeder-mapcli'))
    rig.cleanup.push(async () => { await seeder.stop() })
    const victim = await startVictim(join(rig.dir, 'victim-mapcli'), [seeder.node.addresses()[0]])
    rig.cleanup.push(async () => { await victim.stop() })
    const file = join(rig.dir, 'mapcli.bin')
    await writeFile(file, b.bytes)
    const env = async (d: Daemon): Promise<Record<string, string>> => ({ STARLING_API_TOKEN: await token(d) })
    const add = await runCli(['--api', seeder.apiUrl, '--json', 'add', file], { env: await env(seeder) })
    expect(add.stderr).toBe('')
    const added = JSON.parse(add.stdout)
    expect(added.digest).toBe(b.digest)
    const builder = new PieceMapBuilder(choosePieceSize(b.bytes.byteLength))
    builder.update(b.bytes)
    const cid = (await pieceMapCid(builder.finish())).toString()
    expect(added.pieceMap).toBe(cid)
    const stat = await runCli(['--api', seeder.apiUrl, 'stat', b.digest], { env: await env(seeder) })
    expect(stat.stdout).toContain(`piece map ${cid}`)
    // the victim: the seeder (its bootstrap peer) and a liar with a fake map connected
    const liar = await startLiar({ digestHex: b.hex, size: b.bytes.byteLength, pieceSize: choosePieceSize(b.bytes.byteLength), mode: 'lie', holdLastMs: 0 })
    rig.cleanup.push(async () => { await liar.stop() })
    await liar.dial(victim.node.addresses()[0])
    await waitFor(() => victim.node.peers().some(p => p.id === seeder.node.peerId) && victim.node.peers().some(p => p.id === liar.peerId), 15_000)
    const out = join(rig.dir, 'mapcli.out')
    const get = await runCli(['--api', victim.apiUrl, 'get', b.digest, '--piece-map', cid, '-o', out, '--no-progress'], { env: await env(victim) })
    expect(get.code, get.stderr).toBe(0)
    expect(equal(new Uint8Array(await readFile(out)), b.bytes)).toBe(true)
    expect(victim.node.peers().find(p => p.id === seeder.node.peerId)?.strikes ?? 0).toBe(0)
  }, 120_000)

  it('a CID that is not one is refused before any work', async () => {
    const node = await createNode({ dataDir: join(rig.dir, 'victim-badcid'), listen: ['/ip4/127.0.0.1/tcp/0'] } as any)
    await node.start()
    rig.cleanup.push(async () => { await node.stop() })
    expect(() => node.fetch(rig.blobs.mapcid.digest, { pieceMap: 'not-a-cid' })).toThrow(expect.objectContaining({ name: 'InvalidRequestError' }))
  })
})
