/**
 * Who shares the work of bringing pieces into a group (docs/no-scheduler.md):
 * the interested, unbanned peers inside it, able to reach the origin when
 * that is the source. Kept apart from the view that owns the peer records;
 * this only reads them, and caches the lists.
 */
import { CANDIDATES_MAX_AGE_MS, CANDIDATES_MIN_AGE_MS } from './constants.js'
import { groupKey, inGroup } from './groups.js'
import type { RemotePeer } from './types.js'

/** What the lists are computed from: the view's peers and its change counter, the topic's subscribers, bans, and how long interest lasts. */
export interface CandidateSource {
  peers(): Iterable<RemotePeer>
  /** Bumped by the view whenever anything a candidate list depends on changed. */
  version(): number
  subscribed(key: string): boolean
  isBanned(key: string): boolean
  interestTtlMs(): number
}

export class CandidateLists {
  readonly #src: CandidateSource
  readonly #cache = new Map<string, { version: number, at: number, peers: RemotePeer[] }>()

  constructor (src: CandidateSource) {
    this.#src = src
  }

  /** Is this peer one that wants the blob now? Heard within the interest TTL, or on the topic. */
  isInterested (p: RemotePeer, now: number): boolean {
    const subscribed = this.#src.subscribed(p.key)
    if (p.interest === 'wants') return subscribed || now - p.lastSeen <= this.#src.interestTtlMs()
    // A topic subscriber we have not heard from yet: subscriptions travel in
    // milliseconds, state messages later; counting it closes the gap in
    // which each node of a first wave would believe it is alone.
    return p.interest === 'unknown' && subscribed
  }

  /**
   * Peers sharing the work of bringing pieces into the group `prefix` (groups.ts): interested, not banned, inside
   * it (an unknown location counts as inside until it says otherwise), able to reach the origin when `needOrigin`.
   */
  get (prefix: readonly string[], now: number, needOrigin: boolean): RemotePeer[] {
    // Cached while nothing changed, for at most CANDIDATES_MAX_AGE_MS (interest
    // expires with time): a pass runs on every event, a swarm of hundreds
    // makes many events, and this scan was a fifth of the engine's time.
    const cacheKey = `${needOrigin ? 1 : 0}${groupKey(prefix, prefix.length)}`
    const cached = this.#cache.get(cacheKey)
    const version = this.#src.version()
    if (cached != null && now >= cached.at) {
      const age = now - cached.at
      // News is taken at most every CANDIDATES_MIN_AGE_MS: while a swarm of a
      // thousand forms, every message brings a new peer.
      if (age < CANDIDATES_MIN_AGE_MS || (cached.version === version && age < CANDIDATES_MAX_AGE_MS)) return cached.peers
    }
    const out = this.#scan(prefix, now, needOrigin)
    this.#cache.set(cacheKey, { version, at: now, peers: out })
    return out
  }

  #scan (prefix: readonly string[], now: number, needOrigin: boolean): RemotePeer[] {
    const out: RemotePeer[] = []
    for (const p of this.#src.peers()) {
      if (!this.isInterested(p, now) || this.#src.isBanned(p.key)) continue
      if (!inGroup(p.location, prefix)) continue
      if (needOrigin && !p.hasOrigin && p.interest !== 'unknown') continue
      out.push(p)
    }
    return out
  }
}
