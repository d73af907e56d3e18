/**
 * The daemon's local HTTP API (docs/http-api.md), plus /metrics, /healthz
 * and /readyz. Plain node:http: a dozen routes do not need a framework.
 * Errors are JSON `{error:{name,message}}` with a status from the error's
 * name, built only here, at the edge.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { FetchProgressEvent, StarlingNode } from '../api.js'
import type { Logger } from '../types.js'
import { parseDigest } from '../content/index.js'
import { originFromUrl } from '../origin/index.js'
import type { RequestGuard } from './http-guard.js'
import { traceOriginInContext } from '../tracing/fetch.js'
import { importWithProgress, NDJSON } from './import-progress.js'
import { abortOnClose, HttpError, passthroughHeaders, readJson, requireMediaType, sendError, sendJson, statusOf } from './http-util.js'
import type { DaemonMetrics } from './metrics.js'
import type { ProgressHub } from './progress-hub.js'
import { serveStatusPage, STATUS_PATH, type StatsHistory, type TransferLog } from './status-page/index.js'
import { version } from './version.js'

export interface ApiComponents {
  node: StarlingNode
  hub: ProgressHub
  /** Undefined when metrics live on their own listener. */
  metrics?: DaemonMetrics
  logger: Logger
  /** With no bootstrap peers configured, the node is ready alone. */
  alone: boolean
  /** Extra fields for /api/v1/info (api, metrics and registry URLs). */
  info: () => Record<string, unknown>
  gc: (options?: { signal?: AbortSignal }) => Promise<unknown>
  /** Host, Origin and token checks (src/daemon/http-guard.ts). */
  guard: RequestGuard
  /** Whether callers may make the daemon read its own files (`file://`, add by path). */
  allowFileImport: boolean
  /** Serve only the open endpoints (a separate metrics listener). */
  openOnly?: boolean
  /** The fetches for `/api/v1/transfers` and the status page. */
  transfers: TransferLog
  /** The byte counters of the last minutes, for `/api/v1/stats/history`. */
  history: StatsHistory
}

export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => void

const BLOB = /^\/api\/v1\/blobs\/([^/]+)(\/stat|\/pin)?$/

export function createApiHandler (c: ApiComponents): RequestHandler {
  return (req, res) => {
    route(c, req, res).catch(err => {
      const e = err as Error
      if (e?.name !== 'AbortError' && (e as NodeJS.ErrnoException)?.code !== 'ERR_STREAM_PREMATURE_CLOSE') {
        c.logger.debug({ err: e?.message, url: req.url }, 'api request failed')
      }
      if (statusOf(err) === 401 && !res.headersSent) res.setHeader('www-authenticate', 'Bearer realm="starling"')
      sendError(res, err)
    })
  }
}

async function route (c: ApiComponents, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://local')
  const path = url.pathname
  const method = req.method ?? 'GET'
  c.guard.check(req, path)
  const signal = abortOnClose(res)

  if (path === '/healthz') return sendJson(res, 200, { ok: true })
  if (path === '/readyz') return readyz(c, res)
  if (path === '/metrics' && c.metrics != null) return await metrics(c.metrics, res)
  if (c.openOnly === true) throw new HttpError(404, `no route for ${method} ${path} on the metrics listener`)
  // the status page (docs/status-page.md): no data in it, it reads the routes below with the token
  if (path === STATUS_PATH || path === '/') return serveStatusPage(req, res, path)

  if (path === '/api/v1/info' && method === 'GET') {
    return sendJson(res, 200, {
      peerId: c.node.peerId,
      addresses: c.node.addresses(),
      location: c.node.location,
      version: version(),
      cache: usage(c.node),
      ...c.info()
    })
  }
  if (path === '/api/v1/peers' && method === 'GET') return sendJson(res, 200, { peers: c.node.peers() })
  // the node's counters, as /metrics has them (bytes in by source, uploads, pieces, origin requests), for `starling stat`
  if (path === '/api/v1/stats' && method === 'GET') return sendJson(res, 200, { ...c.node.stats(), cache: usage(c.node) })
  if (path === '/api/v1/transfers' && method === 'GET') return sendJson(res, 200, { transfers: c.transfers.list() })
  if (path === '/api/v1/stats/history' && method === 'GET') return sendJson(res, 200, { samples: c.history.samples() })
  if (path === '/api/v1/gc' && method === 'POST') return sendJson(res, 200, await c.gc({ signal }))
  if (path === '/api/v1/blobs' && method === 'GET') return sendJson(res, 200, { blobs: await c.node.list({ signal }) })
  if (path === '/api/v1/blobs' && method === 'POST') return await add(c, req, res, url, signal)
  if (path === '/api/v1/import' && method === 'POST') return await importUrl(c, req, res, signal)
  if (path === '/api/v1/events' && method === 'GET') return events(c, res, url)

  const m = BLOB.exec(path)
  if (m != null) {
    const digest = parseDigest(decodeURIComponent(m[1])).digest
    if (m[2] === '/stat' && method === 'GET') {
      const info = await c.node.stat(digest, { signal })
      if (info == null) throw new HttpError(404, `${digest} is not in the store`, 'NotFoundError')
      return sendJson(res, 200, info)
    }
    if (m[2] === '/pin' && method === 'POST') {
      const body = await readJson(req)
      await c.node.pin(digest, body.pinned !== false, { signal })
      return sendJson(res, 200, { digest, pinned: body.pinned !== false })
    }
    if (m[2] == null && method === 'DELETE') return sendJson(res, 200, { digest, deleted: await c.node.delete(digest, { signal }) })
    if (m[2] == null && (method === 'GET' || method === 'HEAD')) return await getBlob(c, req, res, digest, url, signal)
  }
  throw new HttpError(404, `no route for ${method} ${path}`)
}

