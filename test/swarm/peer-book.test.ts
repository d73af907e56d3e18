import { describe, expect, it } from 'vitest'
import { createPeerBook, STRIKE_HISTORY, type Strike } from '../../src/swarm/index.js'

describe('PeerBook strikes', () => {
  it('keeps the last strike reasons, bounded, and hands them to onBan', async () => {
    let t = 1_000
    const bans: Array<{ peer: string, until: number, strikes: Strike[] }> = []
    const book = createPeerBook({ strikesToBan: 3, banMs: 60_000, now: () => t, onBan: (peer, until, strikes) => bans.push({ peer, until, strikes }) })
    expect(book.strike('p', 'piece 1 failed verification')).toBe(false)
    t += 10
    expect(book.strike('p', 'piece 2 failed verification')).toBe(false)
    expect(book.get('p')?.lastStrikes.map(s => s.reason)).toEqual(['piece 1 failed verification', 'piece 2 failed verification'])
    t += 10
    expect(book.strike('p', 'vouched for a wrong digest')).toBe(true)
    expect(book.isBanned('p')).toBe(true)
    expect(bans).toEqual([{
      peer: 'p',
      until: 1_020 + 60_000,
      strikes: [
        { at: 1_000, reason: 'piece 1 failed verification' },
        { at: 1_010, reason: 'piece 2 failed verification' },
        { at: 1_020, reason: 'vouched for a wrong digest' }
      ]
    }])
    // the count restarts after a ban, the reasons stay (bounded)
    expect(book.get('p')?.strikes).toBe(0)
    for (let i = 0; i < 4; i++) book.strike('p', `later ${i}`)
    const rec = book.get('p')!
    expect(rec.lastStrikes).toHaveLength(STRIKE_HISTORY)
    expect(rec.lastStrikes.map(s => s.reason)).toEqual(['piece 2 failed verification', 'vouched for a wrong digest', 'later 0', 'later 1', 'later 2', 'later 3'].slice(-STRIKE_HISTORY))
    // the second ban names only the strikes that led to it
    expect(bans[1].strikes.map(s => s.reason)).toEqual(['later 0', 'later 1', 'later 2'])
  })

  it('a proven lie bans at once, its reason kept; banning a banned peer changes nothing', () => {
    const t = 1_000
    const bans: string[] = []
    const book = createPeerBook({ strikesToBan: 3, banMs: 60_000, now: () => t, onBan: (peer) => bans.push(peer) })
    book.ban('liar', 'vouched for a wrong digest of piece 3')
    expect(book.isBanned('liar')).toBe(true)
    expect(book.get('liar')?.lastStrikes.map(s => s.reason)).toEqual(['vouched for a wrong digest of piece 3'])
    book.ban('liar', 'again')
    expect(bans).toEqual(['liar'])
    expect(book.isBanned('honest')).toBe(false)
  })
})
