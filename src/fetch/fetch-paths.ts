import type { ByteSource } from '../types.js'
import { equalBytes, sha256 } from '../content/index.js'
import { DigestMismatchError, OriginError } from '../errors.js'
import type { Origin } from '../origin/types.js'
import { WHOLE, type Attempts } from './attempts.js'
import type { Clock } from './clock.js'
import { MAX_WHOLE_RESTARTS } from './constants.js'
import { readOriginWhole } from './origin-piece.js'
import type { Pace } from './pace.js'
import { dissenter, type Refuted } from './finish.js'
import type { PieceBuffers } from './piece-buffers.js'
import { peerSource, rangedOriginSource, type PieceSource } from './sources.js'
import type { DownloadComponents, RemotePeer } from './types.js'
import { isBusy } from './peer-failures.js'
import type { SwarmView } from './view.js'

/** A provisional piece under suspicion after a whole-blob mismatch: its digest and who vouched for it. */
export interface Suspect { digest: Uint8Array, voucher?: string }

/** What the fetch paths need from their download: its blob, its state and its reactions. */
export interface FetchHost {
  readonly digest: string
  /** The blob's size and piece size (known before any piece is fetched). */
  size: () => number
  pieceSize: () => number
  readonly signal: AbortSignal
  has: (i: number) => boolean
  /** The trusted digest of piece i, if any. */
  trusted: (i: number) => Uint8Array | undefined
  /** Only trusted digests count (the caller gave a piece map's CID): no piece is taken on a peer's word. */
  trustedOnly: () => boolean
  /** Keep piece i (the store checks it against `d`); provisional when only a peer vouched for `d`. */
  accept: (i: number, bytes: Uint8Array, d: Uint8Array, source: ByteSource, peer?: string, provisional?: { voucher: string }) => Promise<void>
  /** An origin request failed (the download moves to the next origin or fails). */
  originFailed: (origin: Origin, err: Error) => void
  /** An origin request for piece i ended, however. */
  originEnded: (i: number) => void
  /** Our claims changed: gossip soon. */
  markDirty: () => void
  /** A scheduling pass now, or at the next coalesced pass. */
  wake: () => void
  wakeSoon: () => void
}

export interface FetchParts {
  components: DownloadComponents
  clock: Clock
  view: SwarmView
  attempts: Attempts
  pace: Pace
  /** Reused for ranged origin requests (piece-buffers.ts says why). */
  originBuffers: PieceBuffers
}

/**
 * How a piece is fetched, from its three kinds of source — a peer, a
 * ranged origin request, the whole-blob stream of an origin without Range —
 * over one bookkeeping (an attempt per request, aborted when the piece
 * arrives elsewhere; timing; a scheduling pass when it ends). What to fetch
 * and from whom is the scheduler's; what a piece is worth once here is the
 * download's (`host.accept`).
 */
export class FetchPaths {
  readonly #host: FetchHost
  readonly #p: FetchParts
  /** Ranged origin requests in flight. */
  originInflight = 0
  #wholeRestarts = 0
  /** After a whole-blob mismatch: the provisional pieces to compare with the origin's bytes. */
  suspects = new Map<number, Suspect>()
  /** After a whole-blob mismatch with no origin: the voucher under test (finish.ts). */
  refuted?: Refuted

  constructor (host: FetchHost, parts: FetchParts) {
    this.#host = host
    this.#p = parts
  }

  /** A new origin takes over: the whole-blob stream may restart again. */
  originChanged (): void {
    this.#wholeRestarts = 0
  }

