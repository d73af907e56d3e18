import { Bitfield, equalBytes } from '../content/index.js'
import { StoreFullError } from '../errors.js'
import type { BlobStore } from '../store/types.js'
import type { ByteSource, BytesBySource, Logger } from '../types.js'
import type { Suspect } from './fetch-paths.js'
import type { OpenedRecord } from './sizing.js'
import type { DownloadEvents } from './types.js'

/** What keeping a piece needs: the store that checks and writes it, and the counters. */
export interface PieceLedgerComponents {
  readonly digest: string
  readonly store: Pick<BlobStore, 'writePiece'>
  readonly events: Pick<DownloadEvents, 'bytes' | 'pieceVerified'>
  readonly signal: AbortSignal
  readonly logger?: Logger
}

/**
 * The pieces of one download: which are held, the trusted digest of each
 * (computed from origin bytes, or recorded by the store as trusted), and
 * the provisional ones (checked only against a peer's claim), with the
 * digests to announce and the bytes counted per source. Only `reset` and
 * `accept` change it.
 */
export class PieceLedger {
  readonly #c: PieceLedgerComponents
  n = 0
  have = new Bitfield(0)
  digests: Array<Uint8Array | undefined> = []
  /**
   * Held pieces checked only against a peer's claim, with the digest and the
   * peer that vouched for it (undefined: held before this download started).
   * Never announced, never recorded as trusted; readers get their last bytes
   * only after the whole-blob check (docs/security.md, "Trust rule").
   */
  readonly provisional = new Map<number, Suspect>()
  readonly bytes: BytesBySource = { origin: 0, 'peer-local': 0, 'peer-remote': 0, cache: 0 }
  readonly #announce: Array<{ index: number, digest: Uint8Array }> = []

  constructor (c: PieceLedgerComponents) {
    this.#c = c
  }

  /** A record opened for a size: all at once, so the scheduler never sees a size without its have-set and digests. */
  reset (n: number, record: OpenedRecord): void {
    this.provisional.clear()
    // Held pieces with no trusted digest were taken on a peer's word by an earlier download in this process.
    for (const i of record.untrusted) this.provisional.set(i, { digest: new Uint8Array(0) })
    this.have = record.have
    this.digests = record.digests
    this.n = n
  }

  /** After a whole-blob mismatch the store kept only trusted pieces: `have` is what it holds now. */
  reopened (have: Bitfield): void {
    this.provisional.clear()
    this.have = have
    // an authenticated piece map's digests stay trusted, held or not
    if (this.authenticated) return
    for (let i = 0; i < this.n; i++) if (!have.get(i)) this.digests[i] = undefined
  }

  /** Every digest came from a piece map that matched the CID the caller gave. */
  authenticated = false

  /**
   * An authenticated piece map: every piece's digest is trusted from now on,
   * and a held provisional piece whose digest it confirms is trusted too
   * (one it contradicts stays provisional: the whole-blob check drops it).
   */
  authenticate (digests: readonly Uint8Array[]): void {
    this.authenticated = true
    for (let i = 0; i < this.n; i++) this.digests[i] ??= digests[i]
    for (const [i, p] of [...this.provisional]) if (equalBytes(p.digest, digests[i])) this.provisional.delete(i)
  }

  /**
   * The digest of piece i once the whole blob matched its sha256: the
   * trusted one, or the one a provisional piece was checked against (the
   * whole-blob match proves it). A provisional piece held before this
   * download has none here.
   */
  proven (i: number): Uint8Array | undefined {
    const p = this.provisional.get(i)?.digest
    return this.digests[i] ?? (p != null && p.byteLength > 0 ? p : undefined)
  }

  /** A complete blob from the store: every piece held. */
  holdAll (n: number): void {
    this.n = n
    this.have = new Bitfield(n)
    this.have.setAll()
  }

  /**
   * Keeps piece i: the store checks it against `d` and writes it. True when
   * it is newly held; false when it was held already. A full disk throws
   * `StoreFullError` (ours, not the sender's); a wrong piece throws
   * `DigestMismatchError`.
   */
  async accept (i: number, bytes: Uint8Array, d: Uint8Array, source: ByteSource, provisional?: { voucher: string }): Promise<boolean> {
    if (this.have.get(i)) return false
    try {
      await this.#c.store.writePiece(this.#c.digest, i, bytes, d, { signal: this.#c.signal, provisional: provisional != null })
    } catch (err) {
      if ((err instanceof StoreFullError) || (err as Error)?.name === 'StoreFullError') {
        this.#c.logger?.warn({ digest: this.#c.digest, piece: i, err: (err as Error).message }, 'store full: download failed')
      }
      throw err
    }
    if (this.have.get(i)) return false
    this.have.set(i)
    if (provisional != null) this.provisional.set(i, { digest: d, voucher: provisional.voucher })
    else this.digests[i] = d
    this.bytes[source] += bytes.byteLength
    this.#c.events.bytes(source, bytes.byteLength)
    this.#c.events.pieceVerified()
    // We vouch only for digests we trust: a provisional piece is relayed (it is in our have-set) but never announced.
    if (provisional == null) this.#announce.push({ index: i, digest: d })
    return true
  }

  /** The trusted digests learnt since the last call, for gossip. */
  takeAnnounced (): Array<{ index: number, digest: Uint8Array<ArrayBuffer> }> {
    return this.#announce.splice(0, this.#announce.length).map(p => ({ index: p.index, digest: new Uint8Array(p.digest) }))
  }
}
