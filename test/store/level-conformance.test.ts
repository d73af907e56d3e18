import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createStore } from '../../src/store/index.js'
import { runStoreConformance } from './conformance.js'

const factory = (memory?: { readChunk: number }) => async (init: Parameters<Parameters<typeof runStoreConformance>[1]>[0]) => {
  const dir = await mkdtemp(join(tmpdir(), 'starling-store-'))
  const store = createStore({ dir, ...init, memory })
  await store.start()
  return { store, cleanup: async () => { await store.stop(); await rm(dir, { recursive: true, force: true }) } }
}

runStoreConformance('level', factory())
// reads of many chunks (and one reused buffer across them, with reuseBuffer): 1000-byte chunks against 1024-byte pieces
runStoreConformance('level, 1000-byte read chunks', factory({ readChunk: 1000 }))