  fromPeer (i: number, peer: RemotePeer): void {
    const { components: c, view, pace, clock } = this.#p
    const host = this.#host
    peer.inflight++
    let counted = true
    const release = (): void => { if (counted) { counted = false; peer.inflight-- } }
    const src = peerSource(peer, () => c.transfer.session(peer.id, host.digest, host.pieceSize()))
    this.#request(i, src, async (bytes, ms) => {
      pace.notePeerPiece(ms)
      // The peer is done with this request: let the next one go out while we
      // verify and store this piece (gating requests on slow writes halved
      // throughput in bench/p2p).
      release()
      host.wake()
      // A trusted digest if we have one; else the claim of a peer that
      // vouched for it (the sender's own first), and the piece is provisional.
      // While a voucher is under test after a mismatch, it vouches for nothing (finish.ts).
      const trusted = host.trusted(i)
      const r = this.refuted
      const vouch = trusted != null || host.trustedOnly() ? undefined : r == null ? view.voucher(i, peer) : dissenter(view.all(), k => c.peerBook.isBanned(k), r, i, peer)
      const want = trusted ?? vouch?.digest
      // Nothing to check it against while only trusted digests count: dropped, nobody blamed.
      if (want == null && host.trustedOnly()) return
      const same = (peer.location ?? '') === c.location
      try {
        // The store hashes the piece against `want` before it keeps it: that is the verification.
        if (want == null) throw new DigestMismatchError(`no digest known for piece ${i}`)
        await host.accept(i, bytes, want, same ? 'peer-local' : 'peer-remote', peer.key, vouch == null ? undefined : { voucher: vouch.key })
        view.peerServed(peer, clock.now())
      } catch (err: any) {
        if (err?.name !== 'DigestMismatchError' || host.has(i)) throw err
        c.events.pieceRejected(peer.key)
        view.forgetPiece(peer, i)
        // Struck only when it contradicts a trusted digest or its own claim: a relay checked against another peer's claim is not to blame.
        if (trusted == null && vouch?.key !== peer.key) return
        c.peerBook.strike(peer.key, `piece ${i} of ${host.digest} failed verification`)
        c.logger?.warn({ peer: peer.key, piece: i, digest: host.digest }, 'peer sent a bad piece: struck')
      }
    }, (err) => {
      view.peerFailed(peer, i, err, clock.now())
      c.logger?.debug({ err, peer: peer.key, piece: i }, 'piece request failed')
    }, release)
  }

  fromOrigin (origin: Origin, i: number): void {
    const host = this.#host
    this.originInflight++
    host.markDirty()
    this.#p.components.events.originRequest()
    this.#request(i, rangedOriginSource(origin, host.size(), host.pieceSize(), this.#p.originBuffers), async (bytes, ms) => {
      this.#p.pace.noteOriginPiece(ms)
      await this.#acceptFromOrigin(i, bytes)
    }, (err) => { host.originFailed(origin, err) }, () => {
      this.originInflight--
      host.originEnded(i)
    })
  }

  /** The third path: origins without Range stream the whole blob, and every piece is taken as it completes. */
  whole (origin: Origin): void {
    const host = this.#host
    this.#p.components.events.originRequest()
    const whole: PieceSource = {
      key: 'origin',
      get: async (_i, signal) => {
        await readOriginWhole(origin, host.size(), host.pieceSize(), signal, async (i, bytes) => {
          if (!host.has(i)) await this.#acceptFromOrigin(i, bytes)
        })
        return new Uint8Array(0)
      }
    }
    this.#request(WHOLE, whole, async () => {}, (err) => {
      // A stream cut part way is started again (held pieces are skipped), a bounded number of times.
      const retryable = err instanceof OriginError && err.retryable && ++this.#wholeRestarts <= MAX_WHOLE_RESTARTS
      host.originFailed(origin, retryable ? err : new OriginError(`origin ${origin.name} failed: ${err.message}`))
    }, () => {})
  }

  async #acceptFromOrigin (i: number, bytes: Uint8Array): Promise<void> {
    const { components: c, view } = this.#p
    const d = sha256(bytes)
    // Origin bytes are the reference: peers that vouched for another digest lied.
    const liars = new Set<string>()
    for (const p of view.contradicted(i, d, equalBytes)) { liars.add(p.key); c.peerBook.strike(p.key, `vouched for a wrong digest of piece ${i}`) }
    // After a whole-blob mismatch: a provisional piece the origin contradicts names its voucher.
    const s = this.suspects.get(i)
    if (s != null) {
      this.suspects.delete(i)
      if (s.voucher != null && s.digest.byteLength > 0 && !equalBytes(s.digest, d) && !liars.has(s.voucher)) {
        c.peerBook.strike(s.voucher, `vouched for a wrong digest of piece ${i} of ${this.#host.digest}`)
        c.logger?.warn({ peer: s.voucher, piece: i, digest: this.#host.digest }, 'origin bytes contradict a provisional piece: its voucher struck')
      }
    }
    // With an authenticated piece map the origin's bytes are checked against it too.
    await this.#host.accept(i, bytes, this.#host.trusted(i) ?? d, 'origin')
  }

  /**
   * The bookkeeping every request shares: an attempt for piece i (aborted
   * when the piece arrives elsewhere), its timing, and a scheduling pass
   * when it ends. `got` runs with the bytes and their time; `failed` with an
   * error that was not our own abort.
   */
  #request (i: number, src: PieceSource, got: (bytes: Uint8Array, ms: number) => Promise<void>, failed: (err: Error) => void, ended: () => void): void {
    const { attempts, clock } = this.#p
    const host = this.#host
    const ctrl = attempts.start(i, src.key, clock.now())
    void (async () => {
      // A BUSY answer frees nothing a pass could use now (that peer is backed
      // off): the next coalesced pass is soon enough. Passes per BUSY were most
      // of the engine's time while a 200-node swarm waited on its first holders.
      let busy = false
      const t0 = clock.now()
      let bytes: Uint8Array | undefined
      try {
        bytes = await src.get(i, ctrl.signal)
        await got(bytes, clock.now() - t0)
      } catch (err) {
        busy = isBusy(err)
        if (!host.signal.aborted && !ctrl.signal.aborted) failed(err as Error)
        // an origin request we stopped part way was paid for up to where it stopped: say why (docs/scale.md)
        else if (src.key === 'origin' && !host.signal.aborted) this.#p.components.logger?.debug({ piece: i, reason: (ctrl.signal.reason as Error)?.message, ms: clock.now() - t0 }, 'download: origin request abandoned')
      } finally {
        if (bytes != null) src.done?.(bytes)
        ended()
        attempts.end(i, ctrl)
        if (busy) host.wakeSoon()
        else host.wake()
      }
    })()
  }
}
