import { LevelStore, type StoreInit } from './level-store.js'
import { MemoryStore } from './memory-store.js'
import type { BlobStore } from './types.js'

export type { BlobInfo, BlobStore, GcResult, PieceReadOptions, StoreEvents, StoreUsage, WritePieceOptions } from './types.js'
export type { StoreInit, StoreMemory } from './level-store.js'

/**
 * The local content-addressed store: `level` index under `dir/index`, bytes
 * in `dir/partial/<hex>` (sparse, while downloading) and
 * `dir/blobs/sha256/<ab>/<hex>` (verified). Call start() before use.
 */
export function createStore (init: StoreInit): BlobStore {
  return new LevelStore(init)
}

/** An in-memory store with the same behaviour, for unit tests of other modules. */
export function createMemoryStore (init: { quota?: number, onEvicted?: (digest: string, size: number) => void } = {}): BlobStore {
  return new MemoryStore(init)
}
