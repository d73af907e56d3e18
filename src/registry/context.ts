import type { StarlingNode } from '../api.js'
import type { Logger } from '../types.js'
import { createOciOrigin, TokenCache, type RegistryCredentials } from '../origin/oci.js'
import type { Origin } from '../origin/types.js'
import { PieceMapHints } from './piece-maps.js'

export interface RegistryMirrorInit {
  /** `host:port` to listen on (port 0 picks one); a bare `:port` binds loopback, 127.0.0.1 (DEFAULT_REGISTRY_HOST). */
  listen: string
  /** Registry name (as containerd sends it in `?ns=`) → upstream base URL. Only these are mirrored. */
  upstreams: Record<string, string>
  credentials?: Record<string, RegistryCredentials>
  /**
   * Confirm with the upstream (HEAD with the caller's credentials) before
   * serving content from the swarm. Default: on for registries with
   * configured credentials, for callers that send Authorization, and for
   * registries that have ever answered 401 or not yet been seen to be open.
   */
  accessCheck?: boolean
  /** The registry for requests without `?ns=` (docker's registry-mirrors, skopeo). Default `docker.io`. */
  defaultRegistry?: string
}

export interface Upstream {
  /** Registry name, e.g. `docker.io`. */
  name: string
  url: URL
  credentials?: RegistryCredentials
}

export const DOCKER_HUB = 'https://registry-1.docker.io'

export class MirrorContext {
  readonly node: StarlingNode
  readonly log: Logger
  readonly tokenCache = new TokenCache()
  /** Piece-map CIDs named by the manifests served (piece-maps.ts). */
  readonly pieceMaps = new PieceMapHints()
  readonly #upstreams = new Map<string, Upstream>()
  readonly #accessCheck?: boolean
  readonly #default: string
  /** Registries seen answering an anonymous request with no challenge at all. */
  readonly #open = new Set<string>()

  constructor (node: StarlingNode, log: Logger, init: RegistryMirrorInit) {
    this.node = node
    this.log = log
    this.#accessCheck = init.accessCheck
    this.#default = init.defaultRegistry ?? 'docker.io'
    const map: Record<string, string> = { 'docker.io': DOCKER_HUB, ...init.upstreams }
    for (const [name, base] of Object.entries(map)) {
      const url = new URL(base)
      this.#upstreams.set(name, { name, url, credentials: init.credentials?.[name] })
    }
  }

  /** The upstream for `?ns=` (or the default); undefined when that registry is not mirrored. */
  upstream (ns: string | null): Upstream | undefined {
    return this.#upstreams.get(ns ?? this.#default)
  }

  needsAccessCheck (up: Upstream, clientAuthorization: string | undefined): boolean {
    if (this.#accessCheck === false) return false
    if (this.#accessCheck === true) return true
    return up.credentials != null || clientAuthorization != null ||
      this.tokenCache.isGuarded(up.url.origin) || !this.#open.has(up.url.origin)
  }

  markOpen (up: Upstream): void {
    if (!this.tokenCache.isGuarded(up.url.origin)) this.#open.add(up.url.origin)
  }

  /** The origin the swarm fetches from: the client's token if any, else ours. */
  origin (up: Upstream, repository: string, digest: string, clientAuthorization: string | undefined): Origin {
    return createOciOrigin({
      registry: up.url,
      repository,
      digest,
      credentials: clientAuthorization == null ? up.credentials : undefined,
      clientAuthorization,
      tokenCache: this.tokenCache
    })
  }

  /** The origin that answers "may this caller read it?": the caller's credentials only, never ours. */
  checker (up: Upstream, repository: string, digest: string, clientAuthorization: string | undefined): Origin {
    return createOciOrigin({ registry: up.url, repository, digest, clientAuthorization, tokenCache: this.tokenCache })
  }
}
