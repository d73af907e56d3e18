import { setTimeout as delay } from 'node:timers/promises'
import { afterEach, describe, expect, it } from 'vitest'
import { lpStream } from '@libp2p/utils'
import { equalBytes } from '../../src/content/index.js'
import { META_PROTOCOL, PIECE_PROTOCOL, createTransferClient } from '../../src/transfer/index.js'
import { PieceRequest, PieceResponse } from '../../src/transfer/pb/piece.js'
import { createPair, createTestNode, fakeLocalBlobs, makeBlob, type Pair } from './helpers.js'
import type { RateLimiter } from '../../src/utils/rate-limit.js'
import { UPLOAD_CHUNK } from '../../src/transfer/limits.js'
import type { Libp2p } from 'libp2p'
import type { Stream } from '@libp2p/interface'

const DIGEST = 'sha256:' + 'cd'.repeat(32)
const KiB = 1024

/** A node with a hand-written piece handler, to play a misbehaving server. */
async function rogue (handler: (stream: Stream) => Promise<void>): Promise<{ server: Libp2p, client: Libp2p, stop: () => Promise<void> }> {
  const server = await createTestNode()
  const client = await createTestNode()
  await server.handle(PIECE_PROTOCOL, async (stream) => { await handler(stream).catch(err => { stream.abort(err) }) })
  await client.dial(server.getMultiaddrs()[0])
  return { server, client, stop: async () => { await Promise.all([client.stop(), server.stop()]) } }
}

describe('piece client against a misbehaving server', () => {
  let stop: (() => Promise<void>) | undefined
  afterEach(async () => { await stop?.(); stop = undefined })

  it('rejects an answer for the wrong piece', async () => {
    const r = await rogue(async (stream) => {
      const lp = lpStream(stream)
      const req = PieceRequest.decode(await lp.read())
      await lp.write(PieceResponse.encode({ index: req.index + 1, status: PieceResponse.Status.NOT_FOUND }))
      await delay(1000)
    })
    stop = r.stop
    const session = createTransferClient({ dialProtocol: r.client.dialProtocol.bind(r.client) }).session(r.server.peerId, DIGEST, 16 * KiB)
    await expect(session.get(3)).rejects.toThrow(/answer for 4, expected 3/)
    session.close()
  })

  it('rejects an unknown status', async () => {
    const r = await rogue(async (stream) => {
      const lp = lpStream(stream)
      PieceRequest.decode(await lp.read())
      await lp.write(PieceResponse.encode({ index: 0, status: PieceResponse.Status.UNSPECIFIED }))
      await delay(1000)
    })
    stop = r.stop
    const session = createTransferClient({ dialProtocol: r.client.dialProtocol.bind(r.client) }).session(r.server.peerId, DIGEST, 16 * KiB)
    await expect(session.get(0)).rejects.toMatchObject({ name: 'ProtocolError' })
    session.close()
  })

  it('refuses a data frame longer than the piece size before reading it', async () => {
    const r = await rogue(async (stream) => {
      const lp = lpStream(stream)
      PieceRequest.decode(await lp.read())
      await lp.write(PieceResponse.encode({ index: 0, status: PieceResponse.Status.OK }))
      // announce 8 MiB, send only a little: the client must not wait for the rest
      stream.send(Uint8Array.from([0x80, 0x80, 0x80, 0x04, 1, 2, 3]))
      await delay(2000)
    })
    stop = r.stop
    const session = createTransferClient({ dialProtocol: r.client.dialProtocol.bind(r.client) }).session(r.server.peerId, DIGEST, 16 * KiB)
    const t = performance.now()
    await expect(session.get(0)).rejects.toThrow(/exceeds the limit/)
    expect(performance.now() - t).toBeLessThan(1500)
    session.close()
  })

  it('times out a request the server never answers, and only after the timeout', async () => {
    const r = await rogue(async (stream) => {
      await delay(3000)
      stream.abort(new Error('done'))
    })
    stop = r.stop
    const session = createTransferClient({ dialProtocol: r.client.dialProtocol.bind(r.client) }, { timeoutMs: 400 }).session(r.server.peerId, DIGEST, 16 * KiB)
    const t = performance.now()
    await expect(session.get(0)).rejects.toThrow(/timed out/)
    expect(performance.now() - t).toBeGreaterThanOrEqual(350)
    session.close()
  })

  it('meta: a peer that does not speak the protocol is a rejection, not a hang', async () => {
    const r = await rogue(async () => {})
    stop = r.stop
    const client = createTransferClient({ dialProtocol: r.client.dialProtocol.bind(r.client) }, { timeoutMs: 2000 })
    await expect(client.meta(r.server.peerId, DIGEST)).rejects.toMatchObject({ name: 'ProtocolError' })
  })

  it('meta: a garbage answer is a ProtocolError', async () => {
    const server = await createTestNode()
    const client = await createTestNode()
    await server.handle(META_PROTOCOL, async (stream) => { stream.send(Uint8Array.from([4, 0xff, 0xff, 0xff, 0xff])); await stream.close() })
    await client.dial(server.getMultiaddrs()[0])
    stop = async () => { await Promise.all([client.stop(), server.stop()]) }
    const transfer = createTransferClient({ dialProtocol: client.dialProtocol.bind(client) })
    await expect(transfer.meta(server.peerId, DIGEST)).rejects.toMatchObject({ name: 'ProtocolError' })
  })
})

describe('piece client options', () => {
  let pair: Pair | undefined
  afterEach(async () => { await pair?.stop(); pair = undefined })

  it('takes a piece worth of bytes from the download limiter before each request', async () => {
    const blob = makeBlob(3 * 16 * KiB, 16 * KiB)
    const taken: number[] = []
    const limiter: RateLimiter = { rate: 1, async take (n) { taken.push(n) } }
    pair = await createPair(fakeLocalBlobs([blob]), {}, { downloadLimiter: limiter })
    const session = pair.transfer.session(pair.server.peerId, blob.digest, blob.pieceSize)
    await Promise.all([0, 1, 2].map(async i => await session.get(i)))
    expect(taken).toEqual([16 * KiB, 16 * KiB, 16 * KiB])
    session.close()
  })

  it('paces uploads through the upload limiter, chunk by chunk', async () => {
    // a piece of two and a half chunks: three takes of at most UPLOAD_CHUNK
    const size = 2.5 * UPLOAD_CHUNK
    const blob = makeBlob(size, 4 * UPLOAD_CHUNK) // one short piece
    let bytes = 0
    let calls = 0
    const limiter: RateLimiter = { rate: 1, async take (n) { bytes += n; calls++ } }
    pair = await createPair(fakeLocalBlobs([blob]), { uploadLimiter: limiter })
    const session = pair.transfer.session(pair.server.peerId, blob.digest, blob.pieceSize)
    expect(equalBytes(await session.get(0), blob.bytes)).toBe(true)
    expect(bytes).toBe(size)
    expect(calls).toBe(3)
    session.close()
  })

  it('a closed session rejects new gets and closes its stream', async () => {
    const blob = makeBlob(2 * 16 * KiB, 16 * KiB)
    pair = await createPair(fakeLocalBlobs([blob]))
    const session = pair.transfer.session(pair.server.peerId, blob.digest, blob.pieceSize)
    await session.get(0)
    session.close()
    await expect(session.get(1)).rejects.toMatchObject({ name: 'AbortError' })
    const p = pair
    await expect.poll(() => p.server.getConnections(p.client.peerId).flatMap(c => c.streams).filter(s => s.protocol === PIECE_PROTOCOL).length, { timeout: 3000 }).toBe(0)
  })
})
