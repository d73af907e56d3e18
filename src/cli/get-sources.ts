/**
 * Where `starling get` reads a blob from: the running daemon (default) or an
 * ephemeral in-process node (`--standalone`). Both give the digest, the size
 * when known, and the verified bytes in order; sources are reported through
 * `onSource` for the progress bar.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ByteSource, BytesBySource } from '../types.js'
import type { ApiClient } from './client.js'
import { CliError } from './context.js'
import { importUrl } from './import-url.js'
import { readEvents } from './sse.js'

export interface GetRequest {
  url?: string
  digest?: string
  /** The CID of the blob's piece map (`--piece-map`). */
  pieceMap?: string
  headers: Record<string, string>
  signal: AbortSignal
  onSource: (source: ByteSource, bytes: number) => void
  /** Told before a URL with no digest is downloaded once to learn its digest. */
  onImport?: () => void
  /** How far that download got: bytes so far, and the size when the origin told it. */
  onImportProgress?: (bytes: number, size: number | undefined) => void
  /** The blob's size, as soon as the fetch knows it (before the body starts). */
  onSize?: (size: number) => void
}

export interface OpenedBlob {
  digest: string
  size?: number
  body: AsyncIterable<Uint8Array>
  /** After the body ends: bytes by source as the node counted them, when known. */
  finish(): Promise<BytesBySource | undefined>
  /** On failure: releases everything without waiting for the fetch to settle. */
  close(): Promise<void>
  /** Bytes the URL's import took from the origin (no digest was given): the body then comes from the node's cache. */
  imported?: number
}

/**
 * The bytes of an import came from the origin; the fetch that follows
 * reads them back from the node's cache, which is no second source. So the
 * import's bytes are the origin's, and the cache counts only what it had before.
 */
export function creditImport (b: BytesBySource | undefined, imported: number | undefined): BytesBySource | undefined {
  if (imported == null) return b
  const base = b ?? { origin: 0, 'peer-local': 0, 'peer-remote': 0, cache: 0 }
  return { ...base, origin: base.origin + imported, cache: Math.max(0, base.cache - imported) }
}

/** Reports the import's new bytes as origin bytes, and its progress. */
function importTracker (r: GetRequest): { bytes: () => number, progress: (bytes: number, size: number | undefined) => void } {
  let seen = 0
  return {
    bytes: () => seen,
    progress (bytes, size) {
      if (bytes > seen) r.onSource('origin', bytes - seen)
      seen = Math.max(seen, bytes)
      r.onImportProgress?.(bytes, size)
    }
  }
}

export async function openFromDaemon (client: ApiClient, r: GetRequest): Promise<OpenedBlob> {
  let digest = r.digest
  let imported: number | undefined
  if (digest == null) {
    r.onImport?.()
    const tracker = importTracker(r)
    const got = await importUrl(client, { url: r.url!, headers: r.headers, signal: r.signal, onProgress: tracker.progress })
    tracker.progress(got.size, got.size)
    digest = got.digest
    imported = got.size
  }
  // Subscribe to progress before the fetch starts, so no piece event is missed.
  const events = new AbortController()
  r.signal.addEventListener('abort', () => { events.abort() }, { once: true })
  let result: BytesBySource | undefined
  let sawStart = false
  let gotDone: () => void = () => {}
  const done = new Promise<void>(resolve => { gotDone = resolve })
  let failure: string | undefined
  let gotFailed: () => void = () => {}
  const failed = new Promise<void>(resolve => { gotFailed = resolve })
  const sub = await client.request('GET', `/api/v1/events?digest=${digest}`, { signal: events.signal })
  void readEvents(sub.body!, (type, data) => {
    if (type === 'start') {
      sawStart = true
      if (typeof data.size === 'number') r.onSize?.(data.size)
    }
    if (type === 'piece') r.onSource(data.source as ByteSource, data.bytes as number)
    if (type === 'done') { result = data.bytesBySource; gotDone() }
    if (type === 'failed') { failure = `${String(data.name)}: ${String(data.message)}`; gotFailed() }
  }).catch(() => {})

  const params = new URLSearchParams()
  if (r.url != null) params.set('origin', r.url)
  if (r.pieceMap != null) params.set('pieceMap', r.pieceMap)
  const q = params.size > 0 ? `?${params}` : ''
  const headers: Record<string, string> = {}
  for (const [k, v] of Object.entries(r.headers)) headers[`x-starling-header-${k}`] = v
  const res = await client.request('GET', `/api/v1/blobs/${digest}${q}`, { headers, signal: r.signal }).catch(err => {
    events.abort()
    throw err
  })
  const len = res.headers.get('content-length')
  return {
    digest,
    size: len == null ? undefined : Number(len),
    body: explainCut(res.body as unknown as AsyncIterable<Uint8Array>, failed, () => failure),
    async finish () {
      // The done event races the end of the body: give it a moment, if the
      // node reported this fetch at all (a cache hit may send no events).
      if (sawStart) await Promise.race([done, new Promise(resolve => setTimeout(resolve, 1000).unref())])
      events.abort()
      return creditImport(result, imported)
    },
    async close () { events.abort() },
    imported
  }
}

