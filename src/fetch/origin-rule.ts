import { ALONE_FIRST_PIECES, INCOMPLETE_VIEW_FACTOR, ALONE_LOOK_AGAIN_MS, META_TIMEOUT_MS, TAKEOVER_ASK_PEERS, TAKEOVER_CONFIRM_HEARTBEATS, TAKEOVER_INTERVAL_HEARTBEATS } from './constants.js'
import { fairShare, mayFetchForLocation, takeoverDelay, type TakeoverTimes } from './policy.js'
import { claimFreshFor } from './peer-rounds.js'
import type { Rendezvous } from './rendezvous.js'
import type { RemotePeer } from './types.js'

/** Which branch of the rule let a node fetch a piece from the origin: it owns it, it believes it is alone, or it takes it over (after the peers asked answered, or after their silence outlasted the meta timeout). */
export interface OriginGrant {
  how: 'owner' | 'alone' | 'takeover-answered' | 'takeover-silent'
  /** Our rank among the candidates (0: owner). */
  pos: number
  /** The piece had been held by a peer we no longer count (its holders left our view): the likely holders were asked first. */
  lostHolders?: boolean
  /** An owner, late and starved: the peers ranked just below it were asked first. */
  askedSuccessors?: boolean
  /** How long the piece waited on peers ranked above us. */
  waitedMs: number
  /** A takeover: how old the newest claim on the piece by a peer ranked above us was (undefined: none heard). */
  claimAgeMs?: number
  /** A takeover: the peers ranked above us that were asked first (so a log can be joined with who held the piece). */
  asked?: readonly string[]
}

/** A piece index no blob reaches: its rendezvous score serves as a peer's hash. */
const VERSION_SLOT = 0x7fffffff

/**
 * The memory of the no-scheduler rule for one download (docs/no-scheduler.md):
 * the current candidates and our rank for each piece among them, how long
 * each piece has waited on a peer ranked above us, how many pieces we took
 * over in the current interval, and — when we see no other candidate — how
 * many origin pieces our belief that we are alone may still buy.
 *
 * The decisions themselves are the pure functions of policy.ts; this class
 * only keeps what they need between scheduling passes.
 */
export class OriginRule {
  readonly #self: string
  readonly #rv: Rendezvous
  #cands: RemotePeer[] = []
  #version = ''
  #changedAt = 0
  readonly #positions = new Map<number, number>()
  /** The candidates (without us) the cached positions were computed against. */
  #rankedKeys = new Set<string>()
  /** The same, as a list with their rendezvous bases (position's inner loop). */
  #rankedList: string[] = []
  #rankedBases: Uint32Array = new Uint32Array(0)
  readonly #waitingSince = new Map<number, number>()
  #windowStart = 0
  #takenInWindow = 0
  #aloneBudget = ALONE_FIRST_PIECES
  #aloneTaken = 0
  #lastLook = -Infinity
  /** Takeovers waiting on a direct question to the peers ranked above: piece → when, and whom. */
  readonly #asked = new Map<number, { at: number, keys: string[] }>()
  #toAsk: string[] = []
  readonly #replied: (key: string, since: number) => boolean
  readonly #roundOf: (key: string) => number | undefined
  readonly #likelyHolders: (i: number) => string[]
  /** Why the last `mayFetch` said yes: logged with each origin request, so a run that sent the origin too much shows which branch of the rule let it. */
  lastGrant?: OriginGrant

  /**
   * `replied(key, since)`: has that peer told us anything (gossip, a meta
   * answer) or failed a meta request since then? `roundOf(key)`: its pace as
   * we hear it (peer-rounds.ts), by which its claims and its silence are judged.
   */
  constructor (self: string, rv: Rendezvous, replied: (key: string, since: number) => boolean, roundOf: (key: string) => number | undefined = () => undefined, opts: { viewHints?: boolean, likelyHolders?: (i: number) => string[] } = {}) {
    this.#self = self
    this.#rv = rv
    this.#replied = replied
    this.#roundOf = roundOf
    this.#viewHints = opts.viewHints === true
    this.#likelyHolders = opts.likelyHolders ?? (() => [])
  }

  /** Only the origin rule reads the peers' view hints: they count origin candidates, not the members of a location group. */
  readonly #viewHints: boolean

