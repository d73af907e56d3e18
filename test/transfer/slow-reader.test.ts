import { afterEach, describe, expect, it } from 'vitest'
import { Uint8ArrayList } from 'uint8arraylist'
import { equalBytes, parseDigest } from '../../src/content/index.js'
import { PieceRequest } from '../../src/transfer/pb/piece.js'
import { PIECE_PROTOCOL, createTransferClient } from '../../src/transfer/index.js'
import { MIN_UPLOAD_RATE, UPLOAD_RATE_TICK_MS, UPLOAD_RATE_WINDOW_MS } from '../../src/transfer/limits.js'
import { UploadRateGuard } from '../../src/transfer/piece-server.js'
import { UploadSlots } from '../../src/transfer/slots.js'
import { encodeVarint } from '../../src/transfer/varint.js'
import { createPair, createTestNode, fakeLocalBlobs, makeBlob, piece, type Pair } from './helpers.js'
import type { Stream } from '@libp2p/interface'

const KiB = 1024
const MiB = 1024 * KiB
/** The bound this test holds the server to: the window, a sampling tick, and slack for a loaded machine. */
const CUT_WITHIN_MS = UPLOAD_RATE_WINDOW_MS + UPLOAD_RATE_TICK_MS + 3000

/** yamux's stream, as far as a reader that grants its own flow-control window needs it. */
interface YamuxStream {
  streamId: number
  recvWindowCapacity: number
  sendFrame: (header: { type: number, flag: number, streamID: number, length: number }) => boolean
}
const WINDOW_UPDATE = 1

/**
 * A reader taking `rate` bytes a second: it stops yamux's own window updates
 * (pause) and grants the sender that many bytes a second itself — what a
 * peer holding a slot by trickling does.
 */
function trickle (stream: Stream, rate: number): () => void {
  const y = stream as unknown as YamuxStream
  expect(typeof y.sendFrame).toBe('function')
  expect(typeof y.recvWindowCapacity).toBe('number')
  stream.pause()
  const timer = setInterval(() => {
    if (stream.status !== 'open') return
    y.recvWindowCapacity += rate
    try { y.sendFrame({ type: WINDOW_UPDATE, flag: 0, streamID: y.streamId, length: rate }) } catch {}
  }, 1000)
  return () => { clearInterval(timer) }
}

describe('upload rate guard (unit)', () => {
  const guard = (): UploadRateGuard => new UploadRateGuard(MIN_UPLOAD_RATE, UPLOAD_RATE_WINDOW_MS)

  it('judges a reader only after bytes waited for it a whole window', () => {
    const g = guard()
    g.handed(4 * MiB)
    let verdict: number | undefined
    for (let t = 0; t <= UPLOAD_RATE_WINDOW_MS; t += 1000) {
      expect(verdict).toBeUndefined()
      verdict = g.sample(4 * MiB - 256 * KiB - t, t) // 1 KiB/s after a 256 KiB window
    }
    expect(verdict).toBeLessThan(2 * KiB)
  })

  it('never judges while nothing waits for the reader (our limiter or disk is the bottleneck)', () => {
    const g = guard()
    for (let t = 0; t < 60_000; t += 1000) {
      g.handed(16 * KiB) // 16 KiB/s from our side, all taken at once
      expect(g.sample(t % 2000 === 0 ? 0 : 8 * KiB, t)).toBeUndefined()
    }
  })

  it('keeps a reader at the minimum rate', () => {
    const g = guard()
    g.handed(16 * MiB)
    for (let t = 0; t < 60_000; t += 1000) expect(g.sample(16 * MiB - (t / 1000) * MIN_UPLOAD_RATE, t)).toBeUndefined()
  })

  it('restarts the window after a gap in sampling (our own event loop stalled)', () => {
    const g = guard()
    g.handed(4 * MiB)
    for (let t = 0; t < 9000; t += 1000) expect(g.sample(4 * MiB, t)).toBeUndefined()
    for (let t = 20_000; t < 29_000; t += 1000) expect(g.sample(4 * MiB, t)).toBeUndefined()
    expect(g.sample(4 * MiB, 30_000)).toBe(0)
  })

  it('a slow peer gets one slot for a while, then its own cap again', () => {
    let now = 0
    const slots = new UploadSlots(32, 8, () => now)
    slots.markSlow('p')
    expect(slots.tryAcquire('p')).toBe(true)
    expect(slots.tryAcquire('p')).toBe(false)
    expect(slots.tryAcquire('q')).toBe(true)
    expect(slots.tryAcquire('q')).toBe(true)
    now = 31_000
    expect(slots.tryAcquire('p')).toBe(true)
    expect(slots.isSlow('p')).toBe(false)
  })
})

describe('a trickling reader over loopback TCP', () => {
  let pair: Pair | undefined
  afterEach(async () => { await pair?.stop(); pair = undefined })

  it(`a 1 KiB/s reader loses its slot within ${CUT_WITHIN_MS / 1000} s, and a fresh peer is then served`, async () => {
    const blob = makeBlob(4 * MiB, 2 * MiB)
    pair = await createPair(fakeLocalBlobs([blob]), { maxUploads: 1, maxUploadsPerPeer: 1 })
    const { server, transferServer } = pair
    const fresh = await createTestNode()
    try {
      // the slow reader: a raw piece stream, one request, then 1 KiB a second
      const stream = await pair.client.dialProtocol(server.peerId, PIECE_PROTOCOL)
      const req = PieceRequest.encode({ digest: parseDigest(blob.digest).bytes as Uint8Array<ArrayBuffer>, index: 0 })
      const stop = trickle(stream, KiB)
      const started = Date.now()
      stream.send(new Uint8ArrayList(encodeVarint(req.byteLength), req))
      await expect.poll(() => transferServer.stats().activeUploads, { timeout: 3000 }).toBe(1)

      // the only slot is held: a fresh peer is turned away
      await fresh.dial(server.getMultiaddrs()[0])
      const session = createTransferClient({ dialProtocol: fresh.dialProtocol.bind(fresh) }).session(server.peerId, blob.digest, blob.pieceSize)
      await expect(session.get(1)).rejects.toMatchObject({ name: 'BusyError' })

      await expect.poll(() => transferServer.stats().activeUploads, { timeout: CUT_WITHIN_MS, interval: 200 }).toBe(0)
      const cutAfter = Date.now() - started
      stop()
      console.log(`1 KiB/s reader cut after ${(cutAfter / 1000).toFixed(1)} s (bound ${CUT_WITHIN_MS / 1000} s)`)
      expect(cutAfter).toBeGreaterThanOrEqual(UPLOAD_RATE_WINDOW_MS - 500)
      await expect.poll(() => stream.status, { timeout: 3000 }).not.toBe('open')

      // the fresh peer is served now, and an honest loopback reader is never cut
      expect(equalBytes(await session.get(1), piece(blob, 1))).toBe(true)
      expect(equalBytes(await session.get(0), piece(blob, 0))).toBe(true)
      session.close()
    } finally {
      await fresh.stop()
    }
  }, 30_000)
})
