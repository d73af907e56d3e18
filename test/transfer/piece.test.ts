import { setTimeout as delay } from 'node:timers/promises'
import { afterEach, describe, expect, it } from 'vitest'
import { lpStream } from '@libp2p/utils'
import { equalBytes, parseDigest } from '../../src/content/index.js'
import { PieceRequest, PieceResponse } from '../../src/transfer/pb/piece.js'
import { PIECE_PROTOCOL, createTransferClient } from '../../src/transfer/index.js'
import { createPair, createTestNode, deferred, fakeLocalBlobs, makeBlob, piece, type Pair } from './helpers.js'
import { corruptPieces } from '../fixtures/corrupt.js'
import type { Libp2p } from 'libp2p'

const KiB = 1024

function pieceStreams (from: Libp2p, to: Libp2p): number {
  return from.getConnections(to.peerId).flatMap(c => c.streams).filter(s => s.protocol === PIECE_PROTOCOL).length
}

describe('piece protocol over libp2p', () => {
  let pair: Pair | undefined
  afterEach(async () => { await pair?.stop(); pair = undefined })

  it('pipelines many gets over one stream, answers matched whatever order reads finish in', async () => {
    const blob = makeBlob(100 * 16 * KiB - 77, 16 * KiB)
    // Reads finish in random order; answers must still come back in request order.
    const local = fakeLocalBlobs([blob], async (_i, data) => { await delay(Math.random() * 20); return data })
    pair = await createPair(local, { maxUploadsPerPeer: 200, maxUploads: 200 })
    const session = pair.transfer.session(pair.server.peerId, blob.digest, blob.pieceSize)
    // 100 > the 64 outstanding a stream allows: the client must queue the rest.
    const order = Array.from({ length: 100 }, (_, i) => i).sort(() => Math.random() - 0.5)
    const got = await Promise.all(order.map(async i => ({ i, bytes: await session.get(i) })))
    for (const { i, bytes } of got) expect(equalBytes(bytes, piece(blob, i))).toBe(true)
    expect(got.find(g => g.i === 99)?.bytes.byteLength).toBe(16 * KiB - 77)
    expect(pieceStreams(pair.client, pair.server)).toBe(1)
    expect(pair.transferServer.stats().piecesServed).toBe(100)
    expect(pair.transferServer.stats().uploadedBytes).toBe(blob.size)
    session.close()
  })

  it('answers NOT_FOUND for a piece or blob the peer lacks', async () => {
    const blob = makeBlob(4 * 16 * KiB, 16 * KiB)
    pair = await createPair(fakeLocalBlobs([blob]))
    const session = pair.transfer.session(pair.server.peerId, blob.digest, blob.pieceSize)
    await expect(session.get(4)).rejects.toMatchObject({ name: 'NotFoundError' })
    // the stream survives a NOT_FOUND
    expect(equalBytes(await session.get(1), piece(blob, 1))).toBe(true)
    const other = pair.transfer.session(pair.server.peerId, 'sha256:' + '00'.repeat(32), blob.pieceSize)
    await expect(other.get(0)).rejects.toMatchObject({ name: 'NotFoundError' })
    session.close()
    other.close()
  })

  it('counts upload slots node-wide across peers (three nodes)', async () => {
    const blob = makeBlob(8 * 16 * KiB, 16 * KiB)
    const gate = deferred()
    const local = fakeLocalBlobs([blob], async (_i, data) => { await gate.promise; return data })
    pair = await createPair(local, { maxUploads: 3, maxUploadsPerPeer: 2 })
    const third = await createTestNode()
    try {
      await third.dial(pair.server.getMultiaddrs()[0])
      const other = createTransferClient({ dialProtocol: third.dialProtocol.bind(third) })
      const a = pair.transfer.session(pair.server.peerId, blob.digest, blob.pieceSize)
      const b = other.session(pair.server.peerId, blob.digest, blob.pieceSize)
      const settle = async (p: Promise<Uint8Array>): Promise<string> => await p.then(() => 'ok', (err: any) => err.name)
      const fromA = [settle(a.get(0)), settle(a.get(1))]
      await expect.poll(() => pair?.transferServer.stats().activeUploads, { timeout: 3000 }).toBe(2)
      const fromB = [settle(b.get(2)), settle(b.get(3))]
      await expect.poll(() => pair?.transferServer.stats().activeUploads, { timeout: 3000 }).toBe(3)
      gate.resolve()
      expect(await Promise.all(fromA)).toEqual(['ok', 'ok'])
      // B is under its own per-peer cap but the node had only one slot left
      expect(await Promise.all(fromB)).toEqual(['ok', 'BusyError'])
      a.close()
      b.close()
    } finally {
      await third.stop()
    }
  })

  it('answers BUSY over the per-peer upload slots, and frees slots once served', async () => {
    const blob = makeBlob(8 * 16 * KiB, 16 * KiB)
    const gate = deferred()
    const local = fakeLocalBlobs([blob], async (_i, data) => { await gate.promise; return data })
    pair = await createPair(local, { maxUploadsPerPeer: 2 })
    const session = pair.transfer.session(pair.server.peerId, blob.digest, blob.pieceSize)
    const gets = [0, 1, 2, 3, 4].map(async (i): Promise<{ ok?: Uint8Array, err?: any }> => await session.get(i).then(b => ({ ok: b }), (err: any) => ({ err })))
    await delay(300)
    expect(pair.transferServer.stats().activeUploads).toBe(2)
    gate.resolve()
    const res = await Promise.all(gets)
    expect(equalBytes(res[0].ok as Uint8Array, piece(blob, 0))).toBe(true)
    expect(equalBytes(res[1].ok as Uint8Array, piece(blob, 1))).toBe(true)
    for (const r of res.slice(2)) {
      expect(r.err?.name).toBe('BusyError')
      expect(r.err?.busy).toBe(true)
    }
    expect(pair.transferServer.stats().activeUploads).toBe(0)
    expect(equalBytes(await session.get(5), piece(blob, 5))).toBe(true)
    session.close()
  })

  it('rejects a response larger than the piece size and recovers on the next get', async () => {
    const blob = makeBlob(4 * 16 * KiB, 16 * KiB)
    let oversize = true
    const local = fakeLocalBlobs([blob], async (_i, data) => {
      if (!oversize) return data
      const big = new Uint8Array(data.byteLength + 1)
      big.set(data)
      return big
    })
    pair = await createPair(local)
    const session = pair.transfer.session(pair.server.peerId, blob.digest, blob.pieceSize)
    await expect(session.get(0)).rejects.toMatchObject({ name: 'ProtocolError' })
    oversize = false
    expect(equalBytes(await session.get(0), piece(blob, 0))).toBe(true)
    session.close()
  })

  it('an aborted get fails alone; its late answer is dropped', async () => {
    const blob = makeBlob(4 * 16 * KiB, 16 * KiB)
    const slow = deferred()
    const local = fakeLocalBlobs([blob], async (i, data) => { if (i === 1) await slow.promise; return data })
    pair = await createPair(local)
    const session = pair.transfer.session(pair.server.peerId, blob.digest, blob.pieceSize)
    const ctrl = new AbortController()
    const p0 = session.get(0)
    const p1 = session.get(1, { signal: ctrl.signal })
    const p2 = session.get(2)
    await delay(100)
    ctrl.abort(new Error('caller gave up'))
    await expect(p1).rejects.toThrow('caller gave up')
    slow.resolve()
    expect(equalBytes(await p0, piece(blob, 0))).toBe(true)
    expect(equalBytes(await p2, piece(blob, 2))).toBe(true)
    // the dropped answer for 1 must not be handed to the next get
    expect(equalBytes(await session.get(3), piece(blob, 3))).toBe(true)
    expect(equalBytes(await session.get(1), piece(blob, 1))).toBe(true)
    expect(pieceStreams(pair.client, pair.server)).toBe(1)
    session.close()
  })

  it('serves what its source gives: a corrupting source (the lying-peer fixture) flips one byte of every piece', async () => {
    const blob = makeBlob(3 * 16 * KiB, 16 * KiB)
    pair = await createPair(corruptPieces(fakeLocalBlobs([blob])))
    const session = pair.transfer.session(pair.server.peerId, blob.digest, blob.pieceSize)
    for (let i = 0; i < 3; i++) {
      const got = await session.get(i)
      const want = piece(blob, i)
      expect(got.byteLength).toBe(want.byteLength)
      let diff = 0
      for (let j = 0; j < got.byteLength; j++) if (got[j] !== want[j]) diff++
      expect(diff).toBe(1)
    }
    // the server's own copy is untouched
    expect(equalBytes(piece(blob, 0), piece(blob, 0).slice())).toBe(true)
    session.close()
  })

  it('recovers after the remote resets the stream', async () => {
    const blob = makeBlob(4 * 16 * KiB, 16 * KiB)
    const gate = deferred()
    const local = fakeLocalBlobs([blob], async (i, data) => { if (i === 1) await gate.promise; return data })
    pair = await createPair(local)
    const session = pair.transfer.session(pair.server.peerId, blob.digest, blob.pieceSize)
    expect(equalBytes(await session.get(0), piece(blob, 0))).toBe(true)
    const inFlight = session.get(1)
    await delay(100)
    for (const s of pair.server.getConnections(pair.client.peerId).flatMap(c => c.streams)) {
      if (s.protocol === PIECE_PROTOCOL) s.abort(new Error('test reset'))
    }
    await expect(inFlight).rejects.toMatchObject({ name: 'ProtocolError' })
    gate.resolve()
    expect(equalBytes(await session.get(2), piece(blob, 2))).toBe(true)
    expect(equalBytes(await session.get(1), piece(blob, 1))).toBe(true)
    expect(pair.transferServer.stats().activeUploads).toBe(0)
    session.close()
  })

  it('recovers after the connection drops', async () => {
    const blob = makeBlob(4 * 16 * KiB, 16 * KiB)
    pair = await createPair(fakeLocalBlobs([blob]))
    const session = pair.transfer.session(pair.server.peerId, blob.digest, blob.pieceSize)
    expect(equalBytes(await session.get(0), piece(blob, 0))).toBe(true)
    await pair.server.hangUp(pair.client.peerId)
    await delay(100)
    // the first get may meet the dead stream; the one after must redial
    const first = await session.get(1).catch((err: any) => err)
    if (first instanceof Error) expect(first.name).toBe('ProtocolError')
    expect(equalBytes(await session.get(2), piece(blob, 2))).toBe(true)
    session.close()
  })

  it('resets a stream that sends garbage, and keeps serving others', async () => {
    const blob = makeBlob(2 * 16 * KiB, 16 * KiB)
    pair = await createPair(fakeLocalBlobs([blob]))
    const garbage = [
      new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x0f]), // a 4 GiB length prefix
      new Uint8Array([5, 0xff, 0xff, 0xff, 0xff, 0xff]), // a frame that is no protobuf
      new Uint8Array([3, 0x0a, 0x01, 0x00]) // a request with a 1-byte digest
    ]
    for (const g of garbage) {
      const stream = await pair.client.dialProtocol(pair.server.peerId, PIECE_PROTOCOL)
      const closed = new Promise<void>(resolve => { stream.addEventListener('close', () => { resolve() }, { once: true }) })
      stream.send(g)
      await Promise.race([closed, delay(5000).then(() => { throw new Error('server did not reset the stream') })])
      expect(stream.status).not.toBe('open')
    }
    const session = pair.transfer.session(pair.server.peerId, blob.digest, blob.pieceSize)
    expect(equalBytes(await session.get(1), piece(blob, 1))).toBe(true)
    session.close()
  })

  it('server answers every queued request after the client half-closes, then closes', async () => {
    const blob = makeBlob(3 * 16 * KiB, 16 * KiB)
    pair = await createPair(fakeLocalBlobs([blob], async (_i, data) => { await delay(50); return data }))
    const stream = await pair.client.dialProtocol(pair.server.peerId, PIECE_PROTOCOL)
    const lp = lpStream(stream, { maxDataLength: 32 * KiB })
    const digest = parseDigest(blob.digest).bytes as Uint8Array<ArrayBuffer>
    await lp.writeV([
      PieceRequest.encode({ digest, index: 2 }),
      PieceRequest.encode({ index: 0 }),
      PieceRequest.encode({ digest, index: 7 })
    ])
    await stream.close()
    const h1 = PieceResponse.decode(await lp.read())
    expect(h1).toEqual({ index: 2, status: PieceResponse.Status.OK })
    expect(equalBytes((await lp.read()).subarray(), piece(blob, 2))).toBe(true)
    expect(PieceResponse.decode(await lp.read())).toEqual({ index: 0, status: PieceResponse.Status.OK })
    expect(equalBytes((await lp.read()).subarray(), piece(blob, 0))).toBe(true)
    expect(PieceResponse.decode(await lp.read())).toEqual({ index: 7, status: PieceResponse.Status.NOT_FOUND })
    await expect(lp.read()).rejects.toMatchObject({ name: 'UnexpectedEOFError' })
  })

  it('server resets a stream whose later request names another blob', async () => {
    const blob = makeBlob(2 * 16 * KiB, 16 * KiB)
    pair = await createPair(fakeLocalBlobs([blob]))
    const stream = await pair.client.dialProtocol(pair.server.peerId, PIECE_PROTOCOL)
    const lp = lpStream(stream, { maxDataLength: 32 * KiB })
    await lp.write(PieceRequest.encode({ digest: parseDigest(blob.digest).bytes as Uint8Array<ArrayBuffer>, index: 0 }))
    expect(PieceResponse.decode(await lp.read()).status).toBe(PieceResponse.Status.OK)
    await lp.read()
    await lp.write(PieceRequest.encode({ digest: new Uint8Array(32).fill(1), index: 1 }))
    await expect(lp.read()).rejects.toThrow()
  })

  it('refuses a piece size beyond the absolute cap', async () => {
    const blob = makeBlob(16 * KiB, 16 * KiB)
    pair = await createPair(fakeLocalBlobs([blob]))
    expect(() => pair?.transfer.session(pair.server.peerId, blob.digest, 64 * 1024 * 1024)).toThrow(/piece size/)
  })

  it('throughput: 64 MiB in 1 MiB pieces over one session (printed, not asserted)', async () => {
    const MiB = 1024 * 1024
    const blob = makeBlob(64 * MiB, MiB)
    pair = await createPair(fakeLocalBlobs([blob]))
    const session = pair.transfer.session(pair.server.peerId, blob.digest, blob.pieceSize)
    const start = performance.now()
    let next = 0
    let bytes = 0
    const worker = async (): Promise<void> => {
      while (next < 64) {
        const i = next++
        const got = await session.get(i)
        expect(got.byteLength).toBe(MiB)
        bytes += got.byteLength
      }
    }
    await Promise.all(Array.from({ length: 8 }, worker))
    const s = (performance.now() - start) / 1000
    console.log(`piece protocol: ${bytes / MiB} MiB in ${s.toFixed(2)} s = ${(bytes / MiB / s).toFixed(0)} MiB/s (pipeline 8, 1 MiB pieces)`)
    expect(bytes).toBe(64 * MiB)
    session.close()
  })
})
