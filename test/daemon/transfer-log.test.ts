/**
 * The status page's transfer log on its own: several callers of one
 * download count each piece once, a blob that was already here ends as a
 * cache hit, a download whose callers all left ends as failed, and the
 * ended list stays bounded. The node under it is a stand-in whose fetch the
 * test drives event by event (the real one runs in status-page.test.ts).
 */
import { describe, expect, it } from 'vitest'
import type { Fetch, FetchOptions, FetchProgressEvent, FetchResult, StarlingNode } from '../../src/api.js'
import { createTransferLog, RECENT_TRANSFERS } from '../../src/daemon/status-page/index.js'

const D = (n: number): string => `sha256:${n.toString(16).padStart(64, '0')}`
const MiB = 1024 * 1024
const NONE = { origin: 0, 'peer-local': 0, 'peer-remote': 0, cache: 0 }

interface Call { digest: string, options: FetchOptions, resolve: (r: FetchResult) => void, reject: (e: Error) => void }

/** A node whose fetches stay open until the test settles them, handing the test each caller's onProgress. */
function standIn (): { node: StarlingNode, calls: Call[], emit: (digest: string, e: FetchProgressEvent) => void } {
  const calls: Call[] = []
  const node = {
    // a getter, as the real node's: the proxy must not copy it
    get peerId () { return 'self' },
    fetch (digest: string, options: FetchOptions = {}): Fetch {
      const done = Promise.withResolvers<FetchResult>()
      calls.push({ digest, options, resolve: done.resolve, reject: done.reject })
      return { digest, then: done.promise.then.bind(done.promise), [Symbol.asyncIterator]: () => { throw new Error('not read here') } }
    }
  } as unknown as StarlingNode
  return {
    node,
    calls,
    emit: (digest, e) => { for (const c of calls) if (c.digest === digest) c.options.onProgress?.(e) }
  }
}

const settle = async (): Promise<void> => { await new Promise(resolve => setImmediate(resolve)) }

describe('transfer log', () => {
  it('counts a piece once however many callers share the download, and keeps the callers\' own onProgress', async () => {
    const s = standIn()
    const log = createTransferLog()
    const node = log.track(s.node)
    expect(node.peerId).toBe('self')
    const seen: string[] = []
    node.fetch(D(1), { onProgress: e => { seen.push(e.type) } })
    s.emit(D(1), { type: 'starling:fetch:start', detail: { digest: D(1), size: 4 * MiB, pieceSize: MiB, pieceCount: 4, piecesHeld: 1 } })
    node.fetch(D(1))
    for (const [index, source, peer] of [[1, 'origin', undefined], [2, 'peer-local', 'p1'], [3, 'peer-local', 'p1']] as const) {
      s.emit(D(1), { type: 'starling:fetch:piece', detail: { digest: D(1), index, bytes: MiB, source, peer } })
    }
    const [t] = log.list()
    expect(t).toMatchObject({ digest: D(1), state: 'active', size: 4 * MiB, pieceCount: 4, piecesHeld: 4, fetches: 2 })
    expect(t.bytesBySource).toEqual({ ...NONE, origin: MiB, 'peer-local': 2 * MiB })
    expect(t.sources).toEqual([{ id: 'p1', source: 'peer-local', bytes: 2 * MiB }, { id: 'origin', source: 'origin', bytes: MiB }])
    expect(t.rateBytesPerSec).toBeGreaterThan(0)
    expect(seen).toEqual(['starling:fetch:start', 'starling:fetch:piece', 'starling:fetch:piece', 'starling:fetch:piece'])

    const result = { digest: D(1), size: 4 * MiB, bytesBySource: { ...NONE, origin: MiB, 'peer-local': 2 * MiB }, durationMs: 5 }
    s.emit(D(1), { type: 'starling:fetch:done', detail: result })
    for (const c of s.calls) c.resolve(result)
    await settle()
    const [ended] = log.list()
    expect(ended).toMatchObject({ state: 'done', fetches: 0, rateBytesPerSec: 0, error: null })
    expect(ended.endedAt).not.toBeNull()
  })

  it('a blob already held ends as a cache hit; callers that all left end it as failed', async () => {
    const s = standIn()
    const log = createTransferLog()
    const node = log.track(s.node)
    node.fetch(D(2))
    s.emit(D(2), { type: 'starling:fetch:done', detail: { digest: D(2), size: 10, bytesBySource: { ...NONE, cache: 10 }, durationMs: 1 } })
    s.calls[0].resolve({ digest: D(2), size: 10, bytesBySource: { ...NONE, cache: 10 }, durationMs: 1 })
    node.fetch(D(3))
    s.calls[1].reject(Object.assign(new Error('client went away'), { name: 'AbortError' }))
    await settle()
    const [failed, cached] = log.list()
    expect(failed).toMatchObject({ digest: D(3), state: 'failed', error: 'client went away' })
    expect(cached).toMatchObject({ digest: D(2), state: 'done', size: 10, bytesBySource: { ...NONE, cache: 10 } })
  })

  it('keeps the last RECENT_TRANSFERS ended ones, latest first, after the active ones; a bad digest is refused before the node sees it', async () => {
    const s = standIn()
    const log = createTransferLog()
    const node = log.track(s.node)
    for (let i = 0; i < RECENT_TRANSFERS + 3; i++) {
      node.fetch(D(100 + i))
      s.calls[i].resolve({ digest: D(100 + i), size: 1, bytesBySource: NONE, durationMs: 1 })
    }
    node.fetch(D(999))
    await settle()
    const list = log.list()
    expect(list.length).toBe(RECENT_TRANSFERS + 1)
    expect(list[0]).toMatchObject({ digest: D(999), state: 'active' })
    expect(list[1].digest).toBe(D(100 + RECENT_TRANSFERS + 2))
    expect(() => node.fetch('sha256:nope')).toThrow(expect.objectContaining({ name: 'InvalidDigestError' }))
    expect(s.calls.length).toBe(RECENT_TRANSFERS + 4)
  })
})