function usage (node: StarlingNode): Record<string, unknown> {
  const u = node.stats().cache
  // JSON has no Infinity: a missing quota is null.
  return { ...u, quota: Number.isFinite(u.quota) ? u.quota : null }
}

function readyz (c: ApiComponents, res: ServerResponse): void {
  const listening = c.node.addresses().length > 0
  const peers = c.node.stats().connectedPeers
  const ready = listening && (peers > 0 || c.alone)
  sendJson(res, ready ? 200 : 503, { ready, listening, peers, alone: c.alone })
}

async function metrics (m: DaemonMetrics, res: ServerResponse): Promise<void> {
  const text = await m.render()
  res.writeHead(200, { 'content-type': m.contentType })
  res.end(text)
}

/**
 * Streams a blob while the swarm fetches it. Headers wait for the first
 * verified chunk, so a fetch that fails early (bad digest, nobody has it, the
 * origin says 404) gets a proper status; a failure after that can only cut
 * the connection, which the client sees as a short body.
 */
async function getBlob (c: ApiComponents, req: IncomingMessage, res: ServerResponse, digest: string, url: URL, signal: AbortSignal): Promise<void> {
  if (req.method === 'HEAD') {
    const info = await c.node.stat(digest, { signal })
    if (info == null || !info.complete) throw new HttpError(404, `${digest} is not complete in the store`, 'NotFoundError')
    res.writeHead(200, { 'content-length': info.size, 'x-starling-digest': digest, 'content-type': 'application/octet-stream' })
    res.end()
    return
  }
  const origin = url.searchParams.get('origin') ?? undefined
  if (origin != null) checkOriginUrl(origin, c.allowFileImport)
  // the CID of the blob's piece map: every piece is checked against it on arrival
  const pieceMap = url.searchParams.get('pieceMap') ?? undefined
  let size: number | undefined
  const f = c.node.fetch(digest, {
    origin,
    pieceMap,
    // each chunk is written out (its write callback seen) before the next is read: see writeEach
    reuseBuffer: true,
    headers: passthroughHeaders(req),
    signal,
    onProgress: (e: FetchProgressEvent) => {
      if (e.type === 'starling:fetch:start') size = e.detail.size
      c.hub.emit(digest, e)
    }
  })
  const it = f[Symbol.asyncIterator]()
  const first = await it.next()
  size ??= (await c.node.stat(digest, { signal }))?.size
  const headers: Record<string, string | number> = { 'content-type': 'application/octet-stream', 'x-starling-digest': digest }
  if (size != null) headers['content-length'] = size
  res.writeHead(200, headers)
  async function * rest (): AsyncGenerator<Uint8Array> {
    if (first.done !== true) yield first.value
    for (;;) {
      const n = await it.next()
      if (n.done === true) return
      yield n.value
    }
  }
  try {
    await writeEach(rest(), res)
  } catch (err) {
    // Past the headers a failure can only cut the body: the events stream says why.
    const e = err as Error
    c.hub.emit(digest, { type: 'starling:fetch:failed', detail: { digest, name: e.name, message: e.message } })
    throw err
  } finally {
    await it.return?.()
  }
  // The iterator ending means every byte was verified; the awaitable settles the store side.
  await Promise.resolve(f).catch(err => { c.logger.warn({ digest, err: (err as Error).message }, 'fetch ended with an error after streaming') })
}

