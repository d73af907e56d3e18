import { fileURLToPath } from 'node:url'
import { InvalidRequestError } from '../errors.js'
import { createFileOrigin } from './file.js'
import { createHttpOrigin, type HttpOriginInit } from './http.js'
import type { Origin } from './types.js'

export { createHttpOrigin, redactUrl, MAX_REDIRECTS, type HttpOriginInit } from './http.js'
export { createFileOrigin } from './file.js'
export type { Origin, OriginInfo, OriginReadOptions } from './types.js'

/** Picks the origin for a URL by its scheme: http(s) or file. */
export function originFromUrl (url: string | URL, init: Omit<HttpOriginInit, 'url'> = {}): Origin {
  let u: URL
  try {
    u = new URL(url)
  } catch (err) {
    throw new InvalidRequestError(`not a URL: ${String(url)}`, { cause: err })
  }
  switch (u.protocol) {
    case 'http:':
    case 'https:':
      return createHttpOrigin({ ...init, url: u })
    case 'file:':
      return createFileOrigin(fileURLToPath(u))
    default:
      throw new InvalidRequestError(`unsupported origin scheme ${u.protocol} (use http, https or file)`)
  }
}
export { createOciOrigin, fetchManifest, TokenCache, type OciOriginInit } from './oci.js'
