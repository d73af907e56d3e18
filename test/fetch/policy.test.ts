import { describe, expect, it } from 'vitest'
import { Bitfield } from '../../src/content/index.js'
import { choosePeer, fairShare, mayFetchForLocation, orderPieces, takeoverDelay } from '../../src/fetch/policy.js'
import { Rendezvous } from '../../src/fetch/rendezvous.js'
import type { RemotePeer } from '../../src/fetch/types.js'

function peer (key: string, extra: Partial<RemotePeer> = {}): RemotePeer {
  return { id: {} as any, key, hasOrigin: true, complete: false, claimed: new Map(), fetching: new Map(), lastProgress: 0, lastSeen: 0, interest: 'wants', inflight: 0, busyUntil: 0, failures: 0, metaAt: 0, metaPending: false, ...extra }
}

describe('orderPieces', () => {
  it('puts a reader\'s next pieces first, then the rarest, and skips held pieces', () => {
    const have = new Bitfield(8)
    have.set(0)
    const avail = Uint16Array.from([1, 5, 5, 1, 2, 9, 9, 9])
    const order = orderPieces(8, have, avail, [5], () => 0)
    expect(order.slice(0, 3)).toEqual([5, 6, 7])
    expect(order.slice(3, 5)).toEqual([3, 4])
    expect(order).not.toContain(0)
  })
})

describe('choosePeer', () => {
  it('prefers the same location, then RTT, then load; skips peers it cannot verify', () => {
    const far = peer('far', { location: 'b' })
    const nearSlow = peer('nearSlow', { location: 'a' })
    const nearFast = peer('nearFast', { location: 'a', inflight: 3 })
    const unverifiable = peer('x', { location: 'a' })
    const rtt: Record<string, number> = { far: 1, nearSlow: 80, nearFast: 5, x: 0 }
    const r = choosePeer([far, nearSlow, nearFast, unverifiable], p => p.key !== 'x', 'a', k => rtt[k])
    expect(r.peer?.key).toBe('nearFast')
    expect(r.sameLocation).toBe(true)
    expect(choosePeer([far], () => true, 'a', () => 1)).toEqual({ peer: far, sameLocation: false })
  })
})

describe('mayFetchForLocation', () => {
  const rv = new Rendezvous('ef'.repeat(32))
  const keys = ['p1', 'p2', 'p3', 'me']
  const times = { heartbeatMs: 3000, claimFreshMs: 13_000 }

  it('lets only the top-ranked peer go while the piece is fresh', () => {
    const now = 100_000
    for (let i = 0; i < 20; i++) {
      const owner = rv.rank(keys, i)[0]
      const cands = keys.filter(k => k !== 'me').map(k => peer(k, { lastSeen: now }))
      expect(mayFetchForLocation('me', i, cands, rv, now, times, now)).toBe(owner === 'me')
    }
  })

  it('takes over only after the staggered delay, and never from a fresh claim', () => {
    const now = 100_000
    const i = [...Array(50).keys()].find(j => rv.rank(keys, j)[1] === 'me')!
    const owner = rv.rank(keys, i)[0]
    const cands = keys.filter(k => k !== 'me').map(k => peer(k, { lastSeen: now }))
    const delay = takeoverDelay(1, rv.unit('me', i), times)
    expect(delay).toBeGreaterThanOrEqual(2 * times.heartbeatMs)
    expect(mayFetchForLocation('me', i, cands, rv, now, times, now - delay + 10)).toBe(false)
    expect(mayFetchForLocation('me', i, cands, rv, now, times, now - delay - 10)).toBe(true)
    const claiming = cands.map(p => p.key === owner ? peer(p.key, { fetching: new Map([[i, now - 100]]) }) : p)
    expect(mayFetchForLocation('me', i, claiming, rv, now, times, now - 60_000)).toBe(false)
    const stale = cands.map(p => p.key === owner ? peer(p.key, { fetching: new Map([[i, now - times.claimFreshMs - 1]]) }) : p)
    expect(mayFetchForLocation('me', i, stale, rv, now, times, now - 60_000)).toBe(true)
  })

  it('staggers by rank: the third in line waits one heartbeat longer than the second', () => {
    expect(takeoverDelay(2, 0, times) - takeoverDelay(1, 0, times)).toBe(times.heartbeatMs)
    expect(takeoverDelay(1, 0.99, times)).toBeLessThan(takeoverDelay(2, 0, times))
  })

  it('a fair share of takeovers per interval: missing ÷ (candidates + 1), at least one', () => {
    expect(fairShare(64, 15)).toBe(4)
    expect(fairShare(1, 49)).toBe(1)
    expect(fairShare(0, 3)).toBe(1)
  })
})
