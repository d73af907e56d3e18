import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { equalBytes } from '../../src/content/index.js'
import { LevelStore } from '../../src/store/level-store.js'
import { createPrefixHasher } from '../../src/store/prefix-hash.js'
import { expectName, makeBlob } from './helpers.js'

const P = 1024 * 1024

describe('prefix hasher (worker thread)', () => {
  let dir: string
  beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'starling-prefix-')) })
  afterEach(async () => { await rm(dir, { recursive: true, force: true }) })

  it('gives the piece map of the file whether it was advanced in steps, at once, or not at all', async () => {
    const blob = makeBlob(5 * P + 123, P)
    const path = join(dir, 'f')
    await writeFile(path, blob.bytes)
    const h = createPrefixHasher()
    try {
      h.advance(1, path, P, 2 * P)
      h.advance(1, path, P, 2 * P) // no news: nothing hashed twice
      h.advance(1, path, P, 4 * P)
      const stepped = await h.finish(1, path, P, blob.bytes.byteLength)
      const whole = await h.finish(2, path, P, blob.bytes.byteLength)
      for (const m of [stepped, whole]) {
        expect(m?.digest).toBe(blob.digest)
        expect(m?.size).toBe(blob.bytes.byteLength)
        expect(m?.pieceDigests.length).toBe(blob.map.pieceDigests.length)
        expect(m?.pieceDigests.every((d, i) => equalBytes(d, blob.map.pieceDigests[i]))).toBe(true)
      }
    } finally { await h.close() }
  })

  it('hashes the bytes on disk, not a copy: a prefix hashed before the file changed gives the old bytes', async () => {
    // what LevelStore relies on when it drops a job after held pieces were dropped
    const a = makeBlob(2 * P, P)
    const path = join(dir, 'f')
    await writeFile(path, a.bytes)
    const h = createPrefixHasher()
    try {
      h.advance(7, path, P, P)
      const b = makeBlob(2 * P, P)
      const mixed = new Uint8Array(2 * P)
      mixed.set(a.bytes.subarray(0, P)); mixed.set(b.bytes.subarray(P), P)
      await h.finish(99, path, P, 2 * P) // a barrier: job 7's advance has run
      await writeFile(path, b.bytes)
      const m = await h.finish(7, path, P, 2 * P)
      expect(m?.digest).not.toBe(b.digest)
      expect(equalBytes(m!.pieceDigests[0], a.map.pieceDigests[0])).toBe(true)
      expect(equalBytes(m!.pieceDigests[1], b.map.pieceDigests[1])).toBe(true)
      h.drop(7)
      expect((await h.finish(7, path, P, 2 * P))?.digest).toBe(b.digest) // a finished job starts again from 0
    } finally { await h.close() }
  })

  it('a failed read is an error, which the store answers by hashing the file itself', async () => {
    const h = createPrefixHasher()
    try {
      await expectName(h.finish(1, join(dir, 'missing'), P, P), 'PrefixHashError')
    } finally { await h.close() }
  })
})

describe('LevelStore with the prefix hash', () => {
  let dir: string
  let store: LevelStore
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'starling-prefix-store-'))
    store = new LevelStore({ dir })
    await store.start()
  })
  afterEach(async () => { await store.stop(); await rm(dir, { recursive: true, force: true }) })

  it('completes out-of-order pieces with the right digest and piece map', async () => {
    const blob = makeBlob(6 * P + 7, P)
    await store.open(blob.digest, blob.bytes.byteLength, P)
    for (const i of [3, 1, 0, 6, 2, 5, 4]) await store.writePiece(blob.digest, i, blob.piece(i), blob.map.pieceDigests[i])
    const info = await store.complete(blob.digest)
    expect(info.complete).toBe(true)
    const map = await store.pieceMap(blob.digest)
    expect(map?.pieceDigests.every((d, i) => equalBytes(d, blob.map.pieceDigests[i]))).toBe(true)
  })

  it('after a mismatch the prefix hashed so far is not reused: the corrected blob completes, the wrong one never does', async () => {
    const good = makeBlob(4 * P, P)
    const bad = makeBlob(4 * P, P)
    await store.open(good.digest, 4 * P, P)
    // piece 1 is wrong, but checked only against a liar's claim (provisional)
    await store.writePiece(good.digest, 0, good.piece(0), good.map.pieceDigests[0])
    await store.writePiece(good.digest, 1, bad.piece(1), bad.map.pieceDigests[1], { provisional: true })
    await store.writePiece(good.digest, 2, good.piece(2), good.map.pieceDigests[2])
    await store.writePiece(good.digest, 3, good.piece(3), good.map.pieceDigests[3])
    await expectName(store.complete(good.digest), 'DigestMismatchError')
    expect((await store.have(good.digest))?.get(1)).toBe(false)
    await store.writePiece(good.digest, 1, good.piece(1), good.map.pieceDigests[1])
    expect((await store.complete(good.digest)).complete).toBe(true)
  })

  it('refuses a piece whose bytes do not match its digest, also for pieces hashed off the event loop', async () => {
    const blob = makeBlob(2 * P, P)
    await store.open(blob.digest, 2 * P, P)
    const wrong = new Uint8Array(blob.piece(0)); wrong[12345] ^= 1
    await expectName(store.writePiece(blob.digest, 0, wrong, blob.map.pieceDigests[0]), 'DigestMismatchError')
    expect((await store.have(blob.digest))?.get(0)).toBe(false)
  })
})
