import { describe, expect, it } from 'vitest'
import { MAX_LIAR_PATIENCE_MS } from '../../src/fetch/constants.js'
import { claimFreshFor, heard } from '../../src/fetch/peer-rounds.js'

describe('peer rounds', () => {
  it('a long gap raises the round at once, and later messages decay it back', () => {
    const p = { lastSeen: 0, roundMs: undefined as number | undefined }
    heard(p, 1000) // the first message: no gap yet
    expect(p.roundMs).toBeUndefined()
    heard(p, 4000)
    expect(p.roundMs).toBe(3000)
    heard(p, 24_000) // starved for 20 s
    expect(p.roundMs).toBe(20_000)
    for (let t = 24_500; t <= 24_500 + 40 * 500; t += 500) heard(p, t)
    expect(p.roundMs!).toBeLessThan(1000)
    // a message heard out of order (a meta answer older than the last gossip) moves nothing back
    const last = p.lastSeen
    heard(p, last - 100)
    expect(p.lastSeen).toBe(last)
  })

  it('claim freshness: ours, or three of the claimer\'s rounds, never past the liar bound', () => {
    expect(claimFreshFor(undefined, 13_000)).toBe(13_000)
    expect(claimFreshFor(2000, 13_000)).toBe(13_000)
    expect(claimFreshFor(10_000, 13_000)).toBe(30_000)
    expect(claimFreshFor(1e9, 13_000)).toBe(MAX_LIAR_PATIENCE_MS)
  })
})
