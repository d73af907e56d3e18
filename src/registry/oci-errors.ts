/**
 * OCI error JSON, built only here at the HTTP edge (as Spegel does):
 * `{"errors":[{"code","message","detail"}]}` with the status the
 * distribution spec gives each code.
 */
import type { ServerResponse } from 'node:http'

export type OciErrorCode =
  | 'NAME_INVALID' | 'NAME_UNKNOWN' | 'DIGEST_INVALID' | 'BLOB_UNKNOWN' | 'MANIFEST_UNKNOWN'
  | 'MANIFEST_INVALID' | 'UNAUTHORIZED' | 'DENIED' | 'UNSUPPORTED' | 'RANGE_INVALID' | 'TOOMANYREQUESTS' | 'UNAVAILABLE'

const STATUS: Record<OciErrorCode, number> = {
  NAME_INVALID: 400,
  NAME_UNKNOWN: 404,
  DIGEST_INVALID: 400,
  BLOB_UNKNOWN: 404,
  MANIFEST_UNKNOWN: 404,
  MANIFEST_INVALID: 400,
  UNAUTHORIZED: 401,
  DENIED: 403,
  // 404 rather than 405: containerd then asks the upstream itself.
  UNSUPPORTED: 404,
  RANGE_INVALID: 416,
  TOOMANYREQUESTS: 429,
  // Our own failures: 500 makes containerd fall back to the upstream at once.
  UNAVAILABLE: 500
}

export function sendOciError (
  res: ServerResponse,
  code: OciErrorCode,
  message: string,
  options: { status?: number, headers?: Record<string, string>, head?: boolean } = {}
): void {
  if (res.headersSent) { res.destroy(); return }
  const body = JSON.stringify({ errors: [{ code, message, detail: null }] })
  res.writeHead(options.status ?? STATUS[code], {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'docker-distribution-api-version': 'registry/2.0',
    ...options.headers
  })
  res.end(options.head === true ? undefined : body)
}

/** Relays an upstream error body when it is OCI JSON, else makes one. */
export function relayError (res: ServerResponse, status: number, fallback: OciErrorCode, upstreamBody: string | undefined, headers: Record<string, string> = {}, head = false): void {
  let body: string | undefined
  try {
    const parsed = JSON.parse(upstreamBody ?? '') as { errors?: unknown }
    if (Array.isArray(parsed.errors)) body = upstreamBody
  } catch {}
  if (body === undefined) { sendOciError(res, fallback, `upstream answered HTTP ${status}`, { status, headers, head }); return }
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), ...headers })
  res.end(head ? undefined : body)
}
