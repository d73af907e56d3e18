/**
 * `HEAD`/`GET /v2/<name>/manifests/<reference>`. Tags are always resolved at
 * the upstream with the caller's credentials (never from peers: a tag is a
 * mutable pointer). Digests are served from the local store when it holds
 * them, else from the upstream, and always checked against the digest first.
 * Every path goes through the access check blobs get: the mirror's own
 * credentials fetch only for a caller the upstream has let in.
 */
import { createHash } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { fetchManifest, MAX_MANIFEST_BYTES, type ManifestResponse } from '../origin/oci.js'
import type { MirrorContext, Upstream } from './context.js'
import { sendFailure } from './access.js'
import { relayError, sendOciError } from './oci-errors.js'

export interface ManifestRequest {
  up: Upstream
  repository: string
  reference: string
  isDigest: boolean
  head: boolean
  signal: AbortSignal
}

function sha256 (bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`
}

/** The media type a stored manifest declares (or implies), as registries send in Content-Type. */
export function manifestMediaType (bytes: Uint8Array): string {
  try {
    const m = JSON.parse(Buffer.from(bytes).toString('utf8')) as { mediaType?: string, manifests?: unknown, config?: { mediaType?: string } }
    if (typeof m.mediaType === 'string') return m.mediaType
    if (Array.isArray(m.manifests)) return 'application/vnd.oci.image.index.v1+json'
    if (m.config?.mediaType === 'application/vnd.docker.container.image.v1+json') return 'application/vnd.docker.distribution.manifest.v2+json'
  } catch {}
  return 'application/vnd.oci.image.manifest.v1+json'
}

function send (res: ServerResponse, head: boolean, bytes: Uint8Array, digest: string, contentType: string): void {
  res.writeHead(200, {
    'content-type': contentType,
    'content-length': bytes.byteLength,
    'docker-content-digest': digest,
    'docker-distribution-api-version': 'registry/2.0'
  })
  res.end(head ? undefined : bytes)
}

async function readLocal (ctx: MirrorContext, digest: string, signal: AbortSignal): Promise<Uint8Array | undefined> {
  const info = await ctx.node.stat(digest, { signal })
  if (info?.complete !== true || info.size > MAX_MANIFEST_BYTES) return undefined
  const chunks: Uint8Array[] = []
  for await (const c of ctx.node.fetch(digest, { signal })) chunks.push(c)
  const bytes = Buffer.concat(chunks)
  return sha256(bytes) === digest ? bytes : undefined
}

/**
 * The access check for a manifest: a HEAD upstream with the caller's own
 * credentials (never ours). Returns the upstream's answer; anything but 200
 * is a refusal to relay.
 */
async function checkManifestAccess (ctx: MirrorContext, r: ManifestRequest, auth: string | undefined, accept: string | undefined): Promise<ManifestResponse> {
  const check = await fetchManifest({
    registry: r.up.url, repository: r.repository, reference: r.reference, method: 'HEAD', accept,
    clientAuthorization: auth, tokenCache: ctx.tokenCache, signal: r.signal
  })
  if (check.status === 200 && auth == null) ctx.markOpen(r.up)
  return check
}

export async function serveManifest (ctx: MirrorContext, req: IncomingMessage, res: ServerResponse, r: ManifestRequest): Promise<void> {
  const auth = req.headers.authorization
  const accept = Array.isArray(req.headers.accept) ? req.headers.accept.join(', ') : req.headers.accept
  try {
    const mustCheck = ctx.needsAccessCheck(r.up, auth)
    if (r.isDigest) {
      const local = await readLocal(ctx, r.reference, r.signal).catch(() => undefined)
      if (local != null) {
        if (mustCheck) {
          const check = await checkManifestAccess(ctx, r, auth, accept)
          if (check.status !== 200) { relayUpstream(res, check, r.head); return }
        }
        send(res, r.head, local, r.reference, manifestMediaType(local))
        ctx.pieceMaps.note(local)
        return
      }
    }
    // Our credentials stand in only for a caller who sent none. With the
    // check on, that caller is first asked about with its own (no)
    // credentials: the mirror's account must not open private repositories
    // to anonymous callers. A caller with credentials needs no separate
    // check: the fetch itself carries them, and ours are not used.
    const oursWanted = auth == null && r.up.credentials != null
    if (oursWanted && mustCheck) {
      const check = await checkManifestAccess(ctx, r, auth, accept)
      if (check.status !== 200) { relayUpstream(res, check, r.head); return }
      // A HEAD by tag has its answer already; asking again with our credentials would say the same.
      if (r.head && !r.isDigest) { relayHead(res, check); return }
    }
    const up = await fetchManifest({
      registry: r.up.url,
      repository: r.repository,
      reference: r.reference,
      // A HEAD by tag stays a HEAD upstream: it does not count as a pull at Docker Hub.
      method: r.head && !r.isDigest ? 'HEAD' : 'GET',
      accept,
      credentials: oursWanted ? r.up.credentials : undefined,
      clientAuthorization: auth,
      tokenCache: ctx.tokenCache,
      signal: r.signal
    })
    if (up.status !== 200) { relayUpstream(res, up, r.head); return }
    // An anonymous fetch without our credentials was itself the check, and it passed.
    if (auth == null && !oursWanted) ctx.markOpen(r.up)
    if (up.body == null) { relayHead(res, up); return }
    const digest = sha256(up.body)
    const expected = r.isDigest ? r.reference : up.digest
    if (expected != null && expected !== digest) {
      sendOciError(res, 'UNAVAILABLE', `upstream manifest does not match ${expected}`, { head: r.head })
      return
    }
    send(res, r.head, up.body, digest, up.contentType ?? manifestMediaType(up.body))
    ctx.pieceMaps.note(up.body)
    // Keep verified digest-addressed manifests in the store; tags are never stored by name.
    if (r.isDigest) void ctx.node.add(up.body, { expectedDigest: digest }).catch(err => { ctx.log.debug({ err }, 'storing manifest failed') })
  } catch (err) {
    ctx.log.debug({ err, ref: r.reference }, 'manifest failed')
    sendFailure(res, err, 'MANIFEST_UNKNOWN', r.head)
  }
}

/** HEAD by tag: relay what the upstream said; containerd resolves with these three headers. */
function relayHead (res: ServerResponse, up: ManifestResponse): void {
  const headers: Record<string, string | number> = { 'docker-distribution-api-version': 'registry/2.0' }
  if (up.contentType != null) headers['content-type'] = up.contentType
  if (up.digest != null) headers['docker-content-digest'] = up.digest
  if (up.contentLength != null) headers['content-length'] = up.contentLength
  res.writeHead(200, headers)
  res.end()
}

function relayUpstream (res: ServerResponse, up: ManifestResponse, head: boolean): void {
  if (up.status === 401) {
    relayError(res, 401, 'UNAUTHORIZED', up.errorBody, up.challenge == null ? {} : { 'www-authenticate': up.challenge }, head)
  } else if (up.status === 403) {
    relayError(res, 403, 'DENIED', up.errorBody, {}, head)
  } else if (up.status === 404) {
    relayError(res, 404, 'MANIFEST_UNKNOWN', up.errorBody, {}, head)
  } else {
    // Anything else (5xx, 429, odd redirects): fail fast, containerd asks the upstream itself.
    sendOciError(res, 'UNAVAILABLE', `upstream answered HTTP ${up.status}`, { head })
  }
}
