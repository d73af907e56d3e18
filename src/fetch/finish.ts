import type { PeerBook } from '../swarm/index.js'
import type { BlobStore } from '../store/types.js'
import type { Logger } from '../types.js'
import type { FetchPaths, Suspect } from './fetch-paths.js'
import type { PieceLedger } from './pieces.js'

/** What the whole-blob check needs: the store that assembles the blob, and the peer book for blame. */
export interface FinishComponents {
  readonly digest: string
  readonly store: Pick<BlobStore, 'complete' | 'open'>
  readonly peerBook: Pick<PeerBook, 'strike'>
  readonly signal: AbortSignal
  readonly logger?: Logger
}

/**
 * Every piece is held: the store hashes the assembled blob. Resolves with
 * undefined when it matched, with the `DigestMismatchError` when it did not
 * (the caller resolves the mismatch); any other error is thrown.
 */
export async function checkWhole (c: FinishComponents): Promise<Error | undefined> {
  try {
    await c.store.complete(c.digest, { signal: c.signal })
    return undefined
  } catch (err) {
    if ((err as Error)?.name !== 'DigestMismatchError') throw err
    return err as Error
  }
}

/**
 * A mismatch with no way to tell which provisional piece is wrong: the
 * voucher is struck only when one peer vouched for every provisional piece
 * (then it is the liar); nobody else is.
 */
export function blameSoleVoucher (c: FinishComponents, suspects: ReadonlyMap<number, Suspect>): void {
  const vouchers = new Set([...suspects.values()].map(s => s.voucher))
  const [only] = vouchers
  if (vouchers.size === 1 && only != null) c.peerBook.strike(only, `vouched for pieces of ${c.digest}, whose sha256 did not match`)
}

/** The download's state a mismatch changes: its pieces, and the suspects its fetch paths compare with origin bytes. */
export interface MismatchState {
  pieces: PieceLedger
  paths: Pick<FetchPaths, 'suspects'>
  size: number
  pieceSize: number
  /** An origin is usable and the blob was not already being fetched from it alone. */
  originUsable: boolean
}

/**
 * The assembled blob failed its sha256. Only provisional pieces can be
 * wrong (trusted ones matched origin bytes): with an origin, the caller
 * fetches again from it alone, and the fetch paths strike the voucher of
 * each provisional piece whose digest the origin's bytes contradict; honest
 * peers are not struck. With no origin, `err` is thrown and the voucher is
 * struck only when one peer vouched for every provisional piece.
 */
export async function quarantine (c: FinishComponents, s: MismatchState, err: Error): Promise<void> {
  const suspects = new Map(s.pieces.provisional)
  s.pieces.provisional.clear()
  c.logger?.warn({ digest: c.digest, provisional: suspects.size }, 'blob failed its digest: retrying from the origin only')
  if (!s.originUsable) {
    blameSoleVoucher(c, suspects)
    throw err
  }
  s.paths.suspects = suspects
  s.pieces.have = await c.store.open(c.digest, s.size, s.pieceSize, { signal: c.signal })
  s.pieces.digests = new Array(s.pieces.n).fill(undefined)
}
