/**
 * The OCI distribution *pull* API on the node's swarm, for containerd
 * (`hosts.toml` mirror) and docker (`registry-mirrors`). Pushes are not
 * supported. Every failure answers fast so the puller falls back to the
 * upstream: a broken mirror must never break a pull.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { StarlingNode } from '../api.js'
import type { Logger, Startable } from '../types.js'
import { ConfigError } from '../errors.js'
import { serveBlob } from './blobs.js'
import { MirrorContext, type RegistryMirrorInit } from './context.js'
import { serveManifest } from './manifests.js'
import { sendOciError } from './oci-errors.js'
import { checkDigest, isValidName, isValidTag, parseRoute } from './validate.js'
import { traceRequests } from '../tracing/http.js'

export type { RegistryMirrorInit, Upstream } from './context.js'
export { DOCKER_HUB } from './context.js'
export { isValidName, isValidTag, checkDigest, parseRoute } from './validate.js'

export interface RegistryMirrorComponents {
  node: StarlingNode
  logger?: Logger
}

export interface RegistryMirror extends Startable {
  /** `http://host:port` once started. */
  readonly url: string
}

const silent: Logger = { debug () {}, info () {}, warn () {}, error () {} }

/**
 * The host a bare `:PORT` binds: loopback. The mirror serves whatever the
 * swarm holds, and an address that reaches every interface must be asked for
 * by name (`0.0.0.0:PORT`, `[::]:PORT`), as the local API's is.
 */
export const DEFAULT_REGISTRY_HOST = '127.0.0.1'

export function parseListen (listen: string): { host: string, port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(listen)
  if (m == null) throw new ConfigError(`registry listen address "${listen}": expected HOST:PORT`)
  const port = Number(m[3])
  if (port > 65535) throw new ConfigError(`registry listen address "${listen}": port out of range`)
  return { host: m[1] ?? (m[2] === '' ? DEFAULT_REGISTRY_HOST : m[2]), port }
}

/** A span name's route: the template, never the repository or digest (they would make every name unique). */
function mirrorRoute (req: IncomingMessage): string {
  const path = (req.url ?? '/').split('?')[0]
  if (path === '/v2/' || path === '/v2') return '/v2/'
  const route = parseRoute(path)
  if (route == null) return '/{unknown}'
  return route.kind === 'blobs' ? '/v2/{name}/blobs/{digest}' : '/v2/{name}/manifests/{reference}'
}

export function createRegistryMirror (components: RegistryMirrorComponents, init: RegistryMirrorInit): RegistryMirror {
  const log = components.logger ?? silent
  const ctx = new MirrorContext(components.node, log, init)
  const { host, port } = parseListen(init.listen)
  let server: Server | undefined
  let url = ''

  async function handle (req: IncomingMessage, res: ServerResponse): Promise<void> {
    const ac = new AbortController()
    const t0 = Date.now()
    res.on('finish', () => { log.debug({ method: req.method, url: req.url, status: res.statusCode, ms: Date.now() - t0 }, 'registry request') })
    res.on('close', () => { if (!res.writableFinished) ac.abort(new Error('client went away')) })
    // The raw path, not URL's: URL parsing resolves `..` segments, which must be refused, not followed.
    const rawUrl = req.url ?? '/'
    const q = rawUrl.indexOf('?')
    const pathname = q < 0 ? rawUrl : rawUrl.slice(0, q)
    const query = new URLSearchParams(q < 0 ? '' : rawUrl.slice(q + 1))
    const head = req.method === 'HEAD'
    if (req.method !== 'GET' && !head) {
      sendOciError(res, 'UNSUPPORTED', 'this mirror serves pulls only', { status: 405, headers: { allow: 'GET, HEAD' } })
      return
    }
    if (pathname === '/v2/' || pathname === '/v2') {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': 2, 'docker-distribution-api-version': 'registry/2.0' })
      res.end(head ? undefined : '{}')
      return
    }
    const route = parseRoute(pathname)
    if (route == null) { sendOciError(res, 'UNSUPPORTED', 'not a pull endpoint', { head }); return }
    // Validation first: a bad name or digest never reaches the store or the upstream.
    if (!isValidName(route.name)) { sendOciError(res, 'NAME_INVALID', 'invalid repository name', { head }); return }
    const isDigest = route.reference.includes(':')
    if (isDigest || route.kind === 'blobs') {
      const d = checkDigest(route.reference)
      if (d === 'invalid') { sendOciError(res, 'DIGEST_INVALID', 'invalid digest', { head }); return }
      if (d === 'unsupported') { sendOciError(res, 'UNSUPPORTED', 'only sha256 digests are mirrored', { head }); return }
    } else if (!isValidTag(route.reference)) {
      sendOciError(res, 'MANIFEST_INVALID', 'invalid tag', { status: 400, head })
      return
    }
    const ns = query.get('ns')
    const up = ctx.upstream(ns)
    if (up == null) { sendOciError(res, 'NAME_UNKNOWN', `registry ${ns ?? '(default)'} is not mirrored here`, { head }); return }
    const common = { up, repository: route.name, head, signal: ac.signal }
    if (route.kind === 'blobs') await serveBlob(ctx, req, res, { ...common, digest: route.reference })
    else await serveManifest(ctx, req, res, { ...common, reference: route.reference, isDigest })
  }

  return {
    get url () { return url },
    async start () {
      if (server != null) return
      // A span per request (a no-op unless the daemon turned tracing on): the blob fetch it triggers is its child.
      const s = createServer(traceRequests((req, res) => {
        handle(req, res).catch(err => {
          log.warn({ err }, 'registry mirror request failed')
          sendOciError(res, 'UNAVAILABLE', 'internal error')
        })
      }, mirrorRoute))
      // Slow pullers are fine, idle sockets are not.
      s.keepAliveTimeout = 30_000
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject)
        s.listen(port, host, () => { s.off('error', reject); resolve() })
      })
      server = s
      const a = s.address() as AddressInfo
      url = `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`
      log.info({ url }, 'registry mirror listening')
    },
    async stop () {
      const s = server
      server = undefined
      if (s == null) return
      await new Promise<void>(resolve => {
        s.close(() => { resolve() })
        s.closeAllConnections()
      })
    }
  }
}