async function add (c: ApiComponents, req: IncomingMessage, res: ServerResponse, url: URL, signal: AbortSignal): Promise<void> {
  const pin = url.searchParams.get('pin') === '1' || url.searchParams.get('pin') === 'true'
  const expected = url.searchParams.get('digest') ?? undefined
  const expectedDigest = expected == null ? undefined : parseDigest(expected).digest
  if (requireMediaType(req, 'application/octet-stream', 'application/json') === 'application/json') {
    const body = await readJson(req)
    if (typeof body.path !== 'string' || !body.path.startsWith('/')) throw new HttpError(400, 'expected {"path": "/absolute/path/on/the/daemon/host"}')
    if (!c.allowFileImport) throw fileRefused('adding a file by path')
    const r = await c.node.add(body.path, { signal, expectedDigest, pin: pin || body.pin === true })
    c.logger.info({ ...r, path: body.path }, 'added file')
    return sendJson(res, 200, r)
  }
  const r = await c.node.add(req as AsyncIterable<Uint8Array>, { signal, expectedDigest, pin })
  c.logger.info(r, 'added upload')
  sendJson(res, 200, r)
}

/**
 * A URL with no digest known up front: the daemon downloads it once through
 * its origin client (retries, headers), importing into the store as it goes;
 * the digest is then known and the blob is announced to the swarm.
 */
async function importUrl (c: ApiComponents, req: IncomingMessage, res: ServerResponse, signal: AbortSignal): Promise<void> {
  const body = await readJson(req)
  if (typeof body.url !== 'string') throw new HttpError(400, 'expected {"url": "https://...", "headers": {...}}')
  checkOriginUrl(body.url, c.allowFileImport)
  const headers = (typeof body.headers === 'object' && body.headers != null ? body.headers : {}) as Record<string, string>
  // origin spans under this request's span when tracing is on (docs/tracing.md)
  const origin = traceOriginInContext(originFromUrl(body.url, { headers }))
  if ((req.headers.accept ?? '').includes(NDJSON)) {
    const r = await importWithProgress(c.node, origin, res, signal)
    if (r != null) c.logger.info({ ...r, origin: origin.name }, 'imported URL')
    return
  }
  const r = await c.node.add(origin.read(undefined, { signal }), { signal })
  c.logger.info({ ...r, origin: origin.name }, 'imported URL')
  sendJson(res, 200, r)
}

/**
 * A `file://` origin makes the daemon read a file of its host with its own
 * rights and then announce it to the swarm: only when the config allows it.
 */
function checkOriginUrl (raw: string, allowFileImport: boolean): void {
  let scheme: string
  try {
    scheme = new URL(raw).protocol
  } catch {
    throw new HttpError(400, `not a URL: ${JSON.stringify(raw)}`)
  }
  if (scheme === 'file:' && !allowFileImport) throw fileRefused('a file:// URL')
}

function fileRefused (what: string): HttpError {
  return new HttpError(403, `${what} is refused: the daemon reads its own files for API callers only with allowFileImport: true in its config (stream the file instead: starling add FILE)`, 'ForbiddenError')
}

/** Server-sent events: the progress of fetches of one digest started through this API. */
function events (c: ApiComponents, res: ServerResponse, url: URL): void {
  const digest = parseDigest(url.searchParams.get('digest') ?? '').digest
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' })
  res.write(': subscribed\n\n')
  const off = c.hub.subscribe(digest, (e) => {
    res.write(`event: ${e.type.slice('starling:fetch:'.length)}\ndata: ${JSON.stringify(e.detail)}\n\n`)
  })
  res.once('close', off)
}

/**
 * Writes each chunk and waits for its write callback (the bytes left our
 * hands for the socket) before pulling the next: the chunks may share one
 * buffer (FetchOptions.reuseBuffer). One chunk in flight is enough: reading
 * the next from the page cache takes a fraction of a socket write.
 */
async function writeEach (chunks: AsyncIterable<Uint8Array>, res: ServerResponse): Promise<void> {
  for await (const chunk of chunks) {
    await new Promise<void>((resolve, reject) => { res.write(chunk, err => { if (err != null) reject(err); else resolve() }) })
  }
  await new Promise<void>((resolve, reject) => {
    res.once('error', reject)
    res.end(() => { res.off('error', reject); resolve() })
  })
}
