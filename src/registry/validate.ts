/**
 * Input checks of the distribution spec, done before anything else touches
 * the request: a name or digest that fails here never reaches the store or
 * the upstream.
 */

// Path components `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*` joined by `/` (distribution spec).
const COMPONENT = '[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*'
const NAME_RE = new RegExp(`^${COMPONENT}(?:/${COMPONENT})*$`)
const TAG_RE = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/
// Any algorithm the spec allows in shape; only sha256 is served.
const ANY_DIGEST_RE = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/
const SHA256_RE = /^sha256:[a-f0-9]{64}$/

export const MAX_NAME_LENGTH = 255

export function isValidName (name: string): boolean {
  return name.length <= MAX_NAME_LENGTH && NAME_RE.test(name)
}

export function isValidTag (tag: string): boolean { return TAG_RE.test(tag) }

export type DigestCheck = 'ok' | 'invalid' | 'unsupported'

export function checkDigest (digest: string): DigestCheck {
  if (SHA256_RE.test(digest)) return 'ok'
  if (ANY_DIGEST_RE.test(digest) && !digest.startsWith('sha256:')) return 'unsupported'
  return 'invalid'
}

export interface RegistryRoute {
  kind: 'manifests' | 'blobs'
  /** Raw repository name (validated separately). */
  name: string
  reference: string
}

/** Splits `/v2/<name>/(manifests|blobs)/<reference>`; undefined for any other path. */
export function parseRoute (pathname: string): RegistryRoute | undefined {
  const m = /^\/v2\/(.+)\/(manifests|blobs)\/([^/]+)$/.exec(pathname)
  if (m == null) return undefined
  return { name: m[1], kind: m[2] as RegistryRoute['kind'], reference: m[3] }
}
