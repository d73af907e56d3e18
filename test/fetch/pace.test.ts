import { describe, expect, it } from 'vitest'
import { LIAR_PATIENCE_ORIGIN_PIECES, MAX_LIAR_PATIENCE_MS, SCHEDULE_TICK_MS } from '../../src/fetch/constants.js'
import { Pace } from '../../src/fetch/pace.js'

describe('pace: what a liar may cost, against how slow the origin is', () => {
  const opts = { heartbeatMs: 3000, stallMs: 4000 }

  it('with no origin request of ours running and none finished, the fixed minute bounds stale claims and BUSY streaks', () => {
    const pace = new Pace(0, opts)
    for (let t = SCHEDULE_TICK_MS; t <= 10 * SCHEDULE_TICK_MS; t += SCHEDULE_TICK_MS) pace.tick(t)
    expect(pace.liarPatienceMs()).toBe(MAX_LIAR_PATIENCE_MS)
    expect(pace.claimStaleMs(1000)).toBeLessThanOrEqual(MAX_LIAR_PATIENCE_MS)
  })

  it('an origin request of ours running for 90 s stretches the bound to two such pieces: an owner whose piece is as slow is not a liar', () => {
    const pace = new Pace(0, opts)
    let t = 0
    for (; t <= 90_000; t += SCHEDULE_TICK_MS) pace.tick(t, 0)
    expect(pace.originPieceEstimate()).toBeGreaterThanOrEqual(90_000)
    expect(pace.liarPatienceMs()).toBeGreaterThanOrEqual(LIAR_PATIENCE_ORIGIN_PIECES * 90_000)
    // claims of an owner silent for 90 s are still believed at the stale bound of that pace
    expect(pace.claimStaleMs(50)).toBeGreaterThan(2 * MAX_LIAR_PATIENCE_MS)
    // once the request ended and nothing runs, the finished pieces' pace is all that is left
    pace.tick(t + SCHEDULE_TICK_MS)
    expect(pace.originPieceEstimate()).toBe(0)
    expect(pace.liarPatienceMs()).toBe(MAX_LIAR_PATIENCE_MS)
  })

  it('finished origin pieces set the pace too', () => {
    const pace = new Pace(0, opts)
    pace.noteOriginPiece(45_000)
    expect(pace.liarPatienceMs()).toBe(90_000)
  })
})
