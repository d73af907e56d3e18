import type { Bitfield } from '../content/index.js'
import { choosePieceSize } from '../content/index.js'
import { DigestMismatchError } from '../errors.js'
import type { Origin } from '../origin/types.js'
import type { BlobStore } from '../store/types.js'
import type { Logger } from '../types.js'
import type { Clock } from './clock.js'
import type { SizeOffer } from './view.js'

/** What the sizing phase needs from its download: the origins, what peers offered, and the store. */
export interface SizingComponents {
  readonly digest: string
  readonly store: BlobStore
  readonly clock: Clock
  readonly logger?: Logger
  readonly signal: AbortSignal
  readonly startedAt: number
  readonly discoveryTimeoutMs: number
  /** The origin in use now, if one is usable. */
  origin: () => Origin | undefined
  /** Why the last origin failed for good, if it did. */
  originFailed: () => Error | undefined
  /** An origin's stat failed for good: count it and move to the next origin. */
  originError: (err: Error) => void
  /** The first size a peer offered. */
  sizeOffer: () => SizeOffer | undefined
  /** Waits for the swarm's answers (seek.ts), and makes the error that says what was tried. */
  seek: { waitForSize(deadline: number): Promise<void>, noSource(what: string): Error }
}

/** The blob's size and piece size, and where they came from. */
export interface Sizing {
  size: number
  pieceSize: number
  /** Known only from an origin's stat. */
  acceptsRanges?: boolean
  /** The size came from a peer's offer, not from an origin. */
  fromPeer: boolean
}

/** The blob's size from the origin when one answers, else from the first peer offer within the discovery time. */
export async function determineSize (c: SizingComponents): Promise<Sizing> {
  for (;;) {
    for (let origin = c.origin(); origin != null; origin = c.origin()) {
      try {
        const t0 = c.clock.now()
        const st = await origin.stat({ signal: c.signal })
        c.logger?.debug({ digest: c.digest, origin: origin.name, ms: c.clock.now() - t0, afterMs: c.clock.now() - c.startedAt }, 'download: origin stat')
        return { size: st.size, pieceSize: choosePieceSize(st.size), acceptsRanges: st.acceptsRanges, fromPeer: false }
      } catch (err) {
        if (c.signal.aborted) throw err
        c.originError(err as Error)
      }
    }
    // No usable origin: only peers can tell us the size.
    await c.seek.waitForSize(c.startedAt + c.discoveryTimeoutMs)
    // an origin given meanwhile: ask it
    if (c.origin() != null) continue
    const offer = c.sizeOffer()
    if (offer == null || offer.pieceSize !== choosePieceSize(offer.size)) {
      throw c.originFailed() ?? c.seek.noSource(`no peer holds ${c.digest} and no origin was given`)
    }
    return { size: offer.size, pieceSize: offer.pieceSize, fromPeer: true }
  }
}

/**
 * The size a download starts from: a partial record's when no origin is
 * usable, else determineSize's (a partial record's size may have come from
 * a peer: with an origin, the origin's size wins).
 */
export async function startingSize (c: SizingComponents, held: { size: number, pieceSize: number } | undefined): Promise<Sizing> {
  return held != null && c.origin() == null
    ? { size: held.size, pieceSize: held.pieceSize, fromPeer: false }
    : await determineSize(c)
}

/** The blob's record in the store, opened for a size: the pieces held, their trusted digests, and those held untrusted. */
export interface OpenedRecord {
  have: Bitfield
  digests: Array<Uint8Array | undefined>
  /** Held pieces with no trusted digest (taken on a peer's word by an earlier download in this process). */
  untrusted: number[]
}

/** Opens (or creates) the record for this size; a partial record of another size, recorded on a peer's word, is dropped first when an origin gave the size. */
export async function openRecord (c: Pick<SizingComponents, 'digest' | 'store' | 'signal' | 'logger'>, s: Sizing, n: number): Promise<OpenedRecord> {
  const held = await c.store.stat(c.digest, { signal: c.signal })
  if (held != null && !held.complete && (held.size !== s.size || held.pieceSize !== s.pieceSize) && !s.fromPeer) {
    // A record sized by a peer that the origin contradicts: drop it and start over.
    c.logger?.warn({ digest: c.digest, recorded: held.size, origin: s.size }, 'partial record has a wrong size: dropped')
    await c.store.delete(c.digest)
  }
  const have = await c.store.open(c.digest, s.size, s.pieceSize, { signal: c.signal })
  const known = await c.store.pieceDigests(c.digest, { signal: c.signal })
  const untrusted: number[] = []
  for (const i of have.indexes()) if (known?.[i] == null) untrusted.push(i)
  return { have, digests: Array.from({ length: n }, (_, i) => known?.[i]), untrusted }
}

/** A size taken from a peer meets an origin: the error to fail with when the origin says otherwise (the peer lied). */
export async function checkPeerSize (c: Pick<SizingComponents, 'digest' | 'signal' | 'logger'>, origin: Origin, size: number): Promise<Error | undefined> {
  try {
    const st = await origin.stat({ signal: c.signal })
    if (st.size === size) return undefined
    c.logger?.warn({ digest: c.digest, offered: size, origin: st.size }, 'a peer offered a wrong size: failing the download')
    return new DigestMismatchError(`${c.digest}: a peer offered size ${size}, the origin says ${st.size}; record dropped, fetch again`)
  } catch {
    // an origin that cannot answer proves nothing
    return undefined
  }
}
