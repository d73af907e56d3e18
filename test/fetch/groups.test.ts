import { describe, expect, it } from 'vitest'
import { commonDepth, entryDepth, inGroup, nearest, ORIGIN, segments } from '../../src/fetch/groups.js'
import { Rendezvous } from '../../src/fetch/rendezvous.js'

const flat = { originPerLocation: false }
const perLocation = { originPerLocation: true }

describe('location groups', () => {
  it('splits labels into segments; no label is the root', () => {
    expect(segments('eu/a/3')).toEqual(['eu', 'a', '3'])
    expect(segments('')).toEqual([])
    expect(segments(undefined)).toEqual([])
    expect(segments('/eu//a/')).toEqual(['eu', 'a'])
    expect(commonDepth(segments('eu/a/3'), segments('eu/b/3'))).toBe(1)
  })

  it('a piece enters the largest group holding us but not the source', () => {
    const me = segments('eu/a/3')
    expect(entryDepth(me, segments('us/a/3'), flat)).toBe(1) // into region eu
    expect(entryDepth(me, segments('eu/b/1'), flat)).toBe(2) // into zone eu/a
    expect(entryDepth(me, segments('eu/a/1'), flat)).toBe(3) // into rack eu/a/3
    expect(entryDepth(me, segments('eu/a/3'), flat)).toBeUndefined() // same rack: nothing crossed
    expect(entryDepth(me, segments('eu/a/3/shelf-2'), flat)).toBeUndefined() // inside our rack
    expect(entryDepth(me, segments(''), flat)).toBe(1) // an unlabelled peer is outside every group of ours
    expect(entryDepth([], segments('eu/a'), flat)).toBeUndefined() // an unlabelled node has only the root
  })

  it('the origin is outside everything by default; with originPerLocation each location shares it inside', () => {
    expect(entryDepth(segments('eu/a/3'), ORIGIN, flat)).toBe(0)
    expect(entryDepth(segments('eu/a/3'), ORIGIN, perLocation)).toBe(3)
    expect(entryDepth([], ORIGIN, perLocation)).toBe(0)
  })

  it('membership: by prefix on whole segments; an unknown location counts as inside', () => {
    expect(inGroup('eu/a/3', ['eu'])).toBe(true)
    expect(inGroup('eu/a/3', ['eu', 'a'])).toBe(true)
    expect(inGroup('eu-west/a', ['eu'])).toBe(false) // no partial segment
    expect(inGroup('eu', ['eu', 'a'])).toBe(false) // the region is not inside one of its zones
    expect(inGroup('', ['eu'])).toBe(false)
    expect(inGroup(undefined, ['eu', 'a'])).toBe(true)
    expect(inGroup('us/x', [])).toBe(true)
  })

  it('picks the longest common prefix, then RTT, then load; skips holders it cannot use', () => {
    const me = segments('eu/a/3')
    const p = (key: string, location: string | undefined, inflight = 0): { key: string, location?: string, inflight: number } => ({ key, location, inflight })
    const holders = [p('us', 'us/a/3'), p('zoneFar', 'eu/b/1'), p('rackSlow', 'eu/a/9'), p('rackFast', 'eu/a/8', 3), p('bad', 'eu/a/3')]
    const rtt: Record<string, number> = { us: 1, zoneFar: 2, rackSlow: 80, rackFast: 5, bad: 0 }
    const r = nearest(holders, me, h => h.key !== 'bad', k => rtt[k])
    expect(r.peer?.key).toBe('rackFast')
    expect(r.depth).toBe(2)
    // the same RTT: the one with fewer requests in flight
    expect(nearest([p('x', 'eu/a/1', 4), p('y', 'eu/a/2', 1)], me, () => true, () => 10).peer?.key).toBe('y')
    // an unmeasured RTT ranks behind a measured near one, never ahead of a nearer group
    expect(nearest([p('far', 'us/x', 0), p('near', 'eu/a/1', 0)], me, () => true, k => k === 'far' ? 0.1 : undefined).peer?.key).toBe('near')
    expect(nearest([], me, () => true, () => 1)).toEqual({ peer: undefined, depth: -1 })
  })

  it('3 locations × 200 peers: each piece has exactly one first-ranked peer per group, the same in every member\'s view', () => {
    const rv = new Rendezvous('ab'.repeat(32))
    const labels = ['eu/a', 'eu/b', 'us/a']
    const peers = Array.from({ length: 600 }, (_, i) => ({ key: `peer-${i}`, location: labels[i % 3] }))
    for (const group of [['eu'], ['eu', 'a'], ['us', 'a'], []]) {
      const members = peers.filter(q => inGroup(q.location, group)).map(q => q.key)
      for (let piece = 0; piece < 64; piece++) {
        const firsts = members.filter(k => rv.position(k, members, piece) === 0)
        expect(firsts).toHaveLength(1)
      }
    }
    // every piece's owner for the origin (root group) is spread over every location
    const all = peers.map(q => q.key)
    const owners = new Set(Array.from({ length: 256 }, (_, piece) => peers.find(q => rv.position(q.key, all, piece) === 0)!.location))
    expect(owners.size).toBe(3)
  })
})
