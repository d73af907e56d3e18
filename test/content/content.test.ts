import { createHash, randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import {
  Bitfield, choosePieceSize, cidToDigest, decodePieceMap, digestToCid, encodePieceMap, MiB, parseDigest,
  pieceCount, pieceMapCid, PieceMapBuilder, pieceRange, piecesForRange, verifyPiece
} from '../../src/content/index.js'

const hex = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

describe('digest <-> CID', () => {
  it('round-trips and shares the same 32 bytes', () => {
    const d = `sha256:${hex(Buffer.from('hello'))}`
    const cid = digestToCid(d)
    expect(cid.version).toBe(1)
    expect(cid.code).toBe(0x55)
    expect(Buffer.from(cid.multihash.digest).toString('hex')).toBe(d.slice(7))
    expect(cidToDigest(cid).digest).toBe(d)
    expect(parseDigest(cid.toString()).digest).toBe(d)
  })

  it.each([
    'sha256:abc', 'sha256:' + 'A'.repeat(64), 'sha512:' + 'a'.repeat(64), 'md5:x', '', 'sha256:' + 'a'.repeat(65), 'bafy-not-a-cid'
  ])('rejects %s with InvalidDigestError', (bad) => {
    expect(() => parseDigest(bad)).toThrow(expect.objectContaining({ name: 'InvalidDigestError' }))
  })
})

describe('piece math', () => {
  it('picks powers of two from 1 to 16 MiB', () => {
    expect(choosePieceSize(0)).toBe(MiB)
    expect(choosePieceSize(1)).toBe(MiB)
    expect(choosePieceSize(64 * MiB)).toBe(MiB)
    expect(choosePieceSize(512 * MiB + 1)).toBe(2 * MiB)
    expect(choosePieceSize(1024 * 1024 * MiB)).toBe(16 * MiB)
  })

  it('handles the edges: empty, one byte, exact multiples, a short last piece', () => {
    expect(pieceCount(0, MiB)).toBe(0)
    expect(() => pieceRange(0, MiB, 0)).toThrow(expect.objectContaining({ name: 'InvalidRequestError' }))
    expect(pieceCount(1, MiB)).toBe(1)
    expect(pieceRange(1, MiB, 0)).toEqual({ start: 0, end: 1 })
    expect(pieceCount(4 * MiB, MiB)).toBe(4)
    expect(pieceRange(4 * MiB, MiB, 3)).toEqual({ start: 3 * MiB, end: 4 * MiB })
    expect(pieceCount(4 * MiB + 5, MiB)).toBe(5)
    expect(pieceRange(4 * MiB + 5, MiB, 4)).toEqual({ start: 4 * MiB, end: 4 * MiB + 5 })
    expect(() => pieceRange(4 * MiB, MiB, 4)).toThrow()
    expect(() => pieceCount(10, 3)).toThrow()
    expect(piecesForRange(4 * MiB + 5, MiB, MiB - 1, MiB + 1)).toEqual({ first: 0, last: 1 })
    expect(piecesForRange(10, MiB, 10, 20)).toBeUndefined()
  })
})

describe('piece map', () => {
  it('is built in one pass, encodes deterministically and verifies pieces', async () => {
    const bytes = randomBytes(3 * MiB + 17)
    const b1 = new PieceMapBuilder(MiB)
    b1.update(bytes)
    const b2 = new PieceMapBuilder(MiB)
    for (let o = 0; o < bytes.length; o += 77_777) b2.update(bytes.subarray(o, o + 77_777))
    const m1 = b1.finish(`sha256:${hex(bytes)}`)
    const m2 = b2.finish()
    expect(m1.pieceDigests).toHaveLength(4)
    expect(Buffer.from(encodePieceMap(m1))).toEqual(Buffer.from(encodePieceMap(m2)))
    expect((await pieceMapCid(m1)).equals(await pieceMapCid(m2))).toBe(true)
    const back = decodePieceMap(encodePieceMap(m1))
    expect(back).toEqual({ ...m1, pieceDigests: m1.pieceDigests.map(d => new Uint8Array(d)) })
    expect(verifyPiece(m1, 3, bytes.subarray(3 * MiB))).toBe(true)
    const bad = Buffer.from(bytes.subarray(0, MiB)); bad[5] ^= 1
    expect(verifyPiece(m1, 0, bad)).toBe(false)
  })

  it('empty blob has zero pieces and the empty sha256', () => {
    const m = new PieceMapBuilder(MiB).finish()
    expect(m.size).toBe(0)
    expect(m.pieceDigests).toHaveLength(0)
    expect(m.digest).toBe(`sha256:${hex(Buffer.alloc(0))}`)
    expect(decodePieceMap(encodePieceMap(m)).size).toBe(0)
  })

  it('refuses malformed or inconsistent maps', () => {
    expect(() => decodePieceMap(Uint8Array.from([0xff, 0xff, 0xff]))).toThrow(expect.objectContaining({ name: 'ProtocolError' }))
    const m = new PieceMapBuilder(MiB)
    m.update(randomBytes(2 * MiB))
    const good = m.finish()
    const lying = encodePieceMap({ ...good, pieceDigests: good.pieceDigests.slice(1) })
    expect(() => decodePieceMap(lying)).toThrow(/expected 2/)
    expect(() => new PieceMapBuilder(MiB).finish(`sha256:${'0'.repeat(64)}`)).toThrow(expect.objectContaining({ name: 'DigestMismatchError' }))
  })
})

describe('bitfield', () => {
  it('sets, counts and round-trips through bytes', () => {
    const b = new Bitfield(10)
    expect(b.set(0)).toBe(true)
    expect(b.set(9)).toBe(true)
    expect(b.set(9)).toBe(false)
    expect(b.count).toBe(2)
    const c = new Bitfield(10, b.bytes)
    expect([...c.indexes()]).toEqual([0, 9])
    expect(new Bitfield(10, Uint8Array.from([0xff, 0xff])).count).toBe(10)
    c.setAll()
    expect(c.full).toBe(true)
  })
})
