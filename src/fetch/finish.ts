import { equalBytes } from '../content/index.js'
import type { PeerBook } from '../swarm/index.js'
import type { BlobStore } from '../store/types.js'
import type { Logger } from '../types.js'
import { MAX_MISMATCH_ROUNDS } from './constants.js'
import type { FetchPaths, Suspect } from './fetch-paths.js'
import type { PieceLedger } from './pieces.js'
import type { RemotePeer } from './types.js'

/** What the whole-blob check needs: the store that assembles the blob, and the peer book for blame. */
export interface FinishComponents {
  readonly digest: string
  readonly store: Pick<BlobStore, 'complete'>
  readonly peerBook: Pick<PeerBook, 'strike' | 'isBanned'>
  readonly signal: AbortSignal
  readonly logger?: Logger
}

/**
 * Every piece is held: the store hashes the assembled blob. Resolves with
 * undefined when it matched, with the `DigestMismatchError` when it did not
 * (the store then dropped the provisional pieces and kept the trusted
 * ones); any other error is thrown.
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

/**
 * The blob matched its sha256, so every piece digest is proven: a peer
 * vouching for another digest of any piece is a liar, banned whatever
 * number of pieces it managed to send (strikes count per piece) — and
 * also when none of its pieces was used (its lie would cost the next
 * node that trusts it; under load the honest peers can win every race).
 */
export function banContradicted (digest: string, peers: Iterable<RemotePeer>, proven: (i: number) => Uint8Array | undefined, peerBook: Pick<PeerBook, 'ban'>): void {
  for (const p of peers) {
    for (const [i, d] of p.claimed) {
      const t = proven(i)
      if (t != null && !equalBytes(t, d)) { peerBook.ban(p.key, `vouched for a wrong digest of piece ${i} of ${digest}, which matched its sha256 without it`); break }
    }
  }
}

/** A voucher under test: its pieces are fetched again from peers that claim other digests. */
export interface Refuted {
  voucher: string
  /** Piece → the digest the voucher claimed for it. */
  digests: Map<number, Uint8Array>
}

/**
 * While voucher `r` is under test, who piece i is checked against: a peer
 * other than `r.voucher` (preferring `first`) that vouches for piece i —
 * with another digest than the refuted one when it is one of r's pieces.
 * The refuted voucher vouches for nothing during its test, or a piece it
 * sent for another index could spoil the round.
 */
export function dissenter (peers: Iterable<RemotePeer>, isBanned: (key: string) => boolean, r: Refuted, i: number, first?: RemotePeer): { key: string, digest: Uint8Array } | undefined {
  const refuted = r.digests.get(i)
  const dissents = (p: RemotePeer): Uint8Array | undefined => {
    const d = p.claimed.get(i)
    return d != null && p.key !== r.voucher && (refuted == null || !equalBytes(d, refuted)) && !isBanned(p.key) ? d : undefined
  }
  const own = first == null ? undefined : dissents(first)
  if (first != null && own != null) return { key: first.key, digest: own }
  for (const p of peers) {
    const d = dissents(p)
    if (d != null) return { key: p.key, digest: d }
  }
  return undefined
}

/** What to do after a whole-blob mismatch. */
export type Resolution =
  | { type: 'origin', suspects: Map<number, Suspect> }
  | { type: 'peers', refuted: Refuted }
  | { type: 'fail', suspects: Map<number, Suspect> }

/**
 * Finding which provisional pieces made the blob fail its sha256, so that
 * only the peers that vouched for wrong pieces are struck and the blob
 * still finishes (docs/security.md, "Mismatch").
 *
 * With an origin, the provisional pieces are fetched from it alone and each
 * is compared with the digest its voucher claimed (fetch-paths.ts strikes
 * the voucher of every piece the origin contradicts). With no origin, one
 * voucher at a time is refuted — the one that vouched for most pieces
 * first: its pieces are fetched from peers claiming other digests, the
 * others as before. When the blob then matches, the refuted voucher lied
 * about each piece whose digest changed, and is struck once per piece;
 * when it does not, the next voucher is tried, up to MAX_MISMATCH_ROUNDS.
 * A voucher is tried only when every one of its pieces has a dissenter.
 */
export class MismatchResolver {
  readonly #tried = new Set<string>()
  #rounds = 0
  #first?: Map<number, Suspect>
  /** The voucher under test in a peer round. */
  refuted?: Refuted

