/**
 * The OCI registry origin: a blob at `/v2/<repository>/blobs/<digest>`, with
 * the registry's auth (oci-auth.ts). Byte reads go through the HTTP origin
 * (Range, resume, retries, redirects to blob storage without Authorization)
 * with the Authorization this module worked out; a 401 in the middle (an
 * expired token) gets a fresh one and resumes where it stopped.
 */
import { OriginError, throwIfAborted } from '../errors.js'
import type { RateLimiter } from '../utils/rate-limit.js'
import type { AbortOptions } from '../types.js'
import { createHttpOrigin } from './http.js'
import { contentLength, header, statusError } from './http-util.js'
import {
  authError, authorize, cachedAuthorization, forgetAuthorization, ociDispatcher, ociRequest,
  type OciAuthContext, type RegistryCredentials, type TokenCache
} from './oci-auth.js'
import type { Origin, OriginInfo, OriginReadOptions } from './types.js'

export { TokenCache, parseChallenge, mayReceiveCredentials, KNOWN_TOKEN_HOSTS, type RegistryCredentials, type Challenge } from './oci-auth.js'

export interface OciOriginInit {
  /** Base URL of the registry (`https://registry-1.docker.io`, `http://127.0.0.1:5000`). */
  registry: string | URL
  repository: string
  digest: string
  credentials?: RegistryCredentials
  /** The pulling client's own `Authorization`, passed through instead of ours. */
  clientAuthorization?: string
  tokenCache?: TokenCache
  rateLimiter?: RateLimiter
  timeoutMs?: number
}

/** An OriginError's relayable challenge (set on 401s from the registry). */
export function challengeOf (err: unknown): string | undefined {
  const c = (err as { challenge?: unknown } | null)?.challenge
  return typeof c === 'string' ? c : undefined
}

export function createOciOrigin (init: OciOriginInit): Origin {
  return new OciOrigin(init)
}

class OciOrigin implements Origin {
  readonly name: string
  readonly #ctx: OciAuthContext
  readonly #path: string
  readonly #init: OciOriginInit

