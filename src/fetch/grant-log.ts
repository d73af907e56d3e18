import type { OriginRule } from './origin-rule.js'
import type { RemotePeer } from './types.js'

/**
 * The debug line each origin request is logged with: which branch of the
 * rule let it go (origin-rule.ts `lastGrant`), and who this node believed
 * held the piece — counted or not. A run that sent the origin too much is
 * read from these lines (docs/scale.md); nothing here decides anything.
 */
export function grantLogFields (piece: number, self: string, rule: OriginRule, view: { all(): Iterable<RemotePeer>, get(key: string): RemotePeer | undefined, size: number, subscribers: ReadonlySet<string> | ReadonlyMap<string, unknown>, forgotten: ReadonlyMap<number, number>, claimStaleMs: number }, isBanned: (key: string) => boolean, now: number): Record<string, unknown> {
  const asked = rule.lastGrant?.asked
  return {
    piece,
    self,
    ...rule.lastGrant,
    holders: holdersOf(view.all(), piece, isBanned, view.forgotten),
    candidates: rule.candidates.length,
    peers: view.size,
    subscribers: view.subscribers.size,
    ...(asked != null && asked.length > 0 ? { askedState: asked.map(k => askedState(view.get(k), piece, now)), claimStaleMs: Math.round(view.claimStaleMs) } : {})
  }
}

/** What we knew of a peer we asked before the grant: its claims (and whether we held them stale), its last answer. */
function askedState (p: RemotePeer | undefined, i: number, now: number): Record<string, unknown> {
  if (p == null) return { gone: true }
  const ago = (t?: number): number | undefined => t == null ? undefined : Math.round(now - t)
  return {
    claims: p.fetching.size,
    claimsPiece: p.fetching.has(i),
    claimingForMs: ago(p.claimingSince),
    staleForMs: ago(p.claimsStaleAt),
    answeredMsAgo: ago(p.metaAnsweredAt),
    failedMsAgo: ago(p.metaFailedAt),
    haveKnown: p.have != null
  }
}

/** Peers whose have-set shows piece i, how many of them are demoted (BUSY streaks) or banned, and how often a peer's claim to it was dropped after failed requests. */
function holdersOf (peers: Iterable<RemotePeer>, i: number, isBanned: (key: string) => boolean, forgotten: ReadonlyMap<number, number>): { have: number, demoted: number, banned: number, forgotten: number } {
  let have = 0
  let demoted = 0
  let banned = 0
  for (const p of peers) {
    if (p.have?.get(i) !== true) continue
    have++
    if (p.demoted === true) demoted++
    if (isBanned(p.key)) banned++
  }
  return { have, demoted, banned, forgotten: forgotten.get(i) ?? 0 }
}
