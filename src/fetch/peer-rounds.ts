/**
 * A peer's pace as this node hears it, and how long its claims hold in its
 * own rounds (docs/no-scheduler.md, "Patience in the owner's rounds").
 *
 * Claim freshness and the wait for an answer before a takeover used to be
 * counted in our heartbeats only (stretched by our own timer lag, at most
 * 4 ×). On a machine running 50 node processes on 2 cores an honest owner's
 * messages arrived 20–60 s apart; its claims aged, and the next in rank took
 * its pieces over: the origin sent 3.9 × the blob. A claim now holds for
 * CLAIM_FRESH_ROUNDS of the claimer's own observed rounds as well, so a
 * starved owner keeps its pieces as long as it keeps speaking at its own
 * pace — and a liar, who could speak slowly on purpose, still gains at most
 * MAX_LIAR_PATIENCE_MS.
 */
import { CLAIM_FRESH_ROUNDS, MAX_LIAR_PATIENCE_MS, ROUND_DECAY } from './constants.js'
import type { RemotePeer } from './types.js'

/** The peer said something now (gossip, a meta request or answer): its round estimate moves. */
export function heard (p: Pick<RemotePeer, 'lastSeen' | 'roundMs'>, now: number): void {
  if (p.lastSeen > 0 && now > p.lastSeen) {
    const gap = now - p.lastSeen
    p.roundMs = Math.max(gap, (p.roundMs ?? 0) * ROUND_DECAY)
  }
  p.lastSeen = Math.max(p.lastSeen, now)
}

/**
 * The round its claims are judged by: only a peer that has shown progress
 * (its have-set grew at least once) earns the stretch. A liar that holds
 * nothing and answers only when asked would otherwise look like a starved
 * owner whose rounds are long.
 */
export function patienceRound (p: Pick<RemotePeer, 'roundMs' | 'haveGrewAt'> | undefined): number | undefined {
  return p?.haveGrewAt == null ? undefined : p.roundMs
}

/** How long a claim by a peer with this round estimate holds: our own freshness, or CLAIM_FRESH_ROUNDS of its rounds (at most MAX_LIAR_PATIENCE_MS), whichever is longer. */
export function claimFreshFor (roundMs: number | undefined, ownFreshMs: number): number {
  return Math.max(ownFreshMs, Math.min(MAX_LIAR_PATIENCE_MS, CLAIM_FRESH_ROUNDS * (roundMs ?? 0)))
}
