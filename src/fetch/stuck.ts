import { DigestMismatchError, NoSourceError } from '../errors.js'
import type { Attempts } from './attempts.js'
import type { Clock } from './clock.js'
import type { Discovery } from './discovery.js'
import type { Finisher } from './finish.js'
import type { OriginList } from './origins.js'
import type { PieceMapAuth } from './piece-map-check.js'
import type { Seek } from './seek.js'
import type { SwarmView } from './view.js'

/** What the stuck check reads of its download; it changes nothing. */
export interface StuckFacts {
  readonly digest: string
  readonly clock: Clock
  readonly startedAt: number
  readonly discoveryTimeoutMs: number
  /** Is the download in its fetching phase? */
  fetching: () => boolean
  readonly origins: Pick<OriginList, 'current' | 'failed'>
  readonly finisher: Pick<Finisher, 'stuck'>
  readonly mapAuth: Pick<PieceMapAuth, 'given' | 'map' | 'cid'>
  readonly attempts: Pick<Attempts, 'size'>
  readonly view: Pick<SwarmView, 'anyHolder' | 'metaInflight'>
  readonly discovery: Pick<Discovery, 'done'>
  readonly seek: Pick<Seek, 'noSource'>
}

/** The error to fail the download with when no source is left for a piece still needed; undefined while one may still come. */
export function stuckError (s: StuckFacts): Error | undefined {
  if (!s.fetching() || s.origins.current != null) return undefined
  if (s.finisher.stuck()) {
    return new DigestMismatchError(`${s.digest}: the blob failed its digest and no peer is left to fetch its suspect pieces from`)
  }
  // with a piece map's CID, peers are of no use until one gave the map
  if (s.mapAuth.given && s.mapAuth.map == null && s.clock.now() - s.startedAt >= s.discoveryTimeoutMs) {
    return new NoSourceError(`no peer gave the piece map ${s.mapAuth.cid?.toString() ?? ''} of ${s.digest} and no origin was given`)
  }
  if (s.attempts.size > 0 || s.view.anyHolder()) return undefined
  const now = s.clock.now()
  if (s.origins.failed == null && (!s.discovery.done || s.view.metaInflight > 0 || now - s.startedAt < s.discoveryTimeoutMs)) return undefined
  return s.origins.failed ?? s.seek.noSource(`no peer holds the missing pieces of ${s.digest} and no origin was given`)
}
