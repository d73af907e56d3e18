import { describe, expect, it } from 'vitest'
import { Rendezvous } from '../../src/fetch/rendezvous.js'

describe('rendezvous hashing', () => {
  const peers = Array.from({ length: 8 }, (_, i) => `12D3KooWpeer${i}`)

  it('every node computes the same owner for each piece', () => {
    const a = new Rendezvous('ab'.repeat(32))
    const b = new Rendezvous('ab'.repeat(32))
    for (let i = 0; i < 64; i++) {
      expect(a.rank(peers, i)).toEqual(b.rank([...peers].reverse(), i))
      const owner = a.rank(peers, i)[0]
      expect(a.position(owner, peers, i)).toBe(0)
    }
  })

  it('spreads pieces over the peers and moves few when a peer leaves', () => {
    const r = new Rendezvous('cd'.repeat(32))
    const owners = new Map<string, number>()
    const before: string[] = []
    for (let i = 0; i < 800; i++) {
      const o = r.rank(peers, i)[0]
      before.push(o)
      owners.set(o, (owners.get(o) ?? 0) + 1)
    }
    for (const p of peers) expect(owners.get(p) ?? 0).toBeGreaterThan(50) // 100 expected each
    const fewer = peers.slice(1)
    let moved = 0
    for (let i = 0; i < 800; i++) if (r.rank(fewer, i)[0] !== before[i] && before[i] !== peers[0]) moved++
    expect(moved).toBe(0) // only the leaver's pieces change hands
  })
})