  constructor (init: OciOriginInit) {
    const registry = new URL(init.registry)
    this.#init = init
    this.#ctx = {
      registry,
      repository: init.repository,
      credentials: init.credentials,
      clientAuthorization: init.clientAuthorization,
      tokenCache: init.tokenCache,
      timeoutMs: init.timeoutMs
    }
    this.#path = `/v2/${init.repository}/blobs/${init.digest}`
    // No credentials in the name: it appears in logs and the engine dedups origins by it.
    this.name = `${registry.origin}${this.#path}`
  }

  async stat (options: AbortOptions = {}): Promise<OriginInfo> {
    const { signal } = options
    let failures = 0
    for (;;) {
      throwIfAborted(signal)
      const { res, challenge } = await ociRequest(this.#ctx, 'HEAD', this.#path, { 'accept-encoding': 'identity' }, signal)
      await res.body.dump()
      const s = res.statusCode
      const size = contentLength(res.headers)
      if (s >= 200 && s < 300 && size !== undefined) {
        const digest = header(res.headers, 'docker-content-digest')
        const info: OriginInfo = { size, acceptsRanges: /\bbytes\b/i.test(header(res.headers, 'accept-ranges') ?? 'bytes') }
        return digest === undefined ? info : { ...info, digest }
      }
      if (s === 401) throw authError(401, `${this.name}: unauthorized`, challenge)
      if (s === 403) throw authError(403, `${this.name}: access denied`)
      const err = statusError(this.name, s)
      if (!(err instanceof OriginError) || !err.retryable || ++failures >= 3) throw err
      await new Promise(resolve => setTimeout(resolve, 200 * failures))
    }
  }

  async * read (range: { start: number, end: number } | undefined, options: OriginReadOptions = {}): AsyncGenerator<Uint8Array> {
    const { signal } = options
    let auth = cachedAuthorization(this.#ctx)
    if (auth == null && this.#ctx.clientAuthorization == null) {
      // Learn the scheme (and get a token) with a HEAD before the byte stream starts.
      await this.stat({ signal }).catch(() => {})
      auth = cachedAuthorization(this.#ctx)
    }
    let moved = 0
    let authRetries = 0
    for (;;) {
      const http = createHttpOrigin({
        url: new URL(this.#path, this.#ctx.registry),
        headers: auth == null ? {} : { authorization: auth },
        rateLimiter: this.#init.rateLimiter,
        timeoutMs: this.#init.timeoutMs
      })
      const sub = range === undefined ? undefined : { start: range.start + moved, end: range.end }
      try {
        for await (const chunk of http.read(sub, options)) {
          moved += chunk.byteLength
          yield chunk
        }
        return
      } catch (err) {
        const status = (err as OriginError).status
        if (status !== 401 || authRetries++ >= 1 || this.#ctx.clientAuthorization != null) throw err
        // A whole-blob read cut by a 401 has no known end to resume to: retry only before bytes moved.
        if (range === undefined && moved > 0) throw err
        forgetAuthorization(this.#ctx)
        const { res, challenge } = await ociRequest(this.#ctx, 'HEAD', this.#path, {}, signal)
        await res.body.dump()
        if (res.statusCode === 401) throw authError(401, `${this.name}: unauthorized`, challenge)
        auth = cachedAuthorization(this.#ctx) ?? await authorize(this.#ctx, challenge, signal)
      }
    }
  }
}

/** Media types a mirror asks for when the client did not say (docker + OCI, manifests + indexes). */
export const MANIFEST_ACCEPT = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json'
].join(', ')

export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024

export interface ManifestRequest {
  registry: string | URL
  repository: string
  /** A tag or a digest. */
  reference: string
  method?: 'GET' | 'HEAD'
  /** Forwarded as-is (registries pick the manifest format from it). */
  accept?: string
  credentials?: RegistryCredentials
  clientAuthorization?: string
  tokenCache?: TokenCache
  signal?: AbortSignal
}

export interface ManifestResponse {
  status: number
  /** Docker-Content-Digest, Content-Type, Content-Length when the registry sent them. */
  digest?: string
  contentType?: string
  contentLength?: number
  /** The bytes (GET with status 200 only), at most MAX_MANIFEST_BYTES. */
  body?: Uint8Array
  /** The registry's WWW-Authenticate on a 401. */
  challenge?: string
  /** The registry's error body on a 4xx, to relay. */
  errorBody?: string
}

/** Fetches (or HEADs) a manifest by tag or digest. Manifests are small: the body is read into memory, capped. */
export async function fetchManifest (req: ManifestRequest): Promise<ManifestResponse> {
  const ctx: OciAuthContext = {
    registry: new URL(req.registry),
    repository: req.repository,
    credentials: req.credentials,
    clientAuthorization: req.clientAuthorization,
    tokenCache: req.tokenCache,
    dispatcher: ociDispatcher()
  }
  const method = req.method ?? 'GET'
  const { res, challenge } = await ociRequest(ctx, method, `/v2/${req.repository}/manifests/${req.reference}`, { accept: req.accept ?? MANIFEST_ACCEPT }, req.signal)
  const out: ManifestResponse = {
    status: res.statusCode,
    digest: header(res.headers, 'docker-content-digest'),
    contentType: header(res.headers, 'content-type'),
    contentLength: contentLength(res.headers)
  }
  if (challenge != null) out.challenge = challenge.raw
  if (method === 'HEAD' || res.statusCode >= 300) {
    if (method === 'GET' && res.statusCode >= 400 && res.statusCode < 500) {
      out.errorBody = (await readCapped(res.body, 64 * 1024)).toString('utf8')
    } else await res.body.dump()
    return out
  }
  if (out.contentLength !== undefined && out.contentLength > MAX_MANIFEST_BYTES) {
    res.body.destroy()
    throw new OriginError(`manifest ${req.repository}:${req.reference} is ${out.contentLength} bytes, over the ${MAX_MANIFEST_BYTES} cap`)
  }
  out.body = await readCapped(res.body, MAX_MANIFEST_BYTES)
  out.contentLength = out.body.byteLength
  return out
}

async function readCapped (body: AsyncIterable<Buffer> & { destroy: () => unknown }, cap: number): Promise<Buffer> {
  const chunks: Buffer[] = []
  let n = 0
  for await (const c of body) {
    n += c.byteLength
    if (n > cap) {
      body.destroy()
      throw new OriginError(`manifest body over the ${cap} byte cap`)
    }
    chunks.push(c)
  }
  return Buffer.concat(chunks)
}
