/**
 * One suite every Origin must pass. `setup(data)` returns an origin serving
 * exactly `data`. Decisions recorded here:
 * - a zero-length range [k, k) with k <= size is valid and yields no bytes;
 * - a range past the end rejects with InvalidRequestError (a caller bug, not an origin failure);
 * - an abort rejects with the signal's reason.
 */
import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Origin } from '../../src/origin/index.js'

export interface OriginHarness {
  origin: Origin
  close?: () => Promise<void>
}

export async function collect (it: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = []
  for await (const c of it) parts.push(c)
  return Buffer.concat(parts)
}

export function runOriginConformance (name: string, setup: (data: Uint8Array) => Promise<OriginHarness>): void {
  describe(`Origin conformance: ${name}`, () => {
    // Odd size, several chunks on every implementation.
    const data = randomBytes(1024 * 1024 + 3)
    const size = data.byteLength
    let h: OriginHarness

    beforeAll(async () => { h = await setup(data) })
    afterAll(async () => { await h?.close?.() })

    it('stat gives the size and says ranges are honoured', async () => {
      const info = await h.origin.stat()
      expect(info.size).toBe(size)
      expect(info.acceptsRanges).toBe(true)
    })

    it('a whole read yields exactly the bytes, and onBytes counts them', async () => {
      let counted = 0
      const got = await collect(h.origin.read(undefined, { onBytes: n => { counted += n } }))
      expect(got.equals(data)).toBe(true)
      expect(counted).toBe(size)
    })

    it.each([
      ['first byte', 0, 1],
      ['last byte', size - 1, size],
      ['a middle range', 12_345, 700_001],
      ['the whole blob as a range', 0, size],
      ['the tail', size - 70_000, size]
    ])('reads %s', async (_label, start, end) => {
      const got = await collect(h.origin.read({ start, end }))
      expect(got.byteLength).toBe(end - start)
      expect(got.equals(data.subarray(start, end))).toBe(true)
    })

    it('a zero-length range yields nothing', async () => {
      expect((await collect(h.origin.read({ start: 500, end: 500 }))).byteLength).toBe(0)
      expect((await collect(h.origin.read({ start: size, end: size }))).byteLength).toBe(0)
    })

    it('a range past the end rejects with InvalidRequestError', async () => {
      await expect(collect(h.origin.read({ start: size - 10, end: size + 10 }))).rejects.toMatchObject({ name: 'InvalidRequestError' })
    })

    it('a malformed range rejects with InvalidRequestError', async () => {
      await expect(collect(h.origin.read({ start: 10, end: 5 }))).rejects.toMatchObject({ name: 'InvalidRequestError' })
      await expect(collect(h.origin.read({ start: -1, end: 5 }))).rejects.toMatchObject({ name: 'InvalidRequestError' })
    })

    it('an already-aborted signal rejects stat and read with its reason', async () => {
      const reason = new Error('stop now')
      const signal = AbortSignal.abort(reason)
      await expect(h.origin.stat({ signal })).rejects.toBe(reason)
      await expect(collect(h.origin.read(undefined, { signal }))).rejects.toBe(reason)
    })

    it('an abort mid-read rejects promptly with the reason', async () => {
      const reason = new Error('user gave up')
      const ac = new AbortController()
      let got = 0
      const t0 = performance.now()
      const run = (async () => {
        for await (const c of h.origin.read(undefined, { signal: ac.signal })) {
          got += c.byteLength
          ac.abort(reason)
        }
      })()
      await expect(run).rejects.toBe(reason)
      expect(got).toBeGreaterThan(0)
      expect(got).toBeLessThan(size)
      expect(performance.now() - t0).toBeLessThan(2000)
    })

    it('leaving a read early (break) is clean and the origin still serves', async () => {
      for await (const c of h.origin.read({ start: 0, end: size })) { expect(c.byteLength).toBeGreaterThan(0); break }
      const got = await collect(h.origin.read({ start: 100, end: 200 }))
      expect(got.equals(data.subarray(100, 200))).toBe(true)
    })
  })
}
