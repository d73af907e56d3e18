/**
 * Multi-datacenter swarms (issue #10) on a network-namespace testbed
 * (test/fixtures/netns.ts): 3 locations × 2 node processes, each location
 * joined to the core by one link capped with tc tbf, the origin in the core.
 * Each piece leaves the origin about once and enters each location about
 * once, measured on the links themselves and compared with the nodes' own
 * bytes-by-source; a location cut off a third of the way through heals.
 * Skipped, with the reason, where not root or network namespaces are missing.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { testbedUnavailable, type Testbed } from '../fixtures/netns.js'
import { fetchEverywhere, startDcBed, type DcBed, type DcRun, type DcSwarm } from '../fixtures/multidc.js'
import { writeRandomFile } from '../fixtures/random-file.js'

const MiB = 1024 * 1024
/**
 * The shape: 3 locations × 3 nodes, 32 MiB. Every node process of
 * the testbed shares this machine's 2 cores, and the swarm's CPU, not the
 * links, sets the time: the whole file took 53 s on a quiet machine (fetch
 * 20 s, partition run 17 s), and 140 s with the machine at load 10–20, when
 * each node's event loop stalled 2–8 s at the start (docs/decisions.md, "The
 * netns testbed is CPU-bound").
 */
const BLOB = 32 * MiB
const LOCATIONS = 3
const PER_LOCATION = 3
/** Each link's cap, each way: the shape of a WAN link, and slow enough that a crossing shows. */
const RATE_MBIT = 200
/** Bounds from the issue: the origin once (plus a tenth for first-wave views), each link once (plus headers, gossip, the ACKs of what leaves). */
const MAX_ORIGIN = 1.1
const MAX_LINK_IN = 1.25
const MAX_ORIGIN_PARTITIONED = 1.3
/**
 * A node's fetch ends after this with what was measured so far (origin and
 * link figures, pieces per node), so a broken rule fails on its figures, not
 * on the test's timeout (120 s): a fetch took 20 s on a quiet machine,
 * 53 s at load 9–22 (3 × 2 nodes, 16 MiB).
 */
const FETCH_TIMEOUT_MS = 90_000
/** The partition: cut a third of the way through, for a few seconds. */
const CUT_AT = 1 / 3
const CUT_MS = 4000
/** Wire bytes are payload plus TCP/IP and Ethernet headers (~5 %), noise and yamux framing, gossip, DHT and ACKs of outgoing data. */
const WIRE_OVERHEAD = 1.15
const WIRE_SLACK_BYTES = 2 * MiB

const unavailable = testbedUnavailable()
if (unavailable != null) console.warn(`test/netns/multidc: skipped — ${unavailable}`)

function report (label: string, r: DcRun): void {
  console.log(`${label}: ${(r.ms / 1000).toFixed(1)} s, origin ${(r.origin / BLOB).toFixed(3)}× blob, into each location (wire / nodes' metrics): ` +
    r.links.map(l => `${l.location}: ${(l.wireIn / BLOB).toFixed(3)} / ${(l.metricsIn / BLOB).toFixed(3)}`).join(', '))
}

describe.skipIf(unavailable != null)('multi-datacenter swarm on network namespaces', () => {
  let dir: string
  let bed: DcBed | undefined
  let tb: Testbed
  let swarm: DcSwarm
  const blobs: Array<{ path: string, digest: string }> = []

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'starling-multidc-'))
    for (const name of ['a', 'b']) {
      const path = join(dir, `blob-${name}`)
      blobs.push({ path, digest: await writeRandomFile(path, BLOB) })
    }
    // one origin process serves both blobs: the second test's run is told apart by the byte counter's difference
    bed = await startDcBed({ locations: LOCATIONS, rateMbit: RATE_MBIT }, { dir, files: { '/a': blobs[0].path, '/b': blobs[1].path }, perLocation: PER_LOCATION, label: k => `dc${k}` })
    ;({ tb, swarm } = bed)
  }, 120_000)

  afterAll(async () => {
    await bed?.close()
    if (dir != null) await rm(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 })
  }, 60_000)

  it('every node verifies; the origin sends the blob about once, each location receives it about once over its link', async () => {
    const r = await fetchEverywhere(tb, swarm, blobs[0].digest, '/a', undefined, FETCH_TIMEOUT_MS)
    report(`3×${PER_LOCATION}, ${BLOB / MiB} MiB, ${RATE_MBIT} Mbit/s links`, r)
    expect(r.errors).toEqual([])
    expect(r.origin / BLOB).toBeLessThanOrEqual(MAX_ORIGIN)
    for (const l of r.links) {
      expect(l.wireIn / BLOB).toBeLessThanOrEqual(MAX_LINK_IN)
      // the link carried what the nodes counted, and not much more
      expect(l.metricsIn).toBeLessThanOrEqual(l.wireIn)
      expect(l.wireIn).toBeLessThanOrEqual(l.metricsIn * WIRE_OVERHEAD + WIRE_SLACK_BYTES)
    }
  }, 120_000)

  it('a location cut off a third of the way through, healed after a few seconds: every node completes, the origin stays near once', async () => {
    const cut = tb.locations[1].index
    let cutDone = false
    const r = await fetchEverywhere(tb, swarm, blobs[1].digest, '/b', async () => {
      // a third of the way: a third of every node's pieces, counted from their piece events
      const pieces = BLOB / MiB // 1 MiB pieces (content/pieces.ts: at least 1 MiB)
      const seen = (): number => swarm.nodes.reduce((a, n) => a + n.node.events.filter(e => e.event === 'piece' && e.t >= started).length, 0)
      const started = Date.now()
      while (seen() < CUT_AT * pieces * swarm.nodes.length && Date.now() - started < 60_000) await new Promise(resolve => setTimeout(resolve, 20))
      tb.setLink(cut, false)
      await new Promise(resolve => setTimeout(resolve, CUT_MS))
      tb.setLink(cut, true)
      cutDone = true
    }, FETCH_TIMEOUT_MS)
    report(`3×${PER_LOCATION}, location ${cut} cut ${CUT_MS / 1000} s at a third`, r)
    expect(cutDone).toBe(true)
    expect(r.errors).toEqual([])
    expect(r.origin / BLOB).toBeLessThanOrEqual(MAX_ORIGIN_PARTITIONED)
  }, 180_000)
})
