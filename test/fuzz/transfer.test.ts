/**
 * The frame reader of the piece protocol (frames.ts) and the varint writer
 * (varint.ts): bytes from a peer, cut anywhere, give back exactly the frames
 * that were sent, or a ProtocolError — never a hang, never another error,
 * never more buffered than a frame and a chunk.
 */
import fc from 'fast-check'
import { Uint8ArrayList } from 'uint8arraylist'
import { describe, expect, it } from 'vitest'
import { FrameDecoder } from '../../src/transfer/frames.js'
import { encodeVarint } from '../../src/transfer/varint.js'
import { onlyTyped, params } from './fuzz.js'

/** Cuts `bytes` at the given points (sorted, deduplicated), as a stream would. */
function chunked (bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const at = [...new Set(cuts.map(c => c % (bytes.length + 1)))].sort((a, b) => a - b)
  const out: Uint8Array[] = []
  let prev = 0
  for (const c of [...at, bytes.length]) { out.push(bytes.subarray(prev, c)); prev = c }
  return out
}

function concat (parts: Uint8Array[]): Uint8Array {
  return new Uint8ArrayList(...parts).subarray()
}

describe('FrameDecoder', () => {
  it('arbitrary bytes in arbitrary chunks: frames within the limit, or a ProtocolError', () => {
    fc.assert(fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 16 }), fc.nat({ max: 1 << 20 }), (chunks, max) => {
      const d = new FrameDecoder()
      onlyTyped(() => {
        for (const c of chunks) d.push(c, () => max, f => { expect(f.byteLength).toBeLessThanOrEqual(max) })
      }, ['ProtocolError'])
    }), params())
  })

  it('frames sent (empty ones too) come back the same however the stream is cut', () => {
    fc.assert(fc.property(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 12 }), fc.array(fc.nat(), { maxLength: 10 }), (frames, cuts) => {
      const wire = concat(frames.flatMap(f => [encodeVarint(f.byteLength), f]))
      const got: Uint8Array[] = []
      const d = new FrameDecoder()
      for (const c of chunked(wire, cuts)) d.push(c, () => 300, f => { got.push(f.subarray()) })
      expect(got.map(g => Buffer.from(g).toString('hex'))).toEqual(frames.map(f => Buffer.from(f).toString('hex')))
    }), params())
  })

  it('a frame over the limit is refused from its length prefix alone, before its body arrives', () => {
    fc.assert(fc.property(fc.nat({ max: 1 << 27 }), fc.nat({ max: 1 << 27 }), (len, max) => {
      fc.pre(len > max)
      const d = new FrameDecoder()
      expect(() => { d.push(encodeVarint(len), () => max, () => {}) }).toThrow(expect.objectContaining({ name: 'ProtocolError' }))
    }), params())
  })

  it('a length prefix of five or more bytes is a ProtocolError', () => {
    fc.assert(fc.property(fc.array(fc.integer({ min: 0x80, max: 0xff }), { minLength: 4, maxLength: 10 }), prefix => {
      const d = new FrameDecoder()
      expect(() => { d.push(Uint8Array.from(prefix), () => Number.MAX_SAFE_INTEGER, () => {}) }).toThrow(expect.objectContaining({ name: 'ProtocolError' }))
    }), params(300))
  })
})

describe('encodeVarint', () => {
  it('is unsigned LEB128: decodes back to the value, shortest form, 7 bits a byte', () => {
    fc.assert(fc.property(fc.nat({ max: 2 ** 32 - 1 }), v => {
      const b = encodeVarint(v)
      let back = 0
      for (let i = 0; i < b.length; i++) back += (b[i] & 0x7f) * 2 ** (7 * i)
      expect(back).toBe(v)
      expect(b.length).toBe(Math.max(1, Math.ceil(Math.log2(v + 1) / 7)))
      for (let i = 0; i < b.length; i++) expect((b[i] & 0x80) !== 0).toBe(i < b.length - 1)
    }), params())
  })
})
