/**
 * N mirrors for the tests: real starling nodes as separate processes (each
 * with its registry mirror) when the node is built, else in-process mirrors
 * over fake nodes that share one in-memory "swarm".
 */
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { createRegistryMirror, type RegistryMirrorInit } from '../../src/registry/index.js'
import { REGISTRY_NODE_MAIN, startMirrorNode, type MirrorNodeProcess } from '../fixtures/registry-nodes.js'
import { createFakeNode, type FakeSwarm } from './fake-node.js'

export interface TestMirror {
  url: string
  /** Digests the node holds (to show nothing was stored). */
  list(): Promise<string[]>
  stopMirror(): Promise<void>
  stop(): Promise<void>
}

export const REAL_NODES = existsSync(REGISTRY_NODE_MAIN) && existsSync(join(REGISTRY_NODE_MAIN, '..', '..', '..', 'src', 'transfer', 'index.js')) &&
  process.env.STARLING_FAKE_NODES !== '1'

export async function startMirrors (n: number, dir: string, mirror: Omit<RegistryMirrorInit, 'listen'>): Promise<TestMirror[]> {
  const out: TestMirror[] = []
  if (REAL_NODES) {
    const procs: MirrorNodeProcess[] = []
    for (let i = 0; i < n; i++) {
      const boot = procs[0]?.addresses.find(a => a.startsWith('/ip4/127.0.0.1/'))
      const p = await startMirrorNode({
        node: { dataDir: join(dir, `node${i}`), listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: boot == null ? [] : [boot] },
        mirror: { ...mirror, listen: '127.0.0.1:0' }
      })
      procs.push(p)
      out.push({
        url: p.mirrorUrl,
        list: async () => ((await p.call('list')).blobs as Array<{ digest: string }>).map(b => b.digest),
        stopMirror: async () => { await p.call('stopMirror') },
        stop: async () => { await p.kill() }
      })
    }
    return out
  }
  const swarm: FakeSwarm = new Map()
  for (let i = 0; i < n; i++) {
    const node = createFakeNode(swarm)
    const m = createRegistryMirror({ node }, { ...mirror, listen: '127.0.0.1:0' })
    await m.start()
    out.push({ url: m.url, list: async () => [...node.local.keys()], stopMirror: async () => { await m.stop() }, stop: async () => { await m.stop() } })
  }
  return out
}
