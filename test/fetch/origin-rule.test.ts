import { describe, expect, it } from 'vitest'
import { ALONE_FIRST_PIECES, META_TIMEOUT_MS } from '../../src/fetch/constants.js'
import { OriginRule } from '../../src/fetch/origin-rule.js'
import { Rendezvous } from '../../src/fetch/rendezvous.js'
import type { RemotePeer } from '../../src/fetch/types.js'

function peer (key: string, extra: Partial<RemotePeer> = {}): RemotePeer {
  return { id: {} as any, key, hasOrigin: true, complete: false, claimed: new Map(), fetching: new Map(), lastProgress: 0, lastSeen: 0, interest: 'wants', inflight: 0, busyUntil: 0, failures: 0, metaAt: 0, metaPending: false, ...extra }
}

const rv = new Rendezvous('ab'.repeat(32))
const times = { heartbeatMs: 3000, claimFreshMs: 13_000 }
const PIECES = 256

describe('OriginRule', () => {
  it('with the same view on 50 nodes, every piece has exactly one owner', () => {
    const keys = Array.from({ length: 50 }, (_, k) => `node-${k}`)
    const owners = new Array(PIECES).fill(0)
    for (const self of keys) {
      const rule = new OriginRule(self, rv, () => true)
      rule.setCandidates(keys.filter(k => k !== self).map(k => peer(k)), 0)
      for (let i = 0; i < PIECES; i++) if (rule.mayFetch(i, 1000, times, PIECES)) owners[i]++
    }
    expect(owners.every(c => c === 1)).toBe(true)
  })

  it('a node that sees one peer too few fetches few extra pieces, not the blob', () => {
    const keys = Array.from({ length: 20 }, (_, k) => `node-${k}`)
    const owners = new Array(PIECES).fill(0)
    for (const [n, self] of keys.entries()) {
      const rule = new OriginRule(self, rv, () => true)
      // each node misses one other (the next one) in its view
      const missing = keys[(n + 1) % keys.length]
      rule.setCandidates(keys.filter(k => k !== self && k !== missing).map(k => peer(k)), 0)
      for (let i = 0; i < PIECES; i++) if (rule.mayFetch(i, 1000, times, PIECES)) owners[i]++
    }
    const total = owners.reduce((a, b) => a + b, 0)
    expect(owners.every(c => c >= 1)).toBe(true)
    expect(total / PIECES).toBeLessThan(1.1)
  })

  it('defers to a fresh claim from a higher-ranked peer outside its candidates, never to a lower one', () => {
    const rule = new OriginRule('me', rv, () => true)
    rule.setCandidates([peer('other')], 0)
    const i = [...Array(200).keys()].find(j => rv.position('me', ['other'], j) === 0)!
    const above = [...Array(500).keys()].map(k => `x${k}`).find(k => rv.score(k, i) > rv.score('me', i))!
    const below = [...Array(500).keys()].map(k => `x${k}`).find(k => rv.score(k, i) < rv.score('me', i))!
    expect(rule.mayFetch(i, 10_000, times, PIECES, new Map([[above, 9_000]]))).toBe(false)
    expect(rule.mayFetch(i, 10_000, times, PIECES, new Map([[above, 10_000 - times.claimFreshMs]]))).toBe(true)
    expect(rule.mayFetch(i + 0, 10_000, times, PIECES, new Map([[below, 9_000]]))).toBe(true)
  })

  it('an owner yields to a running origin request of a lower-ranked peer (a claim it would ignore), until that claim is old', () => {
    const rule = new OriginRule('me', rv, () => true)
    rule.setCandidates([peer('other')], 0)
    const i = [...Array(200).keys()].find(j => rv.position('me', ['other'], j) === 0)!
    const below = [...Array(500).keys()].map(k => `x${k}`).find(k => rv.score(k, i) < rv.score('me', i))!
    const claimed = new Map([[below, 9_000]])
    // a lower-ranked claim alone does not stop the owner…
    expect(rule.mayFetch(i, 10_000, times, PIECES, claimed)).toBe(true)
    // …its request already running does
    const other = new OriginRule('me', rv, () => true)
    other.setCandidates([peer('other')], 0)
    expect(other.mayFetch(i, 10_000, times, PIECES, claimed, claimed)).toBe(false)
    // a running claim not heard again within the claim time stops nothing (a liar's, or one that ended unheard)
    expect(other.mayFetch(i, 9_000 + times.claimFreshMs, times, PIECES, claimed, claimed)).toBe(true)
  })

  it('an owner of a piece whose holders left its view asks the likely holders first, and fetches only once they answered without it', () => {
    const heard = new Map<string, number>()
    const replied = (k: string, since: number): boolean => (heard.get(k) ?? -Infinity) >= since
    const rule = new OriginRule('me', rv, replied, () => undefined, { likelyHolders: () => ['seeder1', 'seeder2'] })
    rule.setCandidates([peer('other')], 0)
    const i = [...Array(200).keys()].find(j => rv.position('me', ['other'], j) === 0)!
    // a piece never seen held: the owner goes at once, asking nobody
    const fresh = new OriginRule('me', rv, replied, () => undefined, { likelyHolders: () => ['seeder1', 'seeder2'] })
    fresh.setCandidates([peer('other')], 0)
    expect(fresh.mayFetch(i, 10_000, times, PIECES)).toBe(true)
    expect(fresh.takeAsks()).toEqual([])
    // its holders left: ask first
    expect(rule.mayFetch(i, 10_000, times, PIECES, undefined, undefined, { lostHolders: true })).toBe(false)
    expect(rule.takeAsks()).toEqual(['seeder1', 'seeder2'])
    // no answer yet: still waiting, well past the confirmation time
    expect(rule.mayFetch(i, 10_000 + 2 * times.heartbeatMs, times, PIECES, undefined, undefined, { lostHolders: true })).toBe(false)
    // one answered, one did not: waiting
    heard.set('seeder1', 11_000)
    expect(rule.mayFetch(i, 12_000, times, PIECES, undefined, undefined, { lostHolders: true })).toBe(false)
    // both answered and the piece is still unheld (else the scheduler would not ask): the owner fetches
    heard.set('seeder2', 12_500)
    expect(rule.mayFetch(i, 13_000, times, PIECES, undefined, undefined, { lostHolders: true })).toBe(true)
    expect(rule.lastGrant).toMatchObject({ how: 'owner', pos: 0, lostHolders: true, asked: ['seeder1', 'seeder2'] })
    // silence is waited out to the meta timeout, not forever
    const silent = new OriginRule('me', rv, () => false, () => undefined, { likelyHolders: () => ['gone'] })
    silent.setCandidates([peer('other')], 0)
    expect(silent.mayFetch(i, 0, times, PIECES, undefined, undefined, { lostHolders: true })).toBe(false)
    expect(silent.mayFetch(i, META_TIMEOUT_MS, times, PIECES, undefined, undefined, { lostHolders: true })).toBe(false)
    expect(silent.mayFetch(i, META_TIMEOUT_MS + times.heartbeatMs + 1, times, PIECES, undefined, undefined, { lostHolders: true })).toBe(true)
  })

  it('a late, starved owner asks the peers ranked below it first, and yields to one already running the piece', () => {
    const keys = ['a', 'b', 'c', 'd', 'me']
    const heard = new Map<string, number>()
    const replied = (k: string, since: number): boolean => (heard.get(k) ?? -Infinity) >= since
    const rule = new OriginRule('me', rv, replied)
    rule.setCandidates(keys.filter(k => k !== 'me').map(k => peer(k)), 0)
    const mine = [...Array(PIECES).keys()].filter(i => rule.position(i) === 0).slice(0, 2)
    const [i, j] = mine
    const successors = (p: number): string[] => rv.rank(keys, p).slice(1, 4)
    expect(rule.mayFetch(i, 50_000, times, PIECES, undefined, undefined, { askSuccessors: true })).toBe(false)
    expect(rule.mayFetch(j, 50_000, times, PIECES, undefined, undefined, { askSuccessors: true })).toBe(false)
    expect(new Set(rule.takeAsks())).toEqual(new Set([...successors(i), ...successors(j)]))
    for (const k of keys) heard.set(k, 51_000)
    // the answers showed a successor running piece i: the owner yields; piece j nobody runs: the owner fetches it
    const running = new Map([[successors(i)[0], 51_000]])
    expect(rule.mayFetch(i, 52_000, times, PIECES, undefined, running, { askSuccessors: true })).toBe(false)
    expect(rule.mayFetch(j, 52_000, times, PIECES, undefined, undefined, { askSuccessors: true })).toBe(true)
    expect(rule.lastGrant).toMatchObject({ how: 'owner', askedSuccessors: true, asked: successors(j) })
  })

  it('takes over at most a fair share per interval', () => {
    const keys = ['a', 'b', 'c', 'me']
    const rule = new OriginRule('me', rv, () => true)
    rule.setCandidates(keys.filter(k => k !== 'me').map(k => peer(k)), 0)
    const notMine = [...Array(PIECES).keys()].filter(i => rule.position(i) > 0)
    const t0 = 0
    for (const i of notMine) rule.mayFetch(i, t0, times, 40) // start waiting
    // the first time the delay has passed, it asks the peers above instead of acting
    for (const i of notMine) expect(rule.mayFetch(i, t0 + 60_000, times, 40)).toBe(false)
    expect(rule.takeAsks().length).toBeGreaterThanOrEqual(notMine.length)
    expect(rule.takeAsks()).toEqual([])
    let taken = 0
    for (const i of notMine) if (rule.mayFetch(i, t0 + 60_000 + times.heartbeatMs, times, 40)) taken++
    expect(taken).toBe(Math.ceil(40 / 4))
  })

  it('a takeover waits for the asked peers to answer or fail, and for silence only up to the meta timeout', () => {
    const replied = new Set<string>()
    const rule = new OriginRule('me', rv, (key) => replied.has(key))
    rule.setCandidates([peer('owner')], 0)
    const i = [...Array(200).keys()].find(j => rule.position(j) === 1)!
    const t0 = 60_000
    expect(rule.mayFetch(i, 0, times, 1)).toBe(false) // starts waiting
    expect(rule.mayFetch(i, t0, times, 1)).toBe(false) // delay passed: asks instead
    expect(rule.takeAsks()).toEqual(['owner'])
    // the owner is silent (a loaded machine): no takeover after the confirm wait
    expect(rule.mayFetch(i, t0 + times.heartbeatMs, times, 1)).toBe(false)
    expect(rule.mayFetch(i, t0 + META_TIMEOUT_MS, times, 1)).toBe(false)
    // silence is waited out only up to the meta request's own timeout (a liar that never answers)
    expect(rule.mayFetch(i, t0 + META_TIMEOUT_MS + times.heartbeatMs, times, 1)).toBe(true)
    // with an answer (its claims, if any, are then in the view), the decision comes after the confirm wait
    const again = new OriginRule('me', rv, (key) => replied.has(key))
    again.setCandidates([peer('owner')], 0)
    again.mayFetch(i, 0, times, 1)
    expect(again.mayFetch(i, t0, times, 1)).toBe(false)
    replied.add('owner')
    expect(again.mayFetch(i, t0 + times.heartbeatMs, times, 1)).toBe(true)
  })

  it('alone: a few pieces, then only after looking again, with a doubling budget', () => {
    const rule = new OriginRule('me', rv, () => true)
    rule.setCandidates([], 0)
    let got = 0
    for (let i = 0; i < PIECES; i++) if (rule.mayFetch(i, 0, times, PIECES)) got++
    expect(got).toBe(ALONE_FIRST_PIECES)
    expect(rule.lookAgain(0, false, false)).toBe(true) // first look: ask the peers
    expect(rule.lookAgain(100, false, false)).toBe(false) // too soon
    expect(rule.lookAgain(1000, true, false)).toBe(false) // answers still pending
    expect(rule.lookAgain(1000, false, false)).toBe(true) // still alone: budget doubles
    got = 0
    for (let i = 0; i < PIECES; i++) if (rule.mayFetch(i, 1000, times, PIECES)) got++
    expect(got).toBe(ALONE_FIRST_PIECES)
    rule.setCandidates([peer('found')], 0)
    expect(rule.lookAgain(2000, false, false)).toBe(false)
  })

  it('alone with nobody to ask: no budget at all', () => {
    const rule = new OriginRule('me', rv, () => true)
    rule.setCandidates([], 0)
    expect(rule.lookAgain(0, false, true)).toBe(false)
    let got = 0
    for (let i = 0; i < PIECES; i++) if (rule.mayFetch(i, 0, times, PIECES)) got++
    expect(got).toBe(PIECES)
  })
})