  /** `suspects`: the provisional pieces the store just dropped, with their vouchers. */
  next (suspects: Map<number, Suspect>, originUsable: boolean, peers: () => Iterable<RemotePeer>, isBanned: (key: string) => boolean): Resolution {
    this.#first ??= suspects
    this.refuted = undefined
    if (originUsable) return { type: 'origin', suspects }
    if (++this.#rounds > MAX_MISMATCH_ROUNDS) return { type: 'fail', suspects: this.#first }
    const byVoucher = new Map<string, Map<number, Uint8Array>>()
    for (const [i, s] of suspects) {
      if (s.voucher == null || s.digest.byteLength === 0 || this.#tried.has(s.voucher)) continue
      let m = byVoucher.get(s.voucher)
      if (m == null) byVoucher.set(s.voucher, m = new Map())
      m.set(i, s.digest)
    }
    const order = [...byVoucher].sort((a, b) => b[1].size - a[1].size)
    for (const [voucher, digests] of order) {
      const r = { voucher, digests }
      if ([...digests.keys()].some(i => dissenter(peers(), isBanned, r, i) == null)) continue
      this.#tried.add(voucher)
      this.refuted = r
      return { type: 'peers', refuted: r }
    }
    return { type: 'fail', suspects: this.#first }
  }

  /**
   * The blob matched after a peer round: the refuted voucher lied about
   * every piece whose digest is now another; each is struck once.
   */
  blame (c: FinishComponents, final: (i: number) => Uint8Array | undefined): void {
    const r = this.refuted
    this.refuted = undefined
    if (r == null) return
    for (const [i, d] of r.digests) {
      const now = final(i)
      if (now == null || equalBytes(now, d)) continue
      c.peerBook.strike(r.voucher, `vouched for a wrong digest of piece ${i} of ${c.digest}`)
      c.logger?.warn({ peer: r.voucher, piece: i, digest: c.digest }, 'the blob matched without its piece: voucher struck')
    }
  }

  /** During a peer round: a piece not held that no peer can be checked against any more (the round cannot finish). */
  stuck (n: number, has: (i: number) => boolean, peers: () => Iterable<RemotePeer>, isBanned: (key: string) => boolean): boolean {
    const r = this.refuted
    if (r == null) return false
    for (let i = 0; i < n; i++) if (!has(i) && dissenter(peers(), isBanned, r, i) == null) return true
    return false
  }
}

/** What the finishing phase reads and changes: the ledger the store's drop is mirrored in, and what the fetch paths check against. */
export interface FinisherComponents extends FinishComponents {
  readonly store: Pick<BlobStore, 'complete' | 'open'>
  readonly pieces: PieceLedger
  readonly paths: Pick<FetchPaths, 'suspects' | 'refuted'>
  /** The peers of this download's view. */
  peers: () => Iterable<RemotePeer>
}

/** The finishing phase: the whole-blob check, then blame, or the dropped pieces to fetch again. */
export class Finisher {
  readonly #c: FinisherComponents
  readonly #resolver = new MismatchResolver()

  constructor (c: FinisherComponents) {
    this.#c = c
  }

  /** The voucher under test, during a peer round. */
  get refuted (): Refuted | undefined { return this.#resolver.refuted }

  /**
   * Every piece is held. Resolves with undefined when the blob matched;
   * else with where the dropped provisional pieces come from now (the
   * fetch paths are set for it); throws the mismatch when it cannot be
   * resolved.
   */
  async run (size: number, pieceSize: number, originUsable: boolean): Promise<'origin' | 'peers' | undefined> {
    const c = this.#c
    const err = await checkWhole(c)
    if (err == null) {
      this.#resolver.blame(c, i => c.pieces.provisional.get(i)?.digest ?? c.pieces.digests[i])
      return undefined
    }
    const suspects = new Map(c.pieces.provisional)
    const isBanned = (k: string): boolean => c.peerBook.isBanned(k)
    const next = this.#resolver.next(suspects, originUsable, c.peers, isBanned)
    c.logger?.warn({ digest: c.digest, provisional: suspects.size, next: next.type, refuted: this.refuted?.voucher }, 'blob failed its digest')
    if (next.type === 'fail') {
      blameSoleVoucher(c, next.suspects)
      throw err
    }
    c.paths.suspects = next.type === 'origin' ? suspects : new Map()
    c.paths.refuted = this.refuted
    c.pieces.reopened(await c.store.open(c.digest, size, pieceSize, { signal: c.signal }))
    return next.type
  }

  /** During a peer round: a piece no peer can be checked against any more. */
  stuck (): boolean {
    const { pieces: p, peers, peerBook } = this.#c
    return this.#resolver.stuck(p.n, i => p.have.get(i), peers, k => peerBook.isBanned(k))
  }
}
