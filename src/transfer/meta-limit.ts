/**
 * Per-peer admission for meta answers: one token bucket per asking peer
 * (src/utils/rate-limit.ts), so one peer flooding meta requests is answered
 * BUSY while every other peer is served as before. Numbers: limits.ts.
 */
import { createAdmission, type Admission } from '../utils/rate-limit.js'
import { META_ANSWER_BURST, META_ANSWER_TOKEN_BYTES, META_ANSWERS_PER_SECOND, META_LIMIT_PEERS } from './limits.js'

export interface MetaLimitInit {
  /** Answers a second per peer (default META_ANSWERS_PER_SECOND). */
  rate?: number
  /** Default META_ANSWER_BURST. */
  burst?: number
  /** Default META_LIMIT_PEERS. */
  maxPeers?: number
}

export interface MetaLimit {
  /** May `peer` have an answer now? Takes one token when it may. */
  admit(peer: string): boolean
  /** May `peer` have an answer of `bytes` (already admitted)? Takes what it costs beyond the first token when it may. */
  admitBytes(peer: string, bytes: number): boolean
}

/** Tokens an answer of `bytes` costs beyond the one `admit` took. */
export function extraTokens (bytes: number): number {
  return Math.floor(bytes / META_ANSWER_TOKEN_BYTES)
}

export function createMetaLimit (init: MetaLimitInit = {}): MetaLimit {
  const rate = init.rate ?? META_ANSWERS_PER_SECOND
  const burst = init.burst ?? META_ANSWER_BURST
  const maxPeers = init.maxPeers ?? META_LIMIT_PEERS
  // Insertion order is recency order: a peer is re-inserted on every request.
  const buckets = new Map<string, Admission>()

  function bucket (peer: string): Admission {
    let b = buckets.get(peer)
    if (b != null) buckets.delete(peer)
    else b = createAdmission(rate, burst)
    buckets.set(peer, b)
    if (buckets.size > maxPeers) buckets.delete(buckets.keys().next().value as string)
    return b
  }

  return {
    admit: peer => bucket(peer).tryTake(1),
    admitBytes (peer, bytes) {
      const extra = extraTokens(bytes)
      return extra === 0 || bucket(peer).tryTake(extra)
    }
  }
}
