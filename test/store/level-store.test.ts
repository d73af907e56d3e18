import { cp, mkdir, mkdtemp, readdir, rm, writeFile, open, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createStore, type BlobStore } from '../../src/store/index.js'
import { hashFile } from '../../src/store/files.js'
import { PieceMapBuilder } from '../../src/content/index.js'
import { collect, expectName, makeBlob, sameBytes } from './helpers.js'

const P = 4096

describe('level store on disk', () => {
  let dir: string
  let store: BlobStore

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'starling-store-'))
    store = createStore({ dir })
    await store.start()
  })

  afterEach(async () => {
    vi.useRealTimers()
    await store.stop()
    await rm(dir, { recursive: true, force: true })
  })

  async function restart (): Promise<void> {
    await store.stop()
    store = createStore({ dir })
    await store.start()
  }

  it('keeps complete blobs and verified partial pieces across a restart', async () => {
    const done = await store.import([makeBlob(10_000, P).bytes])
    const blob = makeBlob(5 * P, P)
    await store.open(blob.digest, blob.map.size, P)
    for (const i of [0, 3]) await store.writePiece(blob.digest, i, blob.piece(i), blob.map.pieceDigests[i])
    await store.pin(done.digest, true)
    await restart()
    expect(await store.has(done.digest)).toBe(true)
    expect(await store.stat(done.digest)).toMatchObject({ pinned: true, complete: true, size: 10_000 })
    expect(await store.pieceMap(done.digest)).toEqual(done.pieceMap)
    expect([...(await store.have(blob.digest))!.indexes()]).toEqual([0, 3])
    expect(store.usage().bytes).toBe(10_000 + 2 * P)
    expect(sameBytes(await store.readPiece(blob.digest, 3), blob.piece(3))).toBe(true)
    for (const i of [1, 2, 4]) await store.writePiece(blob.digest, i, blob.piece(i), blob.map.pieceDigests[i])
    await store.complete(blob.digest)
    expect(sameBytes(await collect(store.read(blob.digest)), blob.bytes)).toBe(true)
    const hex = blob.digest.slice(7)
    expect(await readdir(join(dir, 'blobs', 'sha256', hex.slice(0, 2)))).toContain(hex)
    expect(await readdir(join(dir, 'partial'))).toEqual([])
  })

  it('keeps the LRU order of recent reads across a restart', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const T = 5_000_000
    const d: string[] = []
    for (let i = 0; i < 3; i++) {
      vi.setSystemTime(T + i * 100)
      d.push((await store.import([makeBlob(1000, P).bytes])).digest)
    }
    vi.setSystemTime(T + 300)
    await collect(store.read(d[0])) // A, within a second of its import
    await restart() // stop() writes the debounced last-access times
    expect((await store.stat(d[0]))?.lastAccess).toBe(T + 300)
    expect((await store.gc({ targetBytes: 2000 })).evicted).toEqual([d[1]])
    expect((await store.gc({ targetBytes: 1000 })).evicted).toEqual([d[2]])
  })

  it('writes touched last-access times to the index within about a second, without a stop', async () => {
    const a = await store.import([makeBlob(1000, P).bytes])
    const b = await store.import([makeBlob(1000, P).bytes])
    await new Promise(resolve => setTimeout(resolve, 10))
    for (let i = 0; i < 50; i++) { await store.touch(a.digest); await store.touch(b.digest) }
    const touchedAt = (await store.stat(a.digest))!.lastAccess
    await new Promise(resolve => setTimeout(resolve, 1300))
    // copy the index while the store runs: what a crash now would leave
    const copy = await mkdtemp(join(tmpdir(), 'starling-store-copy-'))
    try {
      await cp(dir, copy, { recursive: true })
      await rm(join(copy, 'index', 'LOCK'), { force: true })
      const other = createStore({ dir: copy })
      await other.start()
      expect((await other.stat(a.digest))?.lastAccess).toBe(touchedAt)
      await other.stop()
    } finally { await rm(copy, { recursive: true, force: true }) }
  })

  it('drops a partial piece whose bytes were corrupted while stopped', async () => {
    const blob = makeBlob(4 * P, P)
    await store.open(blob.digest, blob.map.size, P)
    for (const i of [0, 1, 2]) await store.writePiece(blob.digest, i, blob.piece(i), blob.map.pieceDigests[i])
    await store.stop()
    const fh = await open(join(dir, 'partial', blob.digest.slice(7)), 'r+')
    await fh.write(new Uint8Array([blob.bytes[P + 5] ^ 0xff]), 0, 1, P + 5)
    await fh.close()
    store = createStore({ dir })
    await store.start()
    expect([...(await store.have(blob.digest))!.indexes()]).toEqual([0, 2])
    expect((await store.pieceDigests(blob.digest))?.[1]).toBeUndefined()
    expect(store.usage().bytes).toBe(2 * P)
    await expectName(store.readPiece(blob.digest, 1), 'NotFoundError')
    // re-fetching the dropped piece makes the blob whole again
    await store.writePiece(blob.digest, 1, blob.piece(1), blob.map.pieceDigests[1])
    await store.writePiece(blob.digest, 3, blob.piece(3), blob.map.pieceDigests[3])
    expect((await store.complete(blob.digest)).complete).toBe(true)
  })

  it('complete() with wrong bytes leaves no file and no index entry, also after restart', async () => {
    const good = makeBlob(2 * P, P)
    const bad = makeBlob(2 * P, P)
    await store.open(good.digest, good.map.size, P)
    for (const i of [0, 1]) await store.writePiece(good.digest, i, bad.piece(i), bad.map.pieceDigests[i])
    await expectName(store.complete(good.digest), 'DigestMismatchError')
    expect(await readdir(join(dir, 'partial'))).toEqual([])
    await restart()
    expect(await store.list()).toEqual([])
  })

  it('cleans tmp/, stray partial files and unrecorded blob files on start', async () => {
    await writeFile(join(dir, 'tmp', 'import-leftover'), 'x')
    await writeFile(join(dir, 'partial', 'f'.repeat(64)), 'y')
    const kept = await store.import([new Uint8Array([7])])
    await mkdir(join(dir, 'blobs', 'sha256', 'ee'), { recursive: true })
    await writeFile(join(dir, 'blobs', 'sha256', 'ee', 'e'.repeat(64)), 'z')
    await restart()
    expect(await readdir(join(dir, 'blobs', 'sha256', 'ee'))).toEqual([])
    expect(await store.has(kept.digest)).toBe(true)
    expect(await readdir(join(dir, 'tmp'))).toEqual([])
    expect(await readdir(join(dir, 'partial'))).toEqual([])
  })

  it('forgets a complete blob whose file vanished while stopped', async () => {
    const r = await store.import([new Uint8Array(100)])
    await store.stop()
    await rm(join(dir, 'blobs', 'sha256', r.digest.slice(7, 9), r.digest.slice(7)))
    store = createStore({ dir })
    await store.start()
    expect(await store.has(r.digest)).toBe(false)
    expect(store.usage().bytes).toBe(0)
  })

  it('throws NotStartedError when stopped', async () => {
    await store.stop()
    await expectName(store.list(), 'NotStartedError')
    store = createStore({ dir })
    await store.start()
  })

  it('hashFile streams a file into the same piece map as the builder', async () => {
    const blob = makeBlob(3 * P + 17, P)
    const path = join(dir, 'tmp', 'h')
    await writeFile(path, blob.bytes)
    for (const ps of [P, 2 * P, 8 * P]) {
      const b = new PieceMapBuilder(ps)
      b.update(blob.bytes)
      expect(await hashFile(path, ps)).toEqual(b.finish())
    }
  })

  it('imports 64 MiB streaming, without buffering the blob', async () => {
    const chunk = new Uint8Array(1024 * 1024)
    const total = 64
    async function * source (): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < total; i++) { chunk.fill(i); yield chunk }
    }
    global.gc?.()
    const before = process.memoryUsage().rss
    let peak = before
    const timer = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss) }, 5)
    const r = await store.import(source())
    let n = 0
    for await (const c of store.read(r.digest)) { n += c.byteLength; peak = Math.max(peak, process.memoryUsage().rss) }
    clearInterval(timer)
    expect(n).toBe(total * 1024 * 1024)
    expect(r.size).toBe(total * 1024 * 1024)
    expect(r.pieceMap.pieceDigests.length).toBe(64)
    expect((await stat(join(dir, 'blobs', 'sha256', r.digest.slice(7, 9), r.digest.slice(7)))).size).toBe(r.size)
    expect(peak - before).toBeLessThan(64 * 1024 * 1024)
  })
})
