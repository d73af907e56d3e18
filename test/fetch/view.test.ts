import { describe, expect, it } from 'vitest'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { SwarmView } from '../../src/fetch/view.js'
import { createPeerBook } from '../../src/swarm/index.js'
import { BUSY_STREAK_MAX_MS } from '../../src/fetch/constants.js'

const BUSY = Object.assign(new Error('busy'), { name: 'BusyError' })
const PIECES = 8

async function peerId (): Promise<ReturnType<typeof peerIdFromPrivateKey>> {
  return peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
}

/** A view in which `busy` and `good` both hold every piece, with an origin usable. */
async function setup (): Promise<{ view: SwarmView, busy: any, good: any }> {
  const view = new SwarmView('self', createPeerBook(), () => {})
  view.sizeKnown(PIECES * 1024, 1024, PIECES)
  view.originUsable = true
  const all = { location: '', size: BigInt(PIECES * 1024), pieceSize: 1024, have: new Uint8Array([0xff]), complete: true, hasOrigin: false, pieces: [], fetching: [], running: 0, leaving: false }
  const busy = view.ensure(await peerId(), 0)
  const good = view.ensure(await peerId(), 0)
  view.onGossip(busy.id, all, [], 0)
  view.onGossip(good.id, all, [], 0)
  return { view, busy, good }
}

describe('SwarmView: a BUSY streak', () => {
  it('does not demote a holder while another peer keeps serving us (a loaded honest seeder)', async () => {
    const { view, busy, good } = await setup()
    for (let t = 0; t <= 3 * BUSY_STREAK_MAX_MS; t += 500) {
      view.peerFailed(busy, 0, BUSY, t)
      view.peerServed(good, t)
    }
    expect(busy.demoted).not.toBe(true)
    expect(view.availability[0]).toBe(2)
  })

  it('demotes a holder that only says BUSY once nobody has served us for the streak bound (a stalling liar)', async () => {
    const { view, busy } = await setup()
    let demotedAt = -1
    for (let t = 0; t <= 3 * BUSY_STREAK_MAX_MS && demotedAt < 0; t += 500) {
      view.peerFailed(busy, 0, BUSY, t)
      if (busy.demoted === true) demotedAt = t
    }
    expect(demotedAt).toBeGreaterThan(BUSY_STREAK_MAX_MS)
    expect(demotedAt).toBeLessThanOrEqual(BUSY_STREAK_MAX_MS + 500)
    expect(view.availability[0]).toBe(1)
  })
})

describe('SwarmView: swarm progress keeps BUSY holders', () => {
  it('does not demote while other peers\' have-sets grow, and does once they stop', async () => {
    const { view, busy } = await setup()
    const grower = view.ensure(await peerId(), 0)
    const state = (bits: number): any => ({ location: '', size: BigInt(PIECES * 1024), pieceSize: 1024, have: new Uint8Array([bits]), complete: false, hasOrigin: false, pieces: [], fetching: [], running: 0, leaving: false })
    const growth = [0x80, 0xc0, 0xe0, 0xf0, 0xf8, 0xfc, 0xfe]
    let t = 0
    view.onGossip(grower.id, state(0x00), [], 0)
    for (const bits of growth) {
      for (let k = 0; k < 8; k++, t += 500) view.peerFailed(busy, 0, BUSY, t)
      view.onGossip(grower.id, state(bits), [], t)
    }
    expect(t).toBeGreaterThan(2 * BUSY_STREAK_MAX_MS)
    expect(busy.demoted).not.toBe(true)
    // dropping and re-adding a piece is not progress
    view.onGossip(grower.id, state(0xfc), [], t)
    for (; t < 30 * BUSY_STREAK_MAX_MS && busy.demoted !== true; t += 500) {
      view.onGossip(grower.id, state(t % 1000 === 0 ? 0xfe : 0xfc), [], t)
      view.peerFailed(busy, 0, BUSY, t)
    }
    expect(busy.demoted).toBe(true)
  })
})

describe('SwarmView: holders counted by location depth', () => {
  const msg = (location: string, have: number): any => ({ location, size: BigInt(PIECES * 1024), pieceSize: 1024, have: new Uint8Array([have]), complete: false, hasOrigin: true, pieces: [], fetching: [], running: 0, leaving: false })

  it('nearestDepth follows have-sets, locations that change, and bans', async () => {
    const book = createPeerBook()
    const view = new SwarmView('self', book, () => {}, 'eu/zone-a/rack-1')
    view.sizeKnown(PIECES * 1024, 1024, PIECES)
    const far = await peerId()
    const zone = await peerId()
    view.onGossip(far, msg('us/zone-x', 0b1100_0000), [], 0) // pieces 0, 1 in another region
    view.onGossip(zone, msg('eu/zone-a/rack-2', 0b0100_0000), [], 0) // piece 1 in our zone
    expect([0, 1, 2].map(i => view.nearestDepth(i))).toEqual([0, 2, -1])
    expect(view.localAvailability[1]).toBe(0)
    // the zone peer moves into our rack, and its have-set grows: counted at the new depth
    view.onGossip(zone, msg('eu/zone-a/rack-1', 0b0110_0000), [], 1)
    expect([0, 1, 2].map(i => view.nearestDepth(i))).toEqual([0, 3, 3])
    expect(Array.from(view.localAvailability.subarray(0, 3))).toEqual([0, 1, 1])
    // a banned peer's pieces no longer count anywhere
    book.ban(zone.toString(), 'test')
    view.onGossip(zone, msg('eu/zone-a/rack-1', 0b0110_0000), [], 2)
    expect([0, 1, 2].map(i => view.nearestDepth(i))).toEqual([0, 0, -1])
  })
})
