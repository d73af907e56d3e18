import { createMemoryStore } from '../../src/store/index.js'
import { runStoreConformance } from './conformance.js'

runStoreConformance('memory', async init => {
  const store = createMemoryStore(init)
  await store.start()
  return { store, cleanup: async () => { await store.stop() } }
})
