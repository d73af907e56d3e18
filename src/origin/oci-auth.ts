/**
 * Authorization against an OCI registry: anonymous, basic, and the
 * `WWW-Authenticate: Bearer realm,service,scope` token flow (Docker token
 * spec), with tokens cached per (registry, scope, identity) until they expire.
 * A client's own `Authorization` (relayed by the mirror) is used as-is: it is
 * the client's token, and we never swap it for ours.
 */
import { createHash } from 'node:crypto'
import { Agent, interceptors, request, type Dispatcher } from 'undici'
import { OriginError } from '../errors.js'

export interface RegistryCredentials {
  username: string
  password: string
  /**
   * Hosts besides the registry's own that may receive these credentials as
   * its token server (`WWW-Authenticate: Bearer realm=...`), over HTTPS only.
   * Docker Hub's `auth.docker.io` is built in (KNOWN_TOKEN_HOSTS).
   */
  tokenHosts?: string[]
}

/** Token servers on another host that well-known registries send their clients to. */
export const KNOWN_TOKEN_HOSTS: Readonly<Record<string, readonly string[]>> = {
  'registry-1.docker.io': ['auth.docker.io']
}

/**
 * May the token server at `realm` receive the credentials meant for
 * `registry`? The realm is whatever the registry (or anything between us and
 * it) wrote in its challenge, so credentials go only to the registry's own
 * host, and to hosts named for it (configured, or KNOWN_TOKEN_HOSTS) over
 * HTTPS. Never over plain HTTP to another host, and never down from an HTTPS
 * registry to a plain-HTTP realm, even on the same host. Ports do not matter:
 * token servers often listen beside the registry on the same machine.
 */
export function mayReceiveCredentials (registry: URL, realm: URL, tokenHosts: readonly string[] = []): boolean {
  if (realm.protocol !== 'https:' && realm.protocol !== 'http:') return false
  if (realm.protocol === 'http:' && registry.protocol === 'https:') return false
  if (realm.hostname === registry.hostname) return true
  if (realm.protocol !== 'https:') return false
  const named = [...tokenHosts, ...(KNOWN_TOKEN_HOSTS[registry.hostname] ?? [])]
  return named.some(h => h.toLowerCase() === realm.hostname)
}

/** The realm of a bearer challenge as a URL we may ask at all (http or https), else an OriginError. */
function realmUrl (realm: string): URL {
  let url: URL
  try {
    url = new URL(realm)
  } catch {
    throw new OriginError(`token realm ${JSON.stringify(realm.slice(0, 200))} is not a URL`, { status: 401, retryable: false })
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new OriginError(`token realm scheme ${url.protocol} is not http(s)`, { status: 401, retryable: false })
  }
  return url
}

export interface Challenge {
  scheme: 'bearer' | 'basic' | string
  params: Record<string, string>
  /** The header as the registry sent it, to relay to clients. */
  raw: string
}

/** Real challenges are a few hundred bytes; a longer one is not parsed at all. */
export const MAX_CHALLENGE_LENGTH = 8192

/** Parses `Bearer realm="...",service="...",scope="..."` (first challenge only). */
export function parseChallenge (value: string | undefined): Challenge | undefined {
  if (value == null || value.trim() === '' || value.length > MAX_CHALLENGE_LENGTH) return undefined
  const m = /^\s*([A-Za-z]+)\s*(.*)$/.exec(value)
  if (m == null) return undefined
  const params: Record<string, string> = {}
  // A name starts only where a run of name characters starts: retried from
  // inside a run, a long one cost quadratic time (16 KiB of letters: 2 s, found by test/fuzz).
  const re = /(?<![A-Za-z_])([A-Za-z_]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))/g
  for (let p = re.exec(m[2]); p != null; p = re.exec(m[2])) {
    params[p[1].toLowerCase()] = (p[2] ?? p[3]).replace(/\\(.)/g, '$1')
  }
  return { scheme: m[1].toLowerCase(), params, raw: value }
}