describe('OriginRule: an incomplete view and the owner\'s rounds', () => {
  it('a node that sees one candidate while that candidate knows 49 owns about its share of the real swarm, not half the blob', () => {
    const rule = new OriginRule('me', rv, () => true, () => undefined, { viewHints: true })
    rule.setCandidates([peer('hub', { interestedHint: 49 })], 0)
    expect(rule.unseen).toBe(48)
    let granted = 0
    for (let i = 0; i < PIECES; i++) if (rule.mayFetch(i, 1000, times, PIECES)) granted++
    // two known candidates: about 128 of 256 pieces; fifty real ones: about 5
    expect(granted).toBeGreaterThan(0)
    expect(granted).toBeLessThan(PIECES / 16)
    // what it owns is what it claims
    expect([...Array(PIECES).keys()].filter(i => rule.owns(i)).length).toBe(granted)
  })

  it('the pieces it yields to unseen peers are taken over like any other once they waited', () => {
    const rule = new OriginRule('me', rv, () => true, () => undefined, { viewHints: true })
    rule.setCandidates([peer('hub', { interestedHint: 49 })], 0)
    const yielded = [...Array(PIECES).keys()].filter(i => rv.position('me', ['hub'], i) === 0 && !rule.owns(i))
    expect(yielded.length).toBeGreaterThan(PIECES / 4)
    const i = yielded[0]
    expect(rule.mayFetch(i, 0, times, PIECES)).toBe(false) // starts waiting
    expect(rule.mayFetch(i, 3 * times.heartbeatMs, times, PIECES)).toBe(false) // delay over: asks the peers above (none known)
    expect(rule.mayFetch(i, 4 * times.heartbeatMs, times, PIECES)).toBe(true)
    expect(rule.lastGrant?.how).toBe('takeover-answered')
  })

  it('the same node without the hint (or with a hint near its own view) owns its rendezvous share', () => {
    for (const hint of [undefined, 2]) {
      const rule = new OriginRule('me', rv, () => true, () => undefined, { viewHints: true })
      rule.setCandidates([peer('hub', { interestedHint: hint })], 0)
      expect(rule.unseen).toBe(0)
      let granted = 0
      for (let i = 0; i < PIECES; i++) if (rule.mayFetch(i, 1000, times, PIECES)) granted++
      expect(granted).toBeGreaterThan(PIECES / 4)
    }
  })

  it('a crossing rule ignores view hints (they count origin candidates, not a location group)', () => {
    const rule = new OriginRule('me', rv, () => true)
    rule.setCandidates([peer('hub', { interestedHint: 49 })], 0)
    expect(rule.unseen).toBe(0)
  })

  it('a claim holds for three of the claimer\'s own rounds when those are longer than our claim time', () => {
    const rule = new OriginRule('me', rv, () => true, key => key === 'slow' ? 20_000 : undefined)
    rule.setCandidates([peer('other')], 0)
    const i = [...Array(200).keys()].find(j => rv.position('me', ['other'], j) === 0 && rv.score('slow', j) > rv.score('me', j) && rv.score('fast', j) > rv.score('me', j))!
    const heard = 100_000 - 30_000 // 30 s ago: past our 13 s claim time, within 3 × 20 s
    expect(rule.mayFetch(i, 100_000, times, PIECES, new Map([['slow', heard]]))).toBe(false)
    expect(rule.mayFetch(i, 100_000, times, PIECES, new Map([['fast', heard]]))).toBe(true)
    // …and the rounds' stretch stops at MAX_LIAR_PATIENCE_MS (60 s)
    expect(rule.mayFetch(i, 200_000, times, PIECES, new Map([['slow', 200_000 - 61_000]]))).toBe(true)
  })
})
