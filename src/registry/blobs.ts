/**
 * `HEAD`/`GET /v2/<name>/blobs/<digest>`: bytes from the swarm (the node's
 * fetch), with the upstream registry as origin, streamed while they arrive.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { MirrorContext, Upstream } from './context.js'
import { checkAccess, sendFailure } from './access.js'
import { parseRange } from './range.js'

export interface BlobRequest {
  up: Upstream
  repository: string
  digest: string
  head: boolean
  signal: AbortSignal
}

export async function serveBlob (ctx: MirrorContext, req: IncomingMessage, res: ServerResponse, r: BlobRequest): Promise<void> {
  const auth = req.headers.authorization
  let size: number
  try {
    const checked = await checkAccess(ctx, r.up, r.repository, r.digest, auth, r.signal)
    const local = await ctx.node.stat(r.digest, { signal: r.signal })
    if (local != null && (local.complete || local.piecesHeld > 0)) size = local.size
    else if (checked != null) size = checked.size
    else size = (await ctx.origin(r.up, r.repository, r.digest, auth).stat({ signal: r.signal })).size
  } catch (err) {
    ctx.log.debug({ err, digest: r.digest }, 'blob refused or unknown')
    sendFailure(res, err, 'BLOB_UNKNOWN', r.head)
    return
  }

  const base = {
    'docker-content-digest': r.digest,
    'content-type': 'application/octet-stream',
    'accept-ranges': 'bytes',
    'docker-distribution-api-version': 'registry/2.0'
  }
  const range = parseRange(req.headers.range, size)
  if (range.kind === 'unsatisfiable') {
    res.writeHead(416, { ...base, 'content-range': `bytes */${size}`, 'content-length': 0 })
    res.end()
    return
  }
  const start = range.kind === 'ok' ? range.start : 0
  const end = range.kind === 'ok' ? range.end : size
  const status = range.kind === 'ok' ? 206 : 200
  const headers: Record<string, string | number> = { ...base, 'content-length': end - start }
  if (status === 206) headers['content-range'] = `bytes ${start}-${end - 1}/${size}`
  if (r.head) {
    res.writeHead(status, headers)
    res.end()
    return
  }

  const origin = ctx.origin(r.up, r.repository, r.digest, auth)
  // A watchdog: when no verified byte arrives for STALL_MS, give up on this
  // response (500 before the headers, a cut connection after) so the puller
  // falls back or resumes instead of hanging on a stuck download.
  const stall = new AbortController()
  let timer: ReturnType<typeof setTimeout> | undefined
  const touch = (): void => {
    if (timer !== undefined) clearTimeout(timer)
    timer = setTimeout(() => { stall.abort(new Error(`no bytes for ${STALL_MS} ms`)) }, STALL_MS)
  }
  const pause = (): void => { clearTimeout(timer) }
  touch()
  const signal = AbortSignal.any([r.signal, stall.signal])
  try {
    await stream(ctx, res, r, origin, signal, touch, pause, { start, end, status, headers })
  } finally {
    clearTimeout(timer)
  }
}

export const STALL_MS = 20_000

async function stream (
  ctx: MirrorContext, res: ServerResponse, r: BlobRequest, origin: ReturnType<MirrorContext['origin']>, signal: AbortSignal,
  touch: () => void, pause: () => void, o: { start: number, end: number, status: number, headers: Record<string, string | number> }
): Promise<void> {
  const { start, end, status, headers } = o
  // a CID the image's manifest gave for this layer: each piece is checked on arrival
  // reuseBuffer: every chunk is written out (its write callback seen) before the next is read (docs/memory.md)
  const fetch = ctx.node.fetch(r.digest, { origin, signal, range: { offset: start, length: end - start }, pieceMap: ctx.pieceMaps.get(r.digest), reuseBuffer: true })
  // The fetch must be awaited somewhere, or its failure is an unhandled rejection.
  Promise.resolve(fetch).catch(() => {})
  const it = fetch[Symbol.asyncIterator]()
  let first: IteratorResult<Uint8Array>
  try {
    // Headers wait for the first verified bytes: until then a failure can still be a clean error status.
    first = end > start ? await raceAbort(it.next(), signal) : { done: true, value: undefined }
  } catch (err) {
    ctx.log.debug({ err, digest: r.digest }, 'blob fetch failed before any byte')
    sendFailure(res, err, 'BLOB_UNKNOWN', false)
    return
  }
  res.writeHead(status, headers)
  let sent = 0
  try {
    for (let step = first; step.done !== true; step = await raceAbort(it.next(), signal)) {
      touch()
      sent += step.value.byteLength
      pause() // a slow client is not a stall
      await written(res, step.value, r.signal)
      touch()
    }
    if (sent !== end - start) throw new Error(`sent ${sent} of ${end - start} bytes`)
    res.end()
  } catch (err) {
    // Mid-body: cut the connection so the client sees a short body and resumes with Range.
    ctx.log.debug({ err, digest: r.digest, sent }, 'blob stream cut')
    void it.return?.().catch(() => {})
    res.destroy()
  }
}

/** Writes a chunk and waits until it left our hands for the socket: the next chunk may reuse its buffer. */
async function written (res: ServerResponse, chunk: Uint8Array, signal: AbortSignal): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const onAbort = (): void => { reject(signal.reason) }
    signal.addEventListener('abort', onAbort, { once: true })
    res.write(chunk, err => {
      signal.removeEventListener('abort', onAbort)
      if (err != null) reject(err)
      else resolve()
    })
  })
}

/** The iterator's next step, or the signal's reason if it fires first (a stuck iterator cannot hold us). */
async function raceAbort<T> (p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) throw signal.reason
  return await new Promise<T>((resolve, reject) => {
    const onAbort = (): void => { reject(signal.reason) }
    signal.addEventListener('abort', onAbort, { once: true })
    p.then(resolve, reject).finally(() => { signal.removeEventListener('abort', onAbort) })
  })
}
