import type { IncomingMessage, ServerResponse } from 'node:http'

/** Error names (src/errors.ts) to HTTP statuses; anything else is a 500. */
const STATUS: Record<string, number> = {
  InvalidDigestError: 400,
  InvalidRequestError: 400,
  ConfigError: 400,
  NotFoundError: 404,
  NoSourceError: 404,
  AccessDeniedError: 403,
  UnauthorizedError: 401,
  ForbiddenError: 403,
  UnsupportedMediaTypeError: 415,
  DigestMismatchError: 502,
  OriginError: 502,
  ProtocolError: 502,
  StoreFullError: 507,
  NotStartedError: 503,
  AbortError: 503
}

export class HttpError extends Error {
  constructor (readonly status: number, message: string, override readonly name = 'InvalidRequestError') {
    super(message)
  }
}

export function statusOf (err: unknown): number {
  if (err instanceof HttpError) return err.status
  const e = err as { name?: string, status?: number }
  if (e?.name === 'OriginError' && e.status === 404) return 404
  return STATUS[e?.name ?? ''] ?? 500
}

/** The one error body of the API: `{"error":{"name":"NotFoundError","message":"..."}}`. */
export function sendError (res: ServerResponse, err: unknown): void {
  const status = statusOf(err)
  const e = err as Error
  if (res.headersSent) {
    // Bytes already went out: the only honest signal left is a cut connection.
    res.destroy(e)
    return
  }
  sendJson(res, status, { error: { name: e?.name ?? 'Error', message: e?.message ?? String(err) } })
}

export function sendJson (res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body) + '\n'
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) })
  res.end(text)
}

const MAX_JSON = 1024 * 1024

/** The request's media type, lowercased, without parameters (`application/json; charset=utf-8` → `application/json`). */
export function mediaType (req: IncomingMessage): string {
  return (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase()
}

/**
 * Refuses a body that is not declared JSON. A browser can send `text/plain`
 * (or a form type) cross-site without asking first; `application/json` it
 * cannot, so this also keeps web pages out.
 */
export function requireMediaType (req: IncomingMessage, ...allowed: string[]): string {
  const type = mediaType(req)
  if (!allowed.includes(type)) {
    throw new HttpError(415, `expected a body of type ${allowed.join(' or ')}, got ${type === '' ? 'none' : type}`, 'UnsupportedMediaTypeError')
  }
  return type
}

/** Reads a JSON object body; 415 unless the request says `application/json`. */
export async function readJson (req: IncomingMessage): Promise<Record<string, unknown>> {
  requireMediaType(req, 'application/json')
  const chunks: Buffer[] = []
  let n = 0
  for await (const c of req as AsyncIterable<Buffer>) {
    n += c.byteLength
    if (n > MAX_JSON) throw new HttpError(413, 'JSON body too large')
    chunks.push(c)
  }
  if (n === 0) return {}
  try {
    const v: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'))
    if (typeof v !== 'object' || v == null || Array.isArray(v)) throw new Error('not an object')
    return v as Record<string, unknown>
  } catch {
    throw new HttpError(400, 'expected a JSON object body')
  }
}

/** Request headers `X-Starling-Header-<Name>: value` become origin request headers `<Name>: value`. */
export function passthroughHeaders (req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {}
  const prefix = 'x-starling-header-'
  for (const [k, v] of Object.entries(req.headers)) {
    if (k.startsWith(prefix) && typeof v === 'string') out[k.slice(prefix.length)] = v
  }
  return out
}

/** Aborts when the client goes away before the response is complete. */
export function abortOnClose (res: ServerResponse): AbortSignal {
  const ac = new AbortController()
  res.once('close', () => { if (!res.writableFinished) ac.abort(new Error('client went away')) })
  return ac.signal
}
