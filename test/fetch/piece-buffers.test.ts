import { describe, expect, it } from 'vitest'
import { PieceBuffers } from '../../src/fetch/piece-buffers.js'

describe('PieceBuffers', () => {
  it('hands back a given buffer of the same size, and makes a new one for another size', () => {
    const pool = new PieceBuffers(2)
    const a = pool.take(1024)
    pool.give(a)
    expect(pool.take(1024)).toBe(a)
    const b = pool.take(1024)
    expect(b).not.toBe(a)
    pool.give(a)
    expect(pool.take(100)).not.toBe(a) // a last, shorter piece
    expect(pool.take(100).byteLength).toBe(100)
    expect(pool.free).toBe(1)
  })

  it('keeps at most `keep` buffers, and a buffer given twice once', () => {
    const pool = new PieceBuffers(2)
    const bufs = [pool.take(8), pool.take(8), pool.take(8)]
    for (const b of bufs) pool.give(b)
    expect(pool.free).toBe(2)
    const c = pool.take(8)
    pool.give(c)
    pool.give(c)
    expect(pool.free).toBe(2)
  })
})
