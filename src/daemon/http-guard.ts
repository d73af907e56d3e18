/**
 * Who may talk to the local API (docs/http-api.md, "Authentication"). Checks
 * run before any route, in this order:
 *
 * 1. Host: a loopback name or address, the configured listen host, a local
 *    interface address when listening on a wildcard, or a name from
 *    `apiHosts` — else 403. A DNS-rebinding page reaches us with its own
 *    name in Host.
 * 2. Origin, when present: the API's own (`http://<Host>`) — else 403. A
 *    browser sends Origin on every cross-site POST.
 * 3. The bearer token, for everything but the open endpoints (/healthz,
 *    /readyz, /metrics: read-only, no blob data; the status page: the same
 *    HTML for everyone, no data) — else 401.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import { isIP } from 'node:net'
import { networkInterfaces } from 'node:os'
import { HttpError } from './http-util.js'

/**
 * Paths any local caller may read without the token: probes and Prometheus
 * scrapers carry none, and a browser cannot send one when it opens the
 * status page (which holds no data: docs/status-page.md).
 */
export const OPEN_PATHS = new Set(['/healthz', '/readyz', '/metrics', '/status', '/'])

const WILDCARDS = new Set(['0.0.0.0', '::', ''])
const LOOPBACK_NAMES = new Set(['localhost', 'localhost.'])

export interface GuardInit {
  /** The token every non-open request must carry as `Authorization: Bearer <token>`. */
  token: string
  /** The host the API listens on (from `host:port`, brackets removed). */
  listenHost: string
  /** Extra Host names allowed (config `apiHosts`). */
  extraHosts?: string[]
}

export interface RequestGuard {
  /** Throws HttpError 403 (Host, Origin) or 401 (token). */
  check(req: IncomingMessage, path: string): void
}

export function createRequestGuard (init: GuardInit): RequestGuard {
  const expected = digestOf(init.token)
  const listenHost = init.listenHost.toLowerCase()
  const extra = new Set((init.extraHosts ?? []).map(h => stripBrackets(h.toLowerCase())))

  function hostAllowed (host: string): boolean {
    if (LOOPBACK_NAMES.has(host) || isLoopbackAddress(host)) return true
    if (host === listenHost || extra.has(host)) return true
    // On a wildcard the API answers on every interface: its own addresses
    // are fine (an IP literal in Host is not a rebinding: no name to rebind).
    return WILDCARDS.has(listenHost) && isIP(host) !== 0 && localAddresses().has(host)
  }

  return {
    check (req, path) {
      const hostHeader = req.headers.host
      if (hostHeader == null || hostHeader === '') throw new HttpError(403, 'a Host header is required', 'ForbiddenError')
      const host = hostOf(hostHeader)
      if (host == null || !hostAllowed(host)) {
        throw new HttpError(403, `Host ${JSON.stringify(hostHeader)} is not this API's (loopback, the listen address, or apiHosts)`, 'ForbiddenError')
      }
      const origin = req.headers.origin
      if (origin != null && origin.toLowerCase() !== `http://${hostHeader.toLowerCase()}`) {
        throw new HttpError(403, `cross-origin request from ${JSON.stringify(origin)} refused`, 'ForbiddenError')
      }
      if (OPEN_PATHS.has(path)) return
      const given = bearerOf(req.headers.authorization)
      if (given == null) throw new HttpError(401, 'missing API token: send "Authorization: Bearer <token>" (the token is in <data dir>/api-token)', 'UnauthorizedError')
      // Equal-length digests compared in constant time: neither the token
      // nor its length leaks through timing.
      if (!timingSafeEqual(digestOf(given), expected)) throw new HttpError(401, 'wrong API token', 'UnauthorizedError')
    }
  }
}

function digestOf (s: string): Buffer {
  return createHash('sha256').update(s).digest()
}

function bearerOf (header: string | undefined): string | undefined {
  if (header == null) return undefined
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header)
  return m?.[1]
}

/** `example.com:7483` → `example.com`; `[::1]:7483` → `::1`; undefined when malformed. */
export function hostOf (hostHeader: string): string | undefined {
  const h = hostHeader.trim().toLowerCase()
  if (h.startsWith('[')) {
    const end = h.indexOf(']')
    if (end < 0) return undefined
    const rest = h.slice(end + 1)
    if (rest !== '' && !/^:\d{1,5}$/.test(rest)) return undefined
    return h.slice(1, end)
  }
  const m = /^([^:\s]+)(?::\d{1,5})?$/.exec(h)
  return m?.[1]
}

function stripBrackets (h: string): string {
  return h.startsWith('[') && h.endsWith(']') ? h.slice(1, -1) : h
}

export function isLoopbackAddress (host: string): boolean {
  const h = host.startsWith('::ffff:') ? host.slice('::ffff:'.length) : host
  if (isIP(h) === 4) return h.startsWith('127.')
  return h === '::1'
}

function localAddresses (): Set<string> {
  const out = new Set<string>()
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) out.add(a.address.toLowerCase())
  }
  return out
}
