/**
 * The group rule (src/fetch/groups.ts) on virtual time: real engines over
 * the simulated network, labelled by location. Fast enough for every run;
 * the same bounds as test/netns/multidc.test.ts (which measures real links).
 */
import { describe, expect, it } from 'vitest'
import { runSwarm } from './harness.js'

const MiB = 1024 * 1024

/** What entered each location: bytes from other locations plus what its nodes took from the origin, ÷ blob. */
function intoLocations (r: Awaited<ReturnType<typeof runSwarm>>): Record<string, number> {
  const out: Record<string, number> = { ...r.crossInto }
  const pieceShare = r.pieceSize / (r.pieces * r.pieceSize)
  for (const l of r.originLog) {
    const loc = r.nodeSpecs[l.node].location
    out[loc] = (out[loc] ?? 0) + (l.range == null ? 1 : (l.range.end - l.range.start) / r.pieceSize * pieceShare)
  }
  return out
}

describe('multi-location swarms (simulated)', () => {
  it('3 locations × 3 nodes: the origin once in total, each location once', async () => {
    const r = await runSwarm({ seed: 3, nodes: 9, blobSize: 32 * MiB, locations: ['dc1', 'dc2', 'dc3'], wallMs: 60_000 })
    expect(r.allVerified).toBe(true)
    expect(r.originRatio).toBeLessThanOrEqual(1.1)
    for (const v of Object.values(intoLocations(r))) expect(v).toBeLessThanOrEqual(1.25)
  }, 90_000)

  it('hierarchical labels (2 regions, 3 zones, 12 nodes): the origin once, each zone about once', async () => {
    const r = await runSwarm({ seed: 4, nodes: 12, blobSize: 32 * MiB, locations: ['eu/a', 'eu/b', 'us/a'], wallMs: 60_000 })
    expect(r.allVerified).toBe(true)
    expect(r.originRatio).toBeLessThanOrEqual(1.1)
    for (const v of Object.values(intoLocations(r))) expect(v).toBeLessThanOrEqual(1.25)
  }, 90_000)

  it('originPerLocation: each location pulls the origin itself and nothing crosses', async () => {
    const r = await runSwarm({ seed: 3, nodes: 9, blobSize: 32 * MiB, locations: ['dc1', 'dc2', 'dc3'], originPerLocation: true, wallMs: 60_000 })
    expect(r.allVerified).toBe(true)
    expect(r.originRatio).toBeGreaterThanOrEqual(2.9)
    expect(r.originRatio).toBeLessThanOrEqual(3.3)
    for (const v of Object.values(r.crossInto)) expect(v).toBeLessThanOrEqual(0.05)
  }, 90_000)
})
