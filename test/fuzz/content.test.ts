/**
 * The piece-map codec, digest parsing and the have-set: anything from the
 * wire or a caller is accepted or refused with our own named errors.
 */
import fc from 'fast-check'
import { base36 } from 'multiformats/bases/base36'
import { base58btc } from 'multiformats/bases/base58'
import { describe, expect, it } from 'vitest'
import { Bitfield, choosePieceSize, decodePieceMap, digestFromBytes, digestToCid, encodePieceMap, parseDigest, pieceCount, MAX_PIECE_SIZE, type PieceMap } from '../../src/content/index.js'
import { MAX_CID_LENGTH } from '../../src/content/digest.js'
import { HEADER_BYTES, onlyTyped, params, PARSE_BUDGET_MS, timed } from './fuzz.js'

const digest32 = fc.uint8Array({ minLength: 32, maxLength: 32 })

/** A piece map with a consistent shape (small blobs: the shape rules are the same at any size). */
const pieceMap: fc.Arbitrary<PieceMap> = fc.tuple(digest32, fc.nat({ max: 64 * 1024 }), fc.constantFrom(1024, 4096, 16384)).chain(([d, size, pieceSize]) =>
  fc.array(digest32, { minLength: pieceCount(size, pieceSize), maxLength: pieceCount(size, pieceSize) })
    .map(pieceDigests => ({ digest: digestFromBytes(d).digest, size, pieceSize, pieceDigests })))

describe('piece-map codec', () => {
  it('decodePieceMap(arbitrary bytes): a map or ProtocolError/InvalidDigestError', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 1024 }), b => {
      const map = onlyTyped(() => decodePieceMap(b), ['ProtocolError', 'InvalidDigestError'])
      if (map != null) {
        expect(map.pieceDigests.length).toBe(pieceCount(map.size, map.pieceSize))
        for (const d of map.pieceDigests) expect(d.byteLength).toBe(32)
      }
    }), params())
  })

  it('encode then decode gives the same map, and the encoding is deterministic', () => {
    fc.assert(fc.property(pieceMap, map => {
      const bytes = encodePieceMap(map)
      const back = decodePieceMap(bytes)
      expect(back.digest).toBe(map.digest)
      expect(back.size).toBe(map.size)
      expect(back.pieceSize).toBe(map.pieceSize)
      expect(back.pieceDigests.map(d => Buffer.from(d).toString('hex'))).toEqual(map.pieceDigests.map(d => Buffer.from(d).toString('hex')))
      expect(Buffer.from(encodePieceMap(back)).equals(Buffer.from(bytes))).toBe(true)
    }), params(200))
  })

  it('a valid encoding with bytes flipped, cut or added: a map or a named error', () => {
    const mutation = fc.record({ at: fc.nat(), xor: fc.integer({ min: 1, max: 255 }), cut: fc.nat(), extra: fc.uint8Array({ maxLength: 16 }) })
    fc.assert(fc.property(pieceMap, mutation, (map, m) => {
      const b = encodePieceMap(map)
      const flipped = Uint8Array.from(b)
      if (flipped.length > 0) flipped[m.at % flipped.length] ^= m.xor
      for (const bad of [flipped, b.subarray(0, m.cut % (b.length + 1)), Uint8Array.from([...b, ...m.extra])]) {
        onlyTyped(() => decodePieceMap(bad), ['ProtocolError', 'InvalidDigestError'])
      }
    }), params(300))
  })
})

describe('digests', () => {
  it('parseDigest(arbitrary string): a digest or InvalidDigestError; a result is canonical', () => {
    const strings = fc.oneof(fc.string({ maxLength: 120 }), fc.string({ unit: 'binary', maxLength: 80 }),
      fc.stringMatching(/^sha256:[0-9a-fA-F]{60,68}$/), fc.stringMatching(/^[bzkQf][a-zA-Z0-9]{40,70}$/))
    fc.assert(fc.property(strings, s => {
      const d = onlyTyped(() => parseDigest(s), ['InvalidDigestError'])
      if (d != null) {
        expect(d.digest).toMatch(/^sha256:[0-9a-f]{64}$/)
        expect(d.bytes.byteLength).toBe(32)
        expect(parseDigest(d.digest).hex).toBe(d.hex)
      }
    }), params())
  })

  it('digest ⇄ CID in every base round-trips', () => {
    fc.assert(fc.property(digest32, bytes => {
      const d = digestFromBytes(bytes)
      const cid = digestToCid(d.digest)
      for (const s of [cid.toString(), cid.toString(base58btc), cid.toString(base36)]) {
        expect(parseDigest(s).digest).toBe(d.digest)
        expect(s.length).toBeLessThanOrEqual(MAX_CID_LENGTH)
      }
    }), params(300))
  })

  it('digestFromBytes: 32 bytes or InvalidDigestError', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), b => {
      const d = onlyTyped(() => digestFromBytes(b), ['InvalidDigestError'])
      expect(d != null).toBe(b.byteLength === 32)
    }), params())
  })

  // Regression (fuzzing found it): CID.parse decodes base58 in quadratic time,
  // and a 16 KiB string held the event loop for over a second.
  it('no input makes parseDigest slow: long base58, base32 and hex strings', () => {
    fc.assert(fc.property(fc.constantFrom('z', 'Qm', 'b', 'f', 'sha256:'), fc.constantFrom('2', 'a', '0', 'Z'), (prefix, ch) => {
      expect(timed(() => parseDigest(prefix + ch.repeat(HEADER_BYTES)))).toBeLessThan(PARSE_BUDGET_MS)
    }), params(20))
  })
})

describe('have-sets from the wire', () => {
  it('new Bitfield(n, arbitrary bytes): count is the bits set below n, nothing past n', () => {
    fc.assert(fc.property(fc.nat({ max: 2000 }), fc.uint8Array({ maxLength: 300 }), (n, b) => {
      const bf = new Bitfield(n, b)
      let expected = 0
      for (let i = 0; i < n; i++) if (i >> 3 < b.length && (b[i >> 3] & (0x80 >> (i & 7))) !== 0) expected++
      expect(bf.count).toBe(expected)
      expect(bf.bytes.length).toBe(Math.ceil(n / 8))
      expect(bf.get(n)).toBe(false)
      expect(bf.get(-1)).toBe(false)
    }), params())
  })

  it('choosePieceSize: a power of two within the limits for any size', () => {
    fc.assert(fc.property(fc.nat({ max: Number.MAX_SAFE_INTEGER }), size => {
      const p = choosePieceSize(size)
      expect(p & (p - 1)).toBe(0)
      expect(p).toBeLessThanOrEqual(MAX_PIECE_SIZE)
    }), params())
  })
})
