/**
 * Location groups: "each piece enters each group once" (docs/no-scheduler.md).
 *
 * A location label `region/zone/rack` names a chain of nested groups: the
 * whole swarm (depth 0), `region` (1), `region/zone` (2), `region/zone/rack`
 * (3). When a node fetches piece i from a source S (a peer, or the origin,
 * which lies outside every group), the piece enters the largest group that
 * contains this node but not S. Only the candidate ranked first in that group
 * (rendezvous, with the takeover machinery of origin-rule.ts) may bring it
 * in; the others wait for it to appear inside and fetch it from there.
 *
 * Pure functions only: the planner keeps one OriginRule per group it enters.
 */

/** A location's path, from the outermost group in. `''` (no label) is the root itself: no segments. */
export function segments (location: string | undefined): string[] {
  if (location == null || location === '') return []
  let segs = segmentCache.get(location)
  if (segs == null) {
    // a swarm has a handful of labels and this runs per holder and per claimer on every pass: split each once
    if (segmentCache.size >= SEGMENT_CACHE_MAX) segmentCache.clear()
    segs = location.split('/').filter(s => s !== '')
    segmentCache.set(location, segs)
  }
  return segs
}

/** Labels whose segments are kept; past it the cache starts again (a bound against a peer that sends a new label per message). */
const SEGMENT_CACHE_MAX = 1024
const segmentCache = new Map<string, string[]>()

/** How many leading segments two locations share. */
export function commonDepth (a: readonly string[], b: readonly string[]): number {
  const n = Math.min(a.length, b.length)
  let d = 0
  while (d < n && a[d] === b[d]) d++
  return d
}

/** The origin: outside every group. */
export const ORIGIN = Symbol('origin')

/** How a node's settings shape the groups (daemon config `originPerLocation`). */
export interface GroupPolicy {
  /**
   * true: the origin counts as inside this node's own location, so each
   * location pulls the origin itself (for sites where crossing between
   * locations costs more than the origin). false (default): the origin is
   * outside everything, every interested node of every location shares it.
   */
  originPerLocation: boolean
}

/**
 * The depth of the group piece i enters when `self` fetches it from
 * `source`: the group is `self`'s first `depth` segments. `undefined` when
 * no group is entered (the source shares this node's whole location; with
 * `originPerLocation`, the origin is then the deepest group's to share).
 */
export function entryDepth (self: readonly string[], source: readonly string[] | typeof ORIGIN, policy: GroupPolicy): number | undefined {
  if (source === ORIGIN) return policy.originPerLocation ? self.length : 0
  const c = commonDepth(self, source)
  // A source at our location, or inside it (a longer label under ours), is already in our smallest group.
  if (c >= self.length) return undefined
  return c + 1
}

/** The group of `self` at `depth`, as a label prefix (its key in maps and caches). */
export function groupKey (self: readonly string[], depth: number): string {
  return self.slice(0, depth).join('/')
}

/**
 * Is a peer at `location` a member of the group `prefix`? A peer whose
 * location we have not heard yet counts as a member until it says otherwise
 * (as before groups: every node of a first wave must see the same
 * candidates, and most peers are heard from within a gossip batch).
 */
export function inGroup (location: string | undefined, prefix: readonly string[]): boolean {
  if (location == null) return true
  if (prefix.length === 0) return true
  const loc = segments(location)
  return loc.length >= prefix.length && commonDepth(loc, prefix) === prefix.length
}

/**
 * The holder to fetch from: the longest common location prefix first, then
 * the lowest measured RTT, then the fewest requests in flight. Returns it
 * with its common depth (how deep the groups it shares with us go).
 */
export function nearest<P extends { key: string, location?: string, inflight: number }> (
  holders: Iterable<P>, self: readonly string[], usable: (p: P) => boolean, rtt: (peer: string) => number | undefined
): { peer?: P, depth: number } {
  let peer: P | undefined
  let depth = -1
  let best = Infinity
  for (const p of holders) {
    if (!usable(p)) continue
    // an unknown location ranks as ours, like inGroup: it says where it is with its first message
    const d = p.location == null ? self.length : commonDepth(self, segments(p.location))
    const key = (self.length - d) * RANK_PER_LEVEL + Math.min(rtt(p.key) ?? UNMEASURED_RTT_MS, MAX_RTT_RANKED_MS) * RANK_PER_MS + p.inflight
    if (key < best) { best = key; peer = p; depth = d }
  }
  return { peer, depth }
}

/** Before a peer's RTT is measured it ranks as this far: behind any measured peer of a nearby site. */
const UNMEASURED_RTT_MS = 50
/** RTTs are capped here so the level term always dominates. */
const MAX_RTT_RANKED_MS = 60_000
/** One RTT millisecond outweighs any number of requests in flight (at most a few hundred). */
const RANK_PER_MS = 1000
/** One location level outweighs any RTT. */
const RANK_PER_LEVEL = MAX_RTT_RANKED_MS * RANK_PER_MS * 10