  get candidates (): RemotePeer[] { return this.#cands }
  get alone (): boolean { return this.#cands.length === 0 }
  /**
   * Candidates we know of but have not met: when a candidate told us (meta
   * peer exchange) it knows more than INCOMPLETE_VIEW_FACTOR times as many
   * interested peers as we do, the difference. A node that met the swarm
   * through one bootstrap peer would otherwise own half of every piece; it
   * ranks itself against these unseen peers too (#beatsUnseen), so it owns
   * about its share of the real swarm until it has met them.
   */
  get unseen (): number { return this.#unseen }
  #unseen = 0
  /** When the candidate set last changed (views converge when it stops changing). */
  get changedAt (): number { return this.#changedAt }

  /** The candidates for this pass; ranks are recomputed only when the set changed. */
  setCandidates (cands: RemotePeer[], now: number): void {
    // hints arrive with meta answers, not with candidate changes: read them every pass (O(candidates))
    if (this.#viewHints) {
      let hint = 0
      for (const p of cands) hint = Math.max(hint, p.interestedHint ?? 0)
      this.#unseen = hint + 1 > INCOMPLETE_VIEW_FACTOR * (cands.length + 1) ? hint - cands.length : 0
    }
    // The view hands back the same array while nothing it depends on changed.
    if (cands === this.#cands) return
    this.#cands = cands
    // an order-free fingerprint of the set (count, xor and sum of per-peer
    // hashes): O(n) with no sort or string join — it runs on every pass
    let x = 0
    let sum = 0
    for (const p of cands) { const h = this.#rv.score(p.key, VERSION_SLOT); x ^= h; sum = (sum + h) % 4294967296 }
    const version = `${cands.length}:${x}:${sum}`
    if (version !== this.#version) {
      this.#version = version
      this.#changedAt = now
      this.#updatePositions(cands)
    }
  }

  /**
   * Moves the cached ranks to a new candidate set. While a swarm forms the
   * set changes on nearly every pass, a few peers at a time; recomputing
   * every piece's rank against every candidate then cost pieces × N hashes
   * per pass (most of a 1,000-engine simulation's start). Each piece's rank
   * moves by the peers that joined above us minus those that left from
   * above us: pieces × changed peers. A set mostly replaced is ranked anew.
   */
  #updatePositions (cands: RemotePeer[]): void {
    const next = new Set<string>()
    for (const p of cands) if (p.key !== this.#self) next.add(p.key)
    const added: string[] = []
    const removed: string[] = []
    for (const k of next) if (!this.#rankedKeys.has(k)) added.push(k)
    for (const k of this.#rankedKeys) if (!next.has(k)) removed.push(k)
    this.#rankedKeys = next
    this.#rankedList = [...next]
    this.#rankedBases = this.#rv.bases(this.#rankedList)
    if (this.#positions.size === 0) return
    if ((added.length + removed.length) * 2 > next.size) { this.#positions.clear(); return }
    for (const [i, pos] of this.#positions) {
      const mine = this.#rv.score(this.#self, i)
      let delta = 0
      for (const k of added) if (this.#rv.outranks(k, this.#self, i, mine)) delta++
      for (const k of removed) if (this.#rv.outranks(k, this.#self, i, mine)) delta--
      this.#positions.set(i, pos + delta)
    }
  }

  /** Our rank for piece i among the current candidates (0 = ours). */
  position (i: number): number {
    let pos = this.#positions.get(i)
    if (pos == null) {
      pos = this.#rv.countAbove(this.#rankedList, this.#rankedBases, this.#self, i)
      this.#positions.set(i, pos)
    }
    return pos
  }

  /**
   * May we fetch piece i from the origin now? `missing` is how many pieces
   * nobody holds yet (the fair share of takeovers is computed from it).
   * `lostHolders`: a peer held piece i in our view once and no peer we
   * count holds it now — the swarm has it, and only our view lost it.
   * `askSuccessors`: we are late and starved (planner.ts), so a peer ranked
   * below us may have taken our pieces over: an owner asks them first.
   */
  mayFetch (i: number, now: number, t: TakeoverTimes, missing: number, claimers?: ReadonlyMap<string, number>, running?: ReadonlyMap<string, number>, ask: { lostHolders?: boolean, askSuccessors?: boolean } = {}): boolean {
    const lostHolders = ask.lostHolders === true
    if (this.alone) {
      if (this.#outclaimed(i, now, t, claimers) || this.#runsElsewhere(now, t, running)) return false
      // Alone in our view: a few pieces, then look again (lookAgain) before more.
      if (this.#aloneTaken >= this.#aloneBudget) return false
      this.#aloneTaken++
      this.lastGrant = { how: 'alone', pos: 0, waitedMs: 0 }
      return true
    }
    let pos = this.position(i)
    // first among those we know, but not among those we know of: a piece
    // that waits for its owner like any other, and is taken over like one
    if (pos === 0 && this.#unseen > 0 && !this.#beatsUnseen(i)) pos = 1
    let since = this.#waitingSince.get(i)
    if (since == null) { since = now; this.#waitingSince.set(i, now) }
    // The cheap test first: a piece owned by a peer ranked above us waits out
    // its takeover delay before anything else could make it ours. In a large
    // swarm that is nearly every piece on nearly every pass, and the checks
    // below loop over claimers and candidates (a pass over 512 pieces cost
    // milliseconds at 100 engines).
    if (this.#inDelay(i, pos, since, now, t)) return false
    if (this.#outclaimed(i, now, t, claimers) || this.#runsElsewhere(now, t, running)) return false
    if (pos > 0) {
      const interval = t.heartbeatMs * TAKEOVER_INTERVAL_HEARTBEATS
      if (now - this.#windowStart >= interval) { this.#windowStart = now; this.#takenInWindow = 0 }
      if (this.#takenInWindow >= fairShare(missing, this.#cands.length)) return false
    }
    if (!mayFetchForLocation(this.#self, i, this.#cands, this.#rv, now, t, since, pos)) return false
    // A piece whose holders left our view is in the swarm: whoever owns it
    // asks the peers most likely to hold it before paying the origin again.
    // At 50 processes, owners fetched pieces other peers had held for
    // 80–150 s (8 of 19 duplicate copies of one run): the holders they had
    // known had finished and left, the others' have-sets had not reached them.
    const askSuccessors = pos === 0 && ask.askSuccessors === true
    if (pos > 0 || lostHolders || askSuccessors) {
      // Our view says the owner failed; before acting on it, ask the peers
      // ranked above us directly (one meta exchange each) and decide again
      // once every one of them answered or failed (their answers carry
      // their claims, which the next pass weighs): a stale view must not
      // cost a second copy from the origin. Silence is not failure — on a
      // loaded machine an answer can take many seconds, and acting on
      // silence sent a 24-node swarm 2.6 × the blob — so silence is waited
      // out up to the meta request's own timeout.
      const asked = this.#asked.get(i)
      if (asked == null) {
        const keys = [...new Set([
          ...this.#above(i).slice(0, TAKEOVER_ASK_PEERS),
          ...(askSuccessors ? this.#below(i).slice(0, TAKEOVER_ASK_PEERS) : []),
          ...(lostHolders ? this.#likelyHolders(i) : [])
        ])]
        this.#asked.set(i, { at: now, keys })
        this.#toAsk.push(...keys)
        return false
      }
      const waited = now - asked.at
      if (waited < t.heartbeatMs * TAKEOVER_CONFIRM_HEARTBEATS) return false
      const answered = asked.keys.every(k => this.#replied(k, asked.at))
      if (!answered && waited < this.#silenceBound(asked.keys, t)) return false
      this.#asked.delete(i)
      if (pos > 0) {
        this.#takenInWindow++
        this.lastGrant = { how: answered ? 'takeover-answered' : 'takeover-silent', pos, waitedMs: now - since, claimAgeMs: this.#newestClaimAbove(i, now, claimers), asked: asked.keys, lostHolders }
      } else {
        this.lastGrant = { how: 'owner', pos: 0, waitedMs: now - since, asked: asked.keys, lostHolders, askedSuccessors: askSuccessors }
      }
    } else {
      this.lastGrant = { how: 'owner', pos: 0, waitedMs: now - since }
    }
    this.#waitingSince.delete(i)
    return true
  }

  /** Piece i is owned by a peer ranked above us and has not waited out its takeover delay since `since`. */
  #inDelay (i: number, pos: number, since: number, now: number, t: TakeoverTimes): boolean {
    return pos > 0 && now - since < takeoverDelay(pos, this.#rv.unit(this.#self, i), t)
  }

  /**
   * Would `mayFetch(i)` now refuse at its first test (the takeover delay),
   * with nothing to record? A scheduling pass asks this before the work
   * that leads up to the rule: in a swarm spread over locations most pieces
   * on most passes are held only elsewhere and not ours to bring in.
   */
  waitsOutDelay (i: number, now: number, t: TakeoverTimes): boolean {
    if (this.alone) return false
    const since = this.#waitingSince.get(i)
    return since != null && this.#inDelay(i, this.position(i), since, now, t)
  }

  /**
   * A fresh claim by any peer that outranks us on piece i — a candidate or
   * not (our view may lack it) — holds. Only higher-ranked claims count, so
   * two nodes that both believe they own a piece cannot wait on each other.
   */
  #outclaimed (i: number, now: number, t: TakeoverTimes, claimers?: ReadonlyMap<string, number>): boolean {
    if (claimers == null || claimers.size === 0) return false
    const mine = this.#rv.score(this.#self, i)
    for (const [key, at] of claimers) {
      if (key === this.#self || now - at >= claimFreshFor(this.#roundOf(key), t.claimFreshMs)) continue
      if (this.#rv.outranks(key, this.#self, i, mine)) return true
    }
    return false
  }

  /**
   * Another peer's origin request for piece i already runs (r4 claims say
   * which): whatever its rank, a second request would be a sure duplicate.
   * Rank decides who starts a piece, not who may stop another that already
   * pays the origin: at 50 processes a late-starting owner fetched the
   * pieces its takers were already fetching (7 of 21 duplicates of one
   * run). No deadlock: only a node whose bytes flow sends such a claim, and
   * it ends when they stop (the stale-claim rule bounds a liar's).
   */
  #runsElsewhere (now: number, t: TakeoverTimes, running?: ReadonlyMap<string, number>): boolean {
    if (running == null || running.size === 0) return false
    for (const [key, at] of running) {
      if (key !== this.#self && now - at < claimFreshFor(this.#roundOf(key), t.claimFreshMs)) return true
    }
    return false
  }

  /**
   * How long the peers asked before a takeover may stay silent before the
   * silence counts as failure: the meta request's own timeout and a
   * heartbeat, or their own rounds where those are longer (a starved owner
   * answers at its pace).
   */
  #silenceBound (keys: readonly string[], t: TakeoverTimes): number {
    let bound = META_TIMEOUT_MS + t.heartbeatMs
    for (const k of keys) bound = Math.max(bound, claimFreshFor(this.#roundOf(k), META_TIMEOUT_MS + t.heartbeatMs))
    return bound
  }

  /** Piece i is ours by the rule (claimed as ours to fetch next): first among the candidates, known and unseen. */
  owns (i: number): boolean {
    return this.position(i) === 0 && (this.#unseen === 0 || this.#beatsUnseen(i))
  }

  /**
   * Would we still rank first with the unseen candidates added? Each unseen
   * peer's score is unknown but uniform, so we beat k of them with
   * probability u^k, u our own score in [0, 1): decided by a second hash
   * of ours, fixed per piece, so every pass decides the same and the node
   * owns about 1/(k + known + 1) of the pieces, its share of the real swarm.
   */
  #beatsUnseen (i: number): boolean {
    const u = this.#rv.score(this.#self, i) / 2 ** 32
    return this.#rv.unit(this.#self, i) < u ** this.#unseen
  }

  /** How long ago the newest claim on piece i by a peer ranked above us was heard (undefined: none was). */
  #newestClaimAbove (i: number, now: number, claimers?: ReadonlyMap<string, number>): number | undefined {
    const mine = this.#rv.score(this.#self, i)
    let age: number | undefined
    for (const [key, at] of claimers ?? []) {
      if (key !== this.#self && this.#rv.outranks(key, this.#self, i, mine)) age = Math.min(age ?? Infinity, now - at)
    }
    return age
  }

  /** Peers to ask before a takeover (the download sends the questions). */
  takeAsks (): string[] {
    const out = this.#toAsk
    this.#toAsk = []
    return out
  }

  /** Candidates ranked above us for piece i, best first. */
  #above (i: number): string[] {
    const ranked = this.#rv.rank([this.#self, ...this.#cands.map(p => p.key)], i)
    return ranked.slice(0, ranked.indexOf(this.#self))
  }

  /** Candidates ranked below us for piece i, next first: those that would take it over from us. */
  #below (i: number): string[] {
    const ranked = this.#rv.rank([this.#self, ...this.#cands.map(p => p.key)], i)
    return ranked.slice(ranked.indexOf(this.#self) + 1)
  }

  /** Some peer holds piece i now: its wait on the owner ends (it starts anew if the piece goes missing again). */
  stopWaiting (i: number): void {
    if (this.#waitingSince.delete(i)) this.#asked.delete(i)
  }

  /** A piece arrived or is no longer ours to wait for. */
  settled (i: number): void {
    this.#waitingSince.delete(i)
    this.#asked.delete(i)
  }

  /**
   * A node that believes it is alone and spent its budget looks again: it
   * returns true when the caller should ask its connected peers now. Each
   * look that still finds nobody doubles the budget, so a truly lone node
   * loses little, while a node that merely lost a channel learns of the
   * others after a few pieces, not after the whole blob.
   */
  lookAgain (now: number, answersPending: boolean, nobodyToAsk: boolean): boolean {
    if (!this.alone) {
      this.#aloneBudget = ALONE_FIRST_PIECES
      this.#aloneTaken = 0
      return false
    }
    // Not connected to anyone: there is nothing to test the belief against.
    if (nobodyToAsk) { this.#aloneBudget = Infinity; return false }
    if (this.#aloneTaken < this.#aloneBudget || answersPending || now - this.#lastLook < ALONE_LOOK_AGAIN_MS) return false
    if (this.#lastLook > -Infinity) this.#aloneBudget *= 2
    this.#lastLook = now
    return true
  }
}
