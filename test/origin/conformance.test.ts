import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { createFileOrigin, createHttpOrigin, originFromUrl } from '../../src/origin/index.js'
import { startOriginServer } from '../fixtures/origin-server.js'
import { runOriginConformance } from './conformance.js'

runOriginConformance('http (bytes in memory)', async (data) => {
  const server = await startOriginServer({ files: { '/blob': data } })
  return { origin: createHttpOrigin({ url: `${server.url}/blob`, backoffMs: 10 }), close: server.close }
})

async function onDisk (data: Uint8Array): Promise<{ dir: string, file: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'starling-origin-'))
  const file = join(dir, 'blob')
  await writeFile(file, data)
  return { dir, file }
}

runOriginConformance('http (file on disk)', async (data) => {
  const { dir, file } = await onDisk(data)
  const server = await startOriginServer({ files: { '/blob': file } })
  return {
    origin: createHttpOrigin({ url: `${server.url}/blob`, backoffMs: 10 }),
    close: async () => { await server.close(); await rm(dir, { recursive: true, force: true }) }
  }
})

runOriginConformance('file', async (data) => {
  const { dir, file } = await onDisk(data)
  return { origin: createFileOrigin(file), close: async () => { await rm(dir, { recursive: true, force: true }) } }
})

runOriginConformance('file:// URL via originFromUrl', async (data) => {
  const { dir, file } = await onDisk(data)
  return { origin: originFromUrl(pathToFileURL(file)), close: async () => { await rm(dir, { recursive: true, force: true }) } }
})
