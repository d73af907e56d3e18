import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createStore } from '../../src/store/index.js'
import { runStoreConformance } from './conformance.js'

runStoreConformance('level', async init => {
  const dir = await mkdtemp(join(tmpdir(), 'starling-store-'))
  const store = createStore({ dir, ...init })
  await store.start()
  return { store, cleanup: async () => { await store.stop(); await rm(dir, { recursive: true, force: true }) } }
})
