import { CID } from 'multiformats/cid'
import { equalBytes, pieceCount, pieceMapCid, type PieceMap } from '../content/index.js'
import { DigestMismatchError, InvalidRequestError } from '../errors.js'
import type { PieceLedger } from './pieces.js'
import type { PeerBook } from '../swarm/index.js'
import type { BlobMeta } from '../transfer/types.js'
import type { Logger } from '../types.js'

/** sha256 digests are 32 bytes; a piece map lists one per piece. */
const PIECE_DIGEST_BYTES = 32

/** What checking a piece map needs: the blob, and the peer book to strike a peer whose map is not the one asked for. */
export interface PieceMapCheckComponents {
  readonly digest: string
  readonly peerBook: Pick<PeerBook, 'strike'>
  readonly logger?: Logger
}

/** Parses a piece map's CID as a caller gives it (`starling get --piece-map`, `fetch(digest, { pieceMap })`). */
export function parsePieceMapCid (input: string): CID {
  try {
    return CID.parse(input.trim())
  } catch (err) {
    throw new InvalidRequestError(`not a piece map CID: ${input}`, { cause: err })
  }
}

/**
 * An authenticated piece map (docs/security.md, "Authenticated piece
 * maps"): the caller gave the CID of the blob's piece map; a peer's meta
 * answer that lists every piece digest is a piece map, and it is taken only
 * when its CID is that one. A peer whose full list hashes to another CID
 * lied about the blob (or holds another blob under its digest) and is
 * struck. Partial lists (a peer still fetching) prove nothing and are
 * ignored.
 */
export class PieceMapCheck {
  readonly #c: PieceMapCheckComponents
  readonly cid: CID
  /** The map, once a peer's answer matched the CID. */
  map?: PieceMap
  readonly #checked = new Set<string>()

  constructor (c: PieceMapCheckComponents, cid: CID) {
    this.#c = c
    this.cid = cid
  }

  /** A peer's meta answer: resolves with the map when this answer authenticated it. */
  async offer (peer: string, meta: BlobMeta): Promise<PieceMap | undefined> {
    if (meta.digest !== this.#c.digest) return undefined
    let n: number
    try { n = pieceCount(meta.size, meta.pieceSize) } catch { return undefined }
    const digests = meta.pieceDigests
    if (digests.length !== n || digests.some(d => d?.byteLength !== PIECE_DIGEST_BYTES)) return undefined
    // one check per peer and download: a liar's map costs one hash
    if (this.#checked.has(peer)) return undefined
    this.#checked.add(peer)
    const map: PieceMap = { digest: this.#c.digest, size: meta.size, pieceSize: meta.pieceSize, pieceDigests: digests as Uint8Array[] }
    // once the map is known, another peer's full list is compared with it (no hashing)
    const known = this.map
    const got = known != null && sameMap(known, map) ? this.cid.toString() : (await pieceMapCid(map)).toString()
    const want = this.cid.toString()
    if (got !== want) {
      this.#c.peerBook.strike(peer, `sent a piece map of ${this.#c.digest} whose CID ${got} is not ${want}`)
      this.#c.logger?.warn({ peer, digest: this.#c.digest, got, want }, 'piece map does not match its CID: peer struck')
      return undefined
    }
    if (this.map != null) return undefined
    this.map = map
    return map
  }
}

function sameMap (a: PieceMap, b: PieceMap): boolean {
  return a.size === b.size && a.pieceSize === b.pieceSize && a.pieceDigests.length === b.pieceDigests.length &&
    a.pieceDigests.every((d, i) => equalBytes(d, b.pieceDigests[i]))
}

/** What a download's piece-map authentication reads and tells: its ledger, its size, and its reactions. */
export interface PieceMapAuthComponents extends PieceMapCheckComponents {
  readonly pieces: Pick<PieceLedger, 'authenticate'>
  /** The blob's size and piece size (-1 while sizing). */
  size: () => number
  pieceSize: () => number
  settled: () => boolean
  /** Ask every known peer for its meta again (an answer may be the map). */
  reprobe: () => void
  fail: (err: Error) => void
  wake: () => void
}

/**
 * A download's side of authenticated piece maps: the CID a caller gave
 * (the first counts), the check of each meta answer, and the map's digests
 * handed to the ledger once one matched and the size is known.
 */
export class PieceMapAuth {
  readonly #c: PieceMapAuthComponents
  #check?: PieceMapCheck

  constructor (c: PieceMapAuthComponents) {
    this.#c = c
  }

  /** A CID was given: only trusted digests count from now on. */
  get given (): boolean { return this.#check != null }
  get map (): PieceMap | undefined { return this.#check?.map }
  get cid (): CID | undefined { return this.#check?.cid }

  add (cid: string): void {
    const parsed = parsePieceMapCid(cid)
    if (this.#check != null || this.#c.settled()) return
    this.#check = new PieceMapCheck(this.#c, parsed)
    this.#c.reprobe()
    this.#c.wake()
  }

  answered (peer: string, meta: BlobMeta): void {
    void this.#check?.offer(peer, meta).then(map => { if (map != null) this.apply() }, () => {})
  }

  /** The map matched its CID: its digests are trusted (before the size is known, sizing takes the size from it). */
  apply (): void {
    const map = this.map
    const c = this.#c
    if (map == null || c.settled() || c.size() < 0) return
    if (map.size !== c.size() || map.pieceSize !== c.pieceSize()) {
      c.fail(new DigestMismatchError(`${c.digest}: size ${c.size()} differs from the authenticated piece map's ${map.size}`))
      return
    }
    c.pieces.authenticate(map.pieceDigests)
    c.wake()
  }
}
