/**
 * Seek (src/fetch/seek.ts) on virtual time: a fetch with no origin waits
 * for the swarm — peers that connect late are asked, the DHT is looked up
 * again after they connect — and gives up at the documented times with a
 * NoSourceError that says what was tried. The download's meta exchange is
 * played by the test: it takes the probes Seek queues and answers them.
 */
import type { PeerId } from '@libp2p/interface'
import { generateKeyPairFromSeed } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { describe, expect, it } from 'vitest'
import { SEEK_ALONE_MS, SEEK_MIN_MS, Seek } from '../../src/fetch/seek.js'
import { SwarmView } from '../../src/fetch/view.js'
import { createPeerBook } from '../../src/swarm/peer-book.js'
import { SimClock } from '../sim/clock.js'

const DEADLINE_MS = 20_000
/** Seek polls every 100 ms: it notices a change within one poll. */
const POLL_MS = 100

async function peer (seed: number): Promise<PeerId> {
  return peerIdFromPrivateKey(await generateKeyPairFromSeed('Ed25519', new Uint8Array(32).fill(seed)))
}

interface Harness {
  clock: SimClock
  view: SwarmView
  seek: Seek
  connected: PeerId[]
  lookups: number
  /** Peers whose meta exchange was started, in order. */
  probed: string[]
}

/** `answer(key)`: what a probed peer does — offer a size, answer without one, or never answer. */
function harness (answer: (key: string) => 'size' | 'none' | 'silent'): Harness {
  const clock = new SimClock()
  const h: Partial<Harness> = { clock, connected: [], lookups: 0, probed: [] }
  const view = new SwarmView('self', createPeerBook(), () => {})
  const wake = (): void => {
    for (const p of view.takeProbes(clock.now())) {
      h.probed!.push(p.key)
      p.metaPending = true
      p.metaAt = clock.now()
      const what = answer(p.key)
      if (what === 'silent') continue
      clock.after(50, () => {
        p.metaPending = false
        if (what === 'size') view.sizeOffer = { size: 1024, pieceSize: 1024 * 1024 }
      })
    }
  }
  const swarm = {
    connectedPeers: () => h.connected!,
    async * findProviders (): AsyncIterable<PeerId> { h.lookups!++ }
  }
  const seek = new Seek({ digest: `sha256:${'ab'.repeat(32)}`, swarm, view, clock, signal: new AbortController().signal, wake, hasOrigin: () => false, firstLookupDone: () => true, sizeKnown: () => view.sizeOffer != null })
  return Object.assign(h, { view, seek }) as Harness
}

/** Runs virtual time until waitForSize resolves; returns how long it waited. */
async function waitFor (h: Harness): Promise<number> {
  const t0 = h.clock.now()
  let done = false
  const p = h.seek.waitForSize(t0 + DEADLINE_MS).finally(() => { done = true })
  await h.clock.run({ idle: () => done, until: t0 + DEADLINE_MS + 1000 })
  await p
  return h.clock.now() - t0
}

describe('Seek: a fetch with no origin waits for the swarm', () => {
  it('asks a peer that connects after the fetch began, and gets the size from it', async () => {
    const late = await peer(1)
    const h = harness(() => 'size')
    h.clock.after(2000, () => { h.connected.push(late) })
    const waited = await waitFor(h)
    expect(h.probed).toEqual([late.toString()])
    expect(h.view.sizeOffer).toBeDefined()
    // past the old 1.5 s give-up, and within two polls plus the answer of the peer connecting at 2 s
    expect(waited).toBeGreaterThanOrEqual(2000)
    expect(waited).toBeLessThan(2000 + 2 * POLL_MS + 50)
    // the download's own lookup ran before the peer connected and could not reach through it: Seek ran one more
    expect(h.lookups).toBe(1)
  })

  it('with peers that answered and hold nothing: gives up after SEEK_MIN_MS, saying what was tried', async () => {
    const [a, b] = [await peer(2), await peer(3)]
    const h = harness(() => 'none')
    h.connected.push(a, b)
    const waited = await waitFor(h)
    expect(h.probed.sort()).toEqual([a.toString(), b.toString()].sort())
    expect(waited).toBeGreaterThanOrEqual(SEEK_MIN_MS)
    expect(waited).toBeLessThan(SEEK_MIN_MS + 2 * POLL_MS)
    const err = h.seek.noSource('no peer holds it')
    expect(err.name).toBe('NoSourceError')
    expect(err.message).toBe('no peer holds it: asked 2 peer(s) (2 connected now), 1 DHT lookup(s), waited 1.5 s')
  })

  it('with nobody connected: waits SEEK_ALONE_MS for a peer, then gives up', async () => {
    const h = harness(() => 'size')
    const waited = await waitFor(h)
    expect(waited).toBeGreaterThanOrEqual(SEEK_ALONE_MS)
    expect(waited).toBeLessThan(SEEK_ALONE_MS + 2 * POLL_MS)
    expect(h.seek.noSource('x').message).toBe('x: asked 0 peer(s) (0 connected now), 1 DHT lookup(s), waited 5.0 s')
  })

  it('a peer that never answers holds the wait until the deadline, not longer', async () => {
    const h = harness(() => 'silent')
    h.connected.push(await peer(4))
    const waited = await waitFor(h)
    expect(waited).toBeGreaterThanOrEqual(DEADLINE_MS)
    expect(waited).toBeLessThan(DEADLINE_MS + 2 * POLL_MS)
  })

  it('a peer that left before answering is not waited for', async () => {
    const [gone, stays] = [await peer(5), await peer(6)]
    const h = harness(key => key === gone.toString() ? 'silent' : 'none')
    h.connected.push(gone, stays)
    h.clock.after(300, () => { h.connected.splice(0, 1) })
    const waited = await waitFor(h)
    expect(h.probed.sort()).toEqual([gone.toString(), stays.toString()].sort())
    // the one still connected answered: the floor applies, not the deadline
    expect(waited).toBeGreaterThanOrEqual(SEEK_MIN_MS)
    expect(waited).toBeLessThan(SEEK_MIN_MS + 2 * POLL_MS)
  })
})