/** How long a cut body waits for the daemon's `failed` event that says why. */
const FAILURE_EVENT_WAIT_MS = 5000

/**
 * The daemon cuts the body when a fetch fails after the headers (undici then
 * says only "terminated"); the events stream carries the reason, so the
 * error names it (e.g. the blob failed its digest).
 */
async function * explainCut (body: AsyncIterable<Uint8Array>, failed: Promise<void>, failure: () => string | undefined): AsyncGenerator<Uint8Array> {
  try {
    yield * body
  } catch (err) {
    await Promise.race([failed, new Promise(resolve => setTimeout(resolve, FAILURE_EVENT_WAIT_MS).unref())])
    const why = failure()
    if (why == null) throw err
    throw new CliError(`the daemon's fetch failed: ${why}`)
  }
}

export interface StandaloneOptions {
  bootstrap?: string[]
  dataDir?: string
}

/** An in-process node that serves one or more downloads (`get --standalone`). */
export interface StandaloneSession {
  open(r: GetRequest): Promise<OpenedBlob>
  /** Stops the node and removes its temp folder. */
  stop(): Promise<void>
  /**
   * On failure the process ends right after (main exits): stopping the node
   * here can race a failed download's own timers (it leaves its gossip topic
   * on a timer that throws once pubsub is stopped), so only the temp folder
   * is removed.
   */
  abandon(): Promise<void>
}

/** Runs a node in this process for one download; its folder is removed afterwards unless given. */
export async function openStandalone (r: GetRequest, o: StandaloneOptions): Promise<OpenedBlob> {
  const session = await startStandalone(o)
  try {
    const opened = await session.open(r)
    return {
      ...opened,
      async finish () {
        try { return await opened.finish() } finally { await session.stop() }
      },
      async close () { await session.abandon() }
    }
  } catch (err) {
    await session.stop()
    throw err
  }
}

/** Starts the in-process node; every `open` fetches through it. */
export async function startStandalone (o: StandaloneOptions): Promise<StandaloneSession> {
  const { createNode } = await import('../node.js')
  const { originFromUrl } = await import('../origin/index.js')
  const dataDir = o.dataDir ?? await mkdtemp(join(tmpdir(), 'starling-get-'))
  const node = await createNode({ dataDir, listen: ['/ip4/0.0.0.0/tcp/0'], bootstrap: o.bootstrap })
  const abandon = async (): Promise<void> => { if (o.dataDir == null) await rm(dataDir, { recursive: true, force: true }) }
  const stop = async (): Promise<void> => {
    try { await node.stop() } catch {}
    await abandon()
  }
  try {
    await node.start()
  } catch (err) {
    await stop()
    throw err
  }
  async function open (r: GetRequest): Promise<OpenedBlob> {
    let digest = r.digest
    let imported: number | undefined
    if (digest == null) {
      r.onImport?.()
      const origin = originFromUrl(r.url!, { headers: r.headers })
      const tracker = importTracker(r)
      const total = await origin.stat({ signal: r.signal }).then(i => i.size, () => undefined)
      tracker.progress(0, total)
      async function * counted (): AsyncGenerator<Uint8Array> {
        for await (const chunk of origin.read(undefined, { signal: r.signal })) {
          tracker.progress(tracker.bytes() + chunk.byteLength, total)
          yield chunk
        }
      }
      const got = await node.add(counted(), { signal: r.signal })
      digest = got.digest
      imported = got.size
    }
    let size: number | undefined
    let started: () => void = () => {}
    const start = new Promise<void>(resolve => { started = resolve })
    const f = node.fetch(digest, {
      origin: r.url,
      pieceMap: r.pieceMap,
      headers: r.headers,
      signal: r.signal,
      onProgress: (e) => {
        if (e.type === 'starling:fetch:start') { size = e.detail.size; r.onSize?.(size); started() }
        if (e.type === 'starling:fetch:piece') r.onSource(e.detail.source, e.detail.bytes)
      }
    })
    const it = f[Symbol.asyncIterator]()
    // Wait for the size (start event) or the first chunk, keeping that chunk's promise.
    const firstChunk = it.next()
    await Promise.race([firstChunk, start])
    size ??= (await node.stat(digest))?.size
    async function * body (): AsyncGenerator<Uint8Array> {
      // Only a reader that stops early tells the iterator so; one that threw or ended is finished.
      let settled = false
      try {
        let n = await firstChunk
        while (n.done !== true) {
          yield n.value
          n = await it.next()
        }
        settled = true
      } catch (err) {
        settled = true
        throw err
      } finally {
        if (!settled) void Promise.resolve(it.return?.()).catch(() => {})
      }
    }
    return {
      digest,
      size,
      body: body(),
      async finish () { return creditImport((await f).bytesBySource, imported) },
      imported,
      async close () {}
    }
  }
  return { open, stop, abandon }
}
