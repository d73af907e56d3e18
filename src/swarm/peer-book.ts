/**
 * What this node has learnt about other peers: location label, measured
 * round-trip time, strikes for bad behaviour, and bans with a growing TTL.
 * The connection gater asks `isBanned`; the download engine asks the rest.
 */
export interface PeerRecord {
  location?: string
  rttMs?: number
  /** Strikes since the last ban. */
  strikes: number
  /** The most recent strikes, oldest first, at most STRIKE_HISTORY (kept across bans, so a ban can say why). */
  lastStrikes: Strike[]
  bans: number
  bannedUntil: number
}

export interface Strike {
  /** ms since epoch. */
  at: number
  reason: string
}

/** Strikes kept per peer. */
export const STRIKE_HISTORY = 5

export interface PeerBookInit {
  /** Strikes before a ban. Default 3. */
  strikesToBan?: number
  /** First ban length; each later ban doubles it. Default 60 s. */
  banMs?: number
  /** Longest ban. Default 1 h. */
  maxBanMs?: number
  now?: () => number
  /** Called when a peer gets banned (so its connections can be closed), with the strikes that led to it, oldest first. */
  onBan?: (peer: string, untilMs: number, strikes: Strike[]) => void
}

export interface PeerBook {
  get(peer: string): PeerRecord | undefined
  setLocation(peer: string, location: string): void
  location(peer: string): string | undefined
  /** Smoothed RTT (EWMA, alpha 0.3). */
  recordRtt(peer: string, ms: number): void
  rtt(peer: string): number | undefined
  /** Records a strike; returns true when it led to a ban. */
  strike(peer: string, reason: string): boolean
  /** A proven lie (a vouch the verified blob contradicts): banned at once, with the reason kept as its strike. */
  ban(peer: string, reason: string): void
  isBanned(peer: string): boolean
  entries(): Array<[string, PeerRecord]>
}

export function createPeerBook (init: PeerBookInit = {}): PeerBook {
  const strikesToBan = init.strikesToBan ?? 3
  const banMs = init.banMs ?? 60_000
  const maxBanMs = init.maxBanMs ?? 3_600_000
  const now = init.now ?? Date.now
  const peers = new Map<string, PeerRecord>()

  function rec (peer: string): PeerRecord {
    let r = peers.get(peer)
    if (r == null) {
      r = { strikes: 0, lastStrikes: [], bans: 0, bannedUntil: 0 }
      peers.set(peer, r)
    }
    return r
  }

  const book: PeerBook = {
    get: peer => peers.get(peer),
    setLocation (peer, location) { rec(peer).location = location },
    location: peer => peers.get(peer)?.location,
    recordRtt (peer, ms) {
      const r = rec(peer)
      r.rttMs = r.rttMs == null ? ms : r.rttMs * 0.7 + ms * 0.3
    },
    rtt: peer => peers.get(peer)?.rttMs,
    strike (peer, reason) {
      const r = rec(peer)
      r.strikes++
      r.lastStrikes.push({ at: now(), reason })
      if (r.lastStrikes.length > STRIKE_HISTORY) r.lastStrikes.splice(0, r.lastStrikes.length - STRIKE_HISTORY)
      if (r.strikes < strikesToBan) return false
      const why = r.lastStrikes.slice(-r.strikes)
      r.strikes = 0
      r.bans++
      r.bannedUntil = now() + Math.min(maxBanMs, banMs * 2 ** (r.bans - 1))
      init.onBan?.(peer, r.bannedUntil, why)
      return true
    },
    ban (peer, reason) {
      if (book.isBanned(peer)) return
      rec(peer).strikes = strikesToBan - 1
      book.strike(peer, reason)
    },
    isBanned (peer) {
      const r = peers.get(peer)
      return r != null && r.bannedUntil > now()
    },
    entries: () => [...peers.entries()]
  }
  return book
}
