/**
 * The per-peer rate limit on meta answers (issue #9, meta amplification):
 * honest probing is never limited, a flood from one peer is answered BUSY
 * (a few bytes, no store read) and leaves the other peers untouched.
 */
import { afterEach, describe, expect, it, vi } from 'vitest'
import { MAX_PIECE_MAP_BYTES } from '../../src/content/index.js'
import { META_ANSWER_BURST, META_ANSWERS_PER_SECOND, validateMeta } from '../../src/transfer/index.js'
import { createMetaLimit, extraTokens } from '../../src/transfer/meta-limit.js'
import { MetaResponse } from '../../src/transfer/pb/meta.js'
import { createPair, fakeLocalBlobs, makeBlob, type Pair } from './helpers.js'

describe('meta admission (virtual time)', () => {
  afterEach(() => { vi.useRealTimers() })

  it('a swarm of 50 peers probing once a second each, for 10 minutes, is never limited', () => {
    vi.useFakeTimers({ toFake: ['performance', 'Date'] })
    const limit = createMetaLimit()
    const peers = Array.from({ length: 50 }, (_, i) => `peer-${i}`)
    let refused = 0
    for (let s = 0; s < 600; s++) {
      for (const p of peers) {
        // Each probe asks about the largest blob there is: the answer's bytes cost tokens too.
        if (!limit.admit(p) || !limit.admitBytes(p, MAX_PIECE_MAP_BYTES)) refused++
      }
      vi.advanceTimersByTime(1000)
    }
    expect(refused).toBe(0)
  })

  it('a peer downloading 20 blobs at once (one probe a second each) is never limited', () => {
    vi.useFakeTimers({ toFake: ['performance', 'Date'] })
    const limit = createMetaLimit()
    let refused = 0
    for (let s = 0; s < 120; s++) {
      for (let b = 0; b < META_ANSWERS_PER_SECOND; b++) if (!limit.admit('busy-node')) refused++
      vi.advanceTimersByTime(1000)
    }
    expect(refused).toBe(0)
  })

  it('a flood is cut to the burst, then to the rate; other peers are not affected', () => {
    vi.useFakeTimers({ toFake: ['performance', 'Date'] })
    const limit = createMetaLimit()
    let admitted = 0
    for (let i = 0; i < 10_000; i++) if (limit.admit('flooder')) admitted++
    expect(admitted).toBe(META_ANSWER_BURST)
    expect(limit.admit('honest')).toBe(true)
    // One second later the flooder has earned exactly one second of rate.
    vi.advanceTimersByTime(1000)
    admitted = 0
    for (let i = 0; i < 10_000; i++) if (limit.admit('flooder')) admitted++
    expect(admitted).toBe(META_ANSWERS_PER_SECOND)
  })

  it('bytes are priced: a flood for the largest answer draws far fewer answers than small ones', () => {
    vi.useFakeTimers({ toFake: ['performance', 'Date'] })
    expect(extraTokens(1000)).toBe(0)
    expect(extraTokens(MAX_PIECE_MAP_BYTES)).toBe(16)
    const limit = createMetaLimit()
    let big = 0
    for (let i = 0; i < 1000; i++) if (limit.admit('f') && limit.admitBytes('f', MAX_PIECE_MAP_BYTES)) big++
    expect(big).toBe(Math.floor(META_ANSWER_BURST / 17))
  })

  it('remembers at most maxPeers; a forgotten peer starts again with a full bucket', () => {
    const limit = createMetaLimit({ rate: 1, burst: 1, maxPeers: 2 })
    expect(limit.admit('a')).toBe(true)
    expect(limit.admit('a')).toBe(false)
    limit.admit('b')
    limit.admit('c') // 'a' is the least recently seen: forgotten
    expect(limit.admit('a')).toBe(true)
  })
})

describe('meta rate limit over libp2p', () => {
  let pair: Pair | undefined
  afterEach(async () => { await pair?.stop(); pair = undefined })

  it('answers BUSY over the rate, without reading the store, and serves again once the rate allows', async () => {
    const blob = makeBlob(4 * 65536, 65536)
    const local = fakeLocalBlobs([blob])
    let storeReads = 0
    const meta = local.meta.bind(local)
    local.meta = async (d, o) => { storeReads++; return await meta(d, o) }
    pair = await createPair(local, { metaLimit: { rate: 2, burst: 3 } })
    for (let i = 0; i < 3; i++) expect((await pair.transfer.meta(pair.server.peerId, blob.digest))?.complete).toBe(true)
    await expect(pair.transfer.meta(pair.server.peerId, blob.digest)).rejects.toMatchObject({ name: 'BusyError', busy: true })
    expect(storeReads).toBe(3)
    await new Promise(resolve => setTimeout(resolve, 600))
    expect((await pair.transfer.meta(pair.server.peerId, blob.digest))?.size).toBe(blob.size)
  })

  it('a flood with the default limits: at most the burst answered, the rest BUSY', async () => {
    const blob = makeBlob(8 * 65536, 65536)
    pair = await createPair(fakeLocalBlobs([blob]))
    const p = pair
    // One request alone first: parallel streams on a connection that is still being set up get reset by the muxer.
    const results: Array<PromiseSettledResult<unknown>> = [await Promise.allSettled([p.transfer.meta(p.server.peerId, blob.digest)]).then(r => r[0])]
    // In waves of 10 (more streams at once are reset by the muxer whatever the limit), as fast as they go.
    const t0 = performance.now()
    for (let wave = 0; results.length < 200; wave++) {
      results.push(...await Promise.allSettled(Array.from({ length: 10 }, async () => await p.transfer.meta(p.server.peerId, blob.digest))))
    }
    const seconds = (performance.now() - t0) / 1000
    const ok = results.filter(r => r.status === 'fulfilled').length
    const busy = results.filter(r => r.status === 'rejected' && (r.reason as Error).name === 'BusyError').length
    // Beyond the burst, only what the rate refilled while the flood ran; the rest are BUSY, nothing else.
    expect(ok).toBeGreaterThanOrEqual(META_ANSWER_BURST)
    expect(ok).toBeLessThanOrEqual(META_ANSWER_BURST + Math.ceil(seconds * META_ANSWERS_PER_SECOND))
    expect(busy).toBeGreaterThan(0)
    expect(ok + busy).toBe(results.length)
  })

  it('validateMeta: BUSY is a BusyError (a ProtocolError with busy set)', () => {
    const res: MetaResponse = { status: MetaResponse.Status.BUSY, size: 0n, pieceSize: 0, complete: false, have: new Uint8Array(0), pieceDigests: [], location: '', wants: false, hasOrigin: false, fetching: [], peers: [], interested: 0, running: 0 }
    expect(() => validateMeta('sha256:' + 'ab'.repeat(32), res)).toThrow(expect.objectContaining({ name: 'BusyError', busy: true }))
  })
})
