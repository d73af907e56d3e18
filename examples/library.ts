/**
 * Embedding starling as a library: two nodes in one process, one adds a
 * file, the other fetches it through the swarm by digest alone.
 *
 *   npm run build && node dist/examples/library.js
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { createNode } from '@starling-swarm/starling'

const dir = await mkdtemp(join(tmpdir(), 'starling-example-'))
const seeder = await createNode({ dataDir: join(dir, 'a'), listen: ['/ip4/127.0.0.1/tcp/0'], location: 'dc1' })
await seeder.start()
const leecher = await createNode({
  dataDir: join(dir, 'b'),
  listen: ['/ip4/127.0.0.1/tcp/0'],
  bootstrap: seeder.addresses(),
  location: 'dc1'
})
await leecher.start()

try {
  const { digest, size } = await seeder.add(randomBytes(8 * 1024 * 1024))
  console.log(`seeder added ${digest} (${size} bytes)`)

  const controller = new AbortController()
  const fetch = leecher.fetch(digest, {
    signal: controller.signal,
    onProgress: (e) => {
      if (e.type === 'starling:fetch:piece') process.stdout.write(`piece ${e.detail.index} from ${e.detail.source}\n`)
    }
  })
  let streamed = 0
  for await (const chunk of fetch) streamed += chunk.byteLength // verified bytes, in order, while it runs
  const result = await fetch
  console.log(`leecher streamed ${streamed} bytes; by source: ${JSON.stringify(result.bytesBySource)}`)
} finally {
  await leecher.stop()
  await seeder.stop()
  await rm(dir, { recursive: true, force: true })
}