interface CachedToken { header: string, expiresAt: number }

/**
 * Token cache shared by every origin of one mirror. Keyed by registry, scope
 * and the identity that asked (so one user's token never serves another),
 * plus the registry's last challenge so later requests skip the 401 round trip.
 */
export class TokenCache {
  readonly #tokens = new Map<string, CachedToken>()
  readonly #challenges = new Map<string, Challenge>()
  /** Registries that have answered 401 at least once: they guard their content. */
  readonly #guarded = new Set<string>()

  get (key: string): string | undefined {
    const t = this.#tokens.get(key)
    if (t == null) return undefined
    if (t.expiresAt <= Date.now()) { this.#tokens.delete(key); return undefined }
    return t.header
  }

  set (key: string, header: string, ttlMs: number): void {
    if (this.#tokens.size > 10_000) this.#tokens.clear() // bound memory; tokens are cheap to fetch again
    this.#tokens.set(key, { header, expiresAt: Date.now() + ttlMs })
  }

  delete (key: string): void { this.#tokens.delete(key) }
  challenge (registry: string): Challenge | undefined { return this.#challenges.get(registry) }
  setChallenge (registry: string, c: Challenge): void {
    this.#challenges.set(registry, c)
    this.#guarded.add(registry)
  }

  isGuarded (registry: string): boolean { return this.#guarded.has(registry) }
}

export const defaultTokenCache = new TokenCache()

export interface OciAuthContext {
  /** Base URL of the registry, e.g. `https://registry-1.docker.io`. */
  registry: URL
  repository: string
  credentials?: RegistryCredentials
  clientAuthorization?: string
  tokenCache?: TokenCache
  dispatcher?: Dispatcher
  timeoutMs?: number
}

let shared: Dispatcher | undefined
export function ociDispatcher (): Dispatcher {
  // undici's redirect interceptor drops Authorization when a redirect leaves the origin (blob storage).
  // It also drops Cookie and Proxy-Authorization, and does so on every hop that changes origin (scheme, host or port);
  // test/origin/oci-credentials.test.ts holds it to that.
  shared ??= new Agent({ connectTimeout: 10_000 }).compose(interceptors.redirect({ maxRedirections: 5 }))
  return shared
}

function basic (c: RegistryCredentials): string {
  return `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`
}

function identity (ctx: OciAuthContext): string {
  if (ctx.credentials == null) return 'anonymous'
  return createHash('sha256').update(`${ctx.credentials.username}\0${ctx.credentials.password}`).digest('hex').slice(0, 16)
}

function tokenKey (ctx: OciAuthContext, scope: string): string {
  return `${ctx.registry.origin}\0${scope}\0${identity(ctx)}`
}

export function pullScope (repository: string): string { return `repository:${repository}:pull` }

/** An OriginError that carries the registry's challenge, so the mirror can relay it. */
export function authError (status: number, message: string, challenge?: Challenge): OriginError {
  const err = new OriginError(message, { status, retryable: false })
  if (challenge != null) Object.assign(err, { challenge: challenge.raw })
  return err
}

/** The Authorization header we would send now, without asking anyone (undefined = anonymous). */
export function cachedAuthorization (ctx: OciAuthContext): string | undefined {
  if (ctx.clientAuthorization != null) return ctx.clientAuthorization
  const cache = ctx.tokenCache ?? defaultTokenCache
  const c = cache.challenge(ctx.registry.origin)
  if (c?.scheme === 'bearer') return cache.get(tokenKey(ctx, pullScope(ctx.repository)))
  if (c?.scheme === 'basic' && ctx.credentials != null) return basic(ctx.credentials)
  return undefined
}

/**
 * After a 401: the header to try next, or undefined when there is nothing
 * better to try (the caller then gives up with the challenge).
 */
export async function authorize (ctx: OciAuthContext, challenge: Challenge | undefined, signal?: AbortSignal): Promise<string | undefined> {
  const cache = ctx.tokenCache ?? defaultTokenCache
  if (challenge != null) cache.setChallenge(ctx.registry.origin, challenge)
  // The client's own token was refused: theirs to fix, not ours.
  if (ctx.clientAuthorization != null || challenge == null) return undefined
  if (challenge.scheme === 'basic') return ctx.credentials != null ? basic(ctx.credentials) : undefined
  if (challenge.scheme !== 'bearer' || challenge.params.realm == null) return undefined
  const scope = pullScope(ctx.repository)
  const key = tokenKey(ctx, scope)
  cache.delete(key)
  const url = realmUrl(challenge.params.realm)
  if (challenge.params.service != null) url.searchParams.set('service', challenge.params.service)
  url.searchParams.set('scope', scope)
  const headers: Record<string, string> = {}
  // A realm that may not have our credentials is still asked, anonymously: public content needs no more.
  if (ctx.credentials != null && mayReceiveCredentials(ctx.registry, url, ctx.credentials.tokenHosts)) {
    headers.authorization = basic(ctx.credentials)
  }
  let res: Dispatcher.ResponseData
  try {
    res = await request(url, { method: 'GET', headers, signal: signal ?? AbortSignal.timeout(ctx.timeoutMs ?? 30_000), dispatcher: ctx.dispatcher ?? ociDispatcher() })
  } catch (err) {
    throw new OriginError(`token server ${url.origin}: ${(err as Error).message}`, { cause: err, retryable: true })
  }
  if (res.statusCode !== 200) {
    await res.body.dump()
    // The token server refused these credentials (or anonymous): the caller has no access.
    throw authError(res.statusCode === 403 ? 403 : 401, `token server ${url.origin}: HTTP ${res.statusCode}`, challenge)
  }
  const body = await res.body.json() as { token?: string, access_token?: string, expires_in?: number }
  const token = body.token ?? body.access_token
  if (typeof token !== 'string' || token === '') throw new OriginError(`token server ${url.origin}: no token in the answer`)
  // The spec's default lifetime is 60 s; keep a margin so a token never expires in flight.
  const ttl = Math.max(1, (typeof body.expires_in === 'number' ? body.expires_in : 60) - 10) * 1000
  const header = `Bearer ${token}`
  cache.set(key, header, ttl)
  return header
}

/** Forgets a token the registry no longer accepts. */
export function forgetAuthorization (ctx: OciAuthContext): void {
  (ctx.tokenCache ?? defaultTokenCache).delete(tokenKey(ctx, pullScope(ctx.repository)))
}

/**
 * One request to the registry with the auth dance: send with what we have;
 * on 401 get something better once and send again. Returns the final
 * response (the caller reads or dumps its body) and the challenge of the
 * last 401, if any.
 */
export async function ociRequest (
  ctx: OciAuthContext,
  method: 'GET' | 'HEAD',
  path: string,
  headers: Record<string, string>,
  signal?: AbortSignal
): Promise<{ res: Dispatcher.ResponseData, challenge?: Challenge }> {
  const url = new URL(path, ctx.registry)
  let auth = cachedAuthorization(ctx)
  for (let tries = 0; ; tries++) {
    const h: Record<string, string> = { ...headers }
    if (auth != null) h.authorization = auth
    let res: Dispatcher.ResponseData
    try {
      res = await request(url, { method, headers: h, signal: signal ?? AbortSignal.timeout(ctx.timeoutMs ?? 30_000), dispatcher: ctx.dispatcher ?? ociDispatcher() })
    } catch (err) {
      throw new OriginError(`${url.origin}${url.pathname}: ${(err as Error).message}`, { cause: err, retryable: true })
    }
    if (res.statusCode !== 401) return { res }
    const challenge = parseChallenge(firstHeader(res.headers['www-authenticate']))
    if (tries >= 1) return { res, challenge }
    const next = await authorize(ctx, challenge, signal)
    if (next == null) return { res, challenge }
    await res.body.dump()
    auth = next
  }
}

export function firstHeader (v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v
}
