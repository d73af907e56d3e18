import { describe, expect, it } from 'vitest'
import { Announcer } from '../../src/fetch/announce.js'
import { HEARTBEAT_UNCLAIMED_FACTOR, HELLO_REPEAT_MS } from '../../src/fetch/constants.js'
import type { BlobGossip } from '../../src/swarm/index.js'
import { SimClock } from '../sim/clock.js'

const HEARTBEAT_MS = 3000

/** An announcer on a topic that only counts what it publishes; `claims` is what our state claims. */
function announcer (claims: () => number[]): { clock: SimClock, sent: BlobGossip[], a: Announcer } {
  const clock = new SimClock()
  const sent: BlobGossip[] = []
  const topic = { publish: async (m: BlobGossip) => { sent.push(m) }, subscribers: () => [], leave: () => {} }
  const a = new Announcer({
    swarm: { join: () => topic },
    hex: '00',
    clock,
    onGossip: () => {},
    batchMs: () => 500,
    state: () => ({ location: '', size: 0n, pieceSize: 0, have: new Uint8Array(), complete: false, hasOrigin: true, pieces: [], fetching: claims(), running: 0, leaving: false })
  })
  clock.every(200, () => { a.heartbeat(HEARTBEAT_MS) })
  return { clock, sent, a }
}

describe('announcer heartbeats', () => {
  const afterHellos = HELLO_REPEAT_MS.length + 1
  const runFor = 10 * HEARTBEAT_UNCLAIMED_FACTOR * HEARTBEAT_MS

  it('a node that claims origin pieces sends its full state every heartbeat: its claims stay fresh', async () => {
    const { clock, sent } = announcer(() => [3, 7])
    await clock.run({ until: clock.now() + runFor })
    expect(sent.length - afterHellos).toBeGreaterThanOrEqual(Math.floor(runFor / HEARTBEAT_MS) - 1)
  })

  it('a node that claims nothing sends it HEARTBEAT_UNCLAIMED_FACTOR times less often, and at the normal pace again once it claims', async () => {
    let claims: number[] = []
    const { clock, sent } = announcer(() => claims)
    await clock.run({ until: clock.now() + runFor })
    const quiet = sent.length - afterHellos
    expect(quiet).toBeLessThanOrEqual(Math.ceil(runFor / (HEARTBEAT_UNCLAIMED_FACTOR * HEARTBEAT_MS)))
    expect(quiet).toBeGreaterThanOrEqual(Math.floor(runFor / (HEARTBEAT_UNCLAIMED_FACTOR * HEARTBEAT_MS)) - 1)
    claims = [1]
    const before = sent.length
    await clock.run({ until: clock.now() + runFor })
    // the first heartbeat after the change still waits out the long period; every one after comes at the normal pace
    expect(sent.length - before).toBeGreaterThanOrEqual(Math.floor(runFor / HEARTBEAT_MS) - HEARTBEAT_UNCLAIMED_FACTOR)
  })
})
