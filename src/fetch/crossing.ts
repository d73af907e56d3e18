/**
 * The crossing rule's side of claims (groups.ts, docs/no-scheduler.md):
 * which claims a group's members weigh when a piece is to enter their group,
 * and which pieces this node claims because it brings them into one of its
 * groups. Pure functions over the view, the attempts and the planner's rules.
 */
import { MAX_CLAIMS } from './constants.js'
import { commonDepth, inGroup, segments } from './groups.js'
import type { OriginRule } from './origin-rule.js'
import type { RemotePeer } from './types.js'

interface Peers {
  get(key: string): RemotePeer | undefined
  readonly availability: Uint16Array
  /** The deepest of our location groups in which a usable peer holds piece i; -1 when nobody does. */
  nearestDepth(i: number): number
}

/**
 * Only claims by members of the group being entered hold a crossing back:
 * a peer of another location bringing the same piece into its own group is
 * doing its own group's work, not ours. A claimer we know nothing of counts
 * (our view may lack it; inGroup takes an unknown location as inside).
 */
export function groupClaimers (peers: Pick<Peers, 'get'>, claimers: ReadonlyMap<string, number> | undefined, prefix: readonly string[]): ReadonlyMap<string, number> | undefined {
  if (claimers == null || claimers.size === 0 || prefix.length === 0) return claimers
  let out: Map<string, number> | undefined
  for (const [key, at] of claimers) {
    if (!inGroup(peers.get(key)?.location, prefix)) continue
    ;(out ??= new Map()).set(key, at)
  }
  return out
}

/** The common depth of a peer's location with ours (an unknown location ranks as ours). */
export function depthOf (self: readonly string[], p: Pick<RemotePeer, 'location'>): number {
  return p.location == null ? self.length : commonDepth(self, segments(p.location))
}

export interface CrossState {
  view: Peers
  attempts: { readonly view: ReadonlyMap<number, ReadonlyArray<{ source: string }>>, has(i: number): boolean }
  self: readonly string[]
  rules: ReadonlyMap<number, OriginRule>
}

/**
 * Adds to `claims` the pieces this node brings into one of its groups: those
 * it fetches now from a peer outside its own location, and those held only
 * outside some group of ours where it ranks first. The group's other
 * members, hearing the claim, wait for the piece instead of taking it over
 * while a busy owner has it queued (a second crossing pays the link again).
 */
export function crossClaims (claims: Set<number>, s: { n: number, have: { get(i: number): boolean } }, c: CrossState): void {
  if (c.self.length === 0) return
  for (const [i, list] of c.attempts.view) {
    if (i < 0 || claims.size >= MAX_CLAIMS) continue
    for (const a of list) {
      const p = a.source === 'origin' ? undefined : c.view.get(a.source)
      if (p != null && depthOf(c.self, p) < c.self.length) { claims.add(i); break }
    }
  }
  const avail = c.view.availability
  for (let i = 0; i < s.n && claims.size < MAX_CLAIMS; i++) {
    if (s.have.get(i) || avail[i] === 0 || c.attempts.has(i)) continue
    const best = c.view.nearestDepth(i)
    if (best < 0 || best >= c.self.length) continue
    const rule = c.rules.get(best + 1)
    if (rule != null && !rule.alone && rule.position(i) === 0) claims.add(i)
  }
}
