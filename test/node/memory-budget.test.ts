import { describe, expect, it } from 'vitest'
import { CHUNKS_PER_UPLOAD, DEFAULT_MAX_STREAM_WINDOW, DEFAULT_MAX_UPLOADS, MIN_MEMORY_LIMIT, MIN_OLD_SPACE, MIN_UPLOADS, memoryBudget, RUNTIME_FLOOR, UPLOAD_SHARE, DOWNLOAD_SHARE } from '../../src/memory-budget.js'
import { fitInFlight } from '../../src/fetch/constants.js'
import { YAMUX_INITIAL_STREAM_WINDOW } from '../../src/swarm/libp2p.js'

const MiB = 1024 * 1024

describe('memoryBudget', () => {
  it('without a limit gives the defaults the layers had before', () => {
    const b = memoryBudget()
    expect(b).toMatchObject({ maxUploads: 32, uploadChunk: MiB, uploadQueue: MiB, downloadInFlight: Infinity, maxStreamWindow: 16 * MiB, storeCache: 8 * MiB, storeWriteBuffer: 4 * MiB, readChunk: 4 * MiB })
    expect(b.process).toBeUndefined()
    expect(b.workerLimits).toBeUndefined()
  })

  it('fits 32 uploads and the pieces in flight of a 128 MiB limit into what the runtime leaves', () => {
    const limit = 128 * MiB
    const b = memoryBudget(limit)
    // the goal of issue #13: 32 uploads at once, each bounded by a few chunks
    expect(b.maxUploads).toBe(DEFAULT_MAX_UPLOADS)
    const uploads = b.maxUploads * b.uploadChunk * CHUNKS_PER_UPLOAD
    expect(uploads).toBeLessThanOrEqual((limit - RUNTIME_FLOOR) * UPLOAD_SHARE)
    expect(b.uploadQueue).toBe(2 * b.uploadChunk)
    expect(b.maxUploads * (b.uploadChunk * 2 + b.uploadQueue)).toBeLessThanOrEqual(uploads)
    expect(b.downloadInFlight * 3).toBeLessThanOrEqual((limit - RUNTIME_FLOOR) * DOWNLOAD_SHARE)
    // yamux windows stay at the swarm's initial size; the store's caches shrink
    expect(b.maxStreamWindow).toBe(YAMUX_INITIAL_STREAM_WINDOW)
    expect(b.storeCache).toBe(2 * MiB)
    expect(b.storeWriteBuffer).toBe(MiB)
    expect(b.readChunk).toBeLessThan(4 * MiB)
    expect(b.process).toEqual({ maxOldSpaceMiB: 64, maxSemiSpaceMiB: 1, mallocArenas: 2, mmapThreshold: 32768 })
    expect(b.workerLimits).toBeDefined()
  })

  it('grows every knob with the limit, never past the unlimited defaults', () => {
    let prev = memoryBudget(MIN_MEMORY_LIMIT)
    for (const mib of [96, 128, 192, 256, 512, 1024, 4096, 65536]) {
      const b = memoryBudget(mib * MiB)
      for (const k of ['maxUploads', 'uploadChunk', 'uploadQueue', 'downloadInFlight', 'maxStreamWindow', 'storeCache', 'storeWriteBuffer', 'readChunk'] as const) {
        expect(b[k], `${k} at ${mib} MiB`).toBeGreaterThanOrEqual(prev[k])
        if (k !== 'downloadInFlight') expect(b[k], `${k} at ${mib} MiB`).toBeLessThanOrEqual(memoryBudget()[k])
      }
      expect(b.process!.maxOldSpaceMiB).toBeGreaterThanOrEqual(prev.process!.maxOldSpaceMiB)
      expect(b.process!.maxSemiSpaceMiB).toBeGreaterThanOrEqual(prev.process!.maxSemiSpaceMiB)
      prev = b
    }
    expect(prev.maxStreamWindow).toBe(DEFAULT_MAX_STREAM_WINDOW)
    expect(prev.process!.maxSemiSpaceMiB).toBe(16)
  })

  it('keeps the floor: the smallest limit still serves a few uploads with a heap an idle daemon fits in', () => {
    const b = memoryBudget(MIN_MEMORY_LIMIT)
    expect(b.maxUploads).toBeGreaterThanOrEqual(MIN_UPLOADS)
    expect(b.process!.maxOldSpaceMiB * MiB).toBeGreaterThanOrEqual(MIN_OLD_SPACE)
    expect(b.downloadInFlight).toBeGreaterThan(0)
  })

  it('refuses a limit under the minimum', () => {
    expect(() => memoryBudget(MIN_MEMORY_LIMIT - 1)).toThrow(/at least 64 MiB/)
    expect(() => memoryBudget(Number.NaN)).toThrow(/at least 64 MiB/)
  })
})

describe('fitInFlight', () => {
  const o = { peerConcurrency: 24, originConcurrency: 4, perPeerPipeline: 4 }
  it('leaves the counts alone without a byte budget', () => {
    expect(fitInFlight({ ...o, inFlightBytes: Infinity }, 16 * MiB)).toEqual(o)
  })
  it('cuts the counts to the pieces that fit, one at least', () => {
    expect(fitInFlight({ ...o, inFlightBytes: 5 * MiB }, 2 * MiB)).toEqual({ peerConcurrency: 2, originConcurrency: 2, perPeerPipeline: 2 })
    expect(fitInFlight({ ...o, inFlightBytes: 5 * MiB }, 16 * MiB)).toEqual({ peerConcurrency: 1, originConcurrency: 1, perPeerPipeline: 1 })
    expect(fitInFlight({ ...o, inFlightBytes: 64 * MiB }, MiB)).toEqual({ peerConcurrency: 24, originConcurrency: 4, perPeerPipeline: 4 })
  })
})
