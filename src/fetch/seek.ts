/**
 * A fetch with no usable origin can only learn the blob's size from a peer.
 * Seek waits for the swarm to answer before the download gives up: it asks
 * every connected peer (also those that connect while it waits — right
 * after start the bootstrap connections may be seconds old), runs the DHT
 * lookup again when new peers connected after the last one began, and
 * gives up only once all of that has answered, or at the download's
 * discovery timeout. Its NoSourceError says what was tried.
 */
import type { PeerId } from '@libp2p/interface'
import { NoSourceError } from '../errors.js'
import type { Clock } from './clock.js'
import { MAX_DIRECT_PROBES } from './constants.js'
import type { SwarmView } from './view.js'

/** Never give up before this: a peer's first meta answer takes a few hundred ms on a loaded machine (the engine's old floor, MAX_GATHER_MS / 2). */
export const SEEK_MIN_MS = 1500
/** With no peer connected at all, wait this long for one: the swarm redials its bootstrap list every 5 s. */
export const SEEK_ALONE_MS = 5000
/** DHT lookups per seek, the download's own first one included. */
export const SEEK_MAX_LOOKUPS = 3
/** How often the waiting loop looks at the swarm again. */
const SEEK_POLL_MS = 100

export interface SeekParts {
  digest: string
  swarm: {
    connectedPeers(): PeerId[]
    findProviders(digest: string, options?: { signal?: AbortSignal }): AsyncIterable<PeerId>
  }
  view: SwarmView
  clock: Clock
  /** The download's signal: seeking ends with it. */
  signal: AbortSignal
  wake(): void
  /** An origin was added meanwhile: stop waiting for a peer. */
  hasOrigin(): boolean
  /** The download's own first DHT lookup has ended. */
  firstLookupDone(): boolean
  /** Has a usable size been offered (a peer's offer, or the authenticated piece map when a CID was given)? */
  sizeKnown(): boolean
}

export class Seek {
  readonly #p: SeekParts
  readonly #asked = new Set<string>()
  #startedAt = -1
  #lookups = 1
  #lookupRunning = false
  /** Connected peers when the last lookup began: a lookup from before a peer connected could not reach through it. */
  #seenAtLookup = new Set<string>()

  #poked?: () => void

  constructor (parts: SeekParts) {
    this.#p = parts
  }

  /** News from a peer (a meta answer): a waiting seek looks again now. */
  poke (): void {
    this.#poked?.()
  }

  /**
   * Resolves when a peer offered a size, an origin was added, the swarm
   * has answered (see the module comment), or at `deadline` (clock time).
   */
  async waitForSize (deadline: number): Promise<void> {
    const { clock, signal } = this.#p
    this.#startedAt = clock.now()
    this.#seenAtLookup = new Set(this.#connectedKeys())
    while (!this.#p.sizeKnown() && !this.#p.hasOrigin() && clock.now() < deadline) {
      const connected = this.#askConnected()
      this.#lookAgain(connected)
      if (this.#answered(connected)) return
      // a meta answer (poke) ends the wait at once: the size usually comes
      // with the first one, and every poll period waited was added to the
      // time to first byte (bench/p2p: ~100 ms of 290)
      await Promise.race([clock.sleep(SEEK_POLL_MS, signal), new Promise<void>(resolve => { this.#poked = resolve })])
      this.#poked = undefined
    }
  }

  /** The error for a blob nobody offered: `what` first, then what was tried. */
  noSource (what: string): NoSourceError {
    const connected = this.#connectedKeys().length
    // the size came from a partial record held here: there was no wait for a peer to report
    if (this.#startedAt < 0) return new NoSourceError(`${what}: ${connected} peer(s) connected now, ${this.#lookups} DHT lookup(s)`)
    const waited = this.#p.clock.now() - this.#startedAt
    return new NoSourceError(`${what}: asked ${this.#asked.size} peer(s) (${connected} connected now), ` +
      `${this.#lookups} DHT lookup(s), waited ${(waited / 1000).toFixed(1)} s`)
  }

  #connectedKeys (): string[] {
    return this.#p.swarm.connectedPeers().map(id => id.toString())
  }

  /** Queues a meta exchange with each connected peer not asked yet; returns the connected peers' keys. */
  #askConnected (): string[] {
    const { view, clock } = this.#p
    const now = clock.now()
    const keys: string[] = []
    for (const id of this.#p.swarm.connectedPeers()) {
      const key = id.toString()
      keys.push(key)
      if (this.#asked.has(key) || this.#asked.size >= MAX_DIRECT_PROBES) continue
      this.#asked.add(key)
      view.wantProbe(view.ensure(id, now))
      this.#p.wake()
    }
    return keys
  }

  /** A new lookup once the last one ended, if peers connected since it began. */
  #lookAgain (connected: string[]): void {
    if (this.#lookupRunning || !this.#p.firstLookupDone() || this.#lookups >= SEEK_MAX_LOOKUPS) return
    if (connected.every(k => this.#seenAtLookup.has(k))) return
    this.#seenAtLookup = new Set(connected)
    this.#lookups++
    this.#lookupRunning = true
    void this.#lookup().catch(() => {}).finally(() => { this.#lookupRunning = false })
  }

  async #lookup (): Promise<void> {
    const { view, clock, signal, digest } = this.#p
    for await (const id of this.#p.swarm.findProviders(digest, { signal })) {
      view.wantProbe(view.ensure(id, clock.now()))
      this.#p.wake()
    }
  }

  /** Has the swarm said all it will say? Every lookup ended and every peer asked that is still connected answered (or failed). */
  #answered (connected: string[]): boolean {
    const { view, clock } = this.#p
    const waited = clock.now() - this.#startedAt
    if (waited < SEEK_MIN_MS || this.#lookupRunning || !this.#p.firstLookupDone() || view.metaInflight > 0) return false
    if (connected.length === 0) return waited >= SEEK_ALONE_MS
    if (connected.some(k => !this.#seenAtLookup.has(k)) && this.#lookups < SEEK_MAX_LOOKUPS) return false
    const still = new Set(connected)
    for (const key of this.#asked) {
      // a peer that left (or was banned and cut off) will not answer: do not wait for it
      if (!still.has(key)) continue
      const p = view.get(key)
      if (p != null && (p.metaPending || p.metaAt === 0)) return false
    }
    return true
  }
}
