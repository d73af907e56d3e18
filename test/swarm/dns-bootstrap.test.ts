/**
 * `--bootstrap-dns NAME:PORT`: a node joins through every address a DNS name
 * resolves to, with no peer id known up front (a Kubernetes headless
 * Service; docs/kubernetes.md). The parsing and self-filtering with a given
 * resolver, then real daemons that find each other through `localhost`,
 * resolved by the system resolver, and move a blob.
 */
import { randomBytes } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseDnsBootstrap, resolveDnsBootstrap } from '../../src/swarm/index.js'
import { removeDir, runCli, startDaemonProcess, tempDir, waitReady, type DaemonProcess } from '../cli/helpers.js'

describe('parseDnsBootstrap', () => {
  it('takes NAME:PORT', () => {
    expect(parseDnsBootstrap('starling-peers.starling.svc.cluster.local:7480')).toEqual({ name: 'starling-peers.starling.svc.cluster.local', port: 7480 })
    expect(parseDnsBootstrap('localhost:1')).toEqual({ name: 'localhost', port: 1 })
  })

  it.each(['peers', 'peers:', ':7480', 'peers:0', 'peers:70000', '10.0.0.1:7480', 'bad_name:7480', 'a..b:7480'])('refuses %s with a ConfigError naming the form', s => {
    expect(() => parseDnsBootstrap(s)).toThrow(expect.objectContaining({ name: 'ConfigError', message: expect.stringContaining('NAME:PORT') }))
  })
})

describe('resolveDnsBootstrap', () => {
  const records: Record<string, string[]> = {
    peers: ['10.0.0.1', '10.0.0.2', 'fd00::3', '10.0.0.2'],
    other: ['10.0.0.9']
  }
  const lookup = async (name: string): Promise<string[]> => {
    const r = records[name]
    if (r == null) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${name}`), { code: 'ENOTFOUND' })
    return r
  }

  it('gives one address per record on the port, without this node and without duplicates', async () => {
    const self = ['/ip4/10.0.0.1/tcp/7480/p2p/12D3KooWself', '/ip4/127.0.0.1/tcp/7480/p2p/12D3KooWself']
    const got = await resolveDnsBootstrap([{ name: 'peers', port: 7480 }], self, { lookup })
    expect(got.sort()).toEqual(['/ip4/10.0.0.2/tcp/7480', '/ip6/fd00::3/tcp/7480'])
  })

  it('keeps this node\'s address on another port (another node on the same host)', async () => {
    const got = await resolveDnsBootstrap([{ name: 'other', port: 7490 }], ['/ip4/10.0.0.9/tcp/7480'], { lookup })
    expect(got).toEqual(['/ip4/10.0.0.9/tcp/7490'])
  })

  it('a name that does not resolve yet gives nothing and is reported, the others still count', async () => {
    const failed: string[] = []
    const got = await resolveDnsBootstrap([{ name: 'missing', port: 1 }, { name: 'other', port: 2 }], [], {
      lookup, onError: name => { failed.push(name) }
    })
    expect(got).toEqual(['/ip4/10.0.0.9/tcp/2'])
    expect(failed).toEqual(['missing'])
  })
})

/** A port nobody listens on now (the kernel's pick for port 0, released). */
async function freePort (): Promise<number> {
  const srv = createServer()
  await new Promise<void>(resolve => srv.listen(0, '127.0.0.1', resolve))
  const port = (srv.address() as { port: number }).port
  await new Promise(resolve => srv.close(resolve))
  return port
}

describe('daemons that join through a DNS name', () => {
  let dir: string
  const daemons: DaemonProcess[] = []

  beforeAll(async () => { dir = await tempDir('starling-dns-') })
  afterAll(async () => {
    await Promise.all(daemons.map(async d => await d.stop()))
    await removeDir(dir)
  })

  it('find each other through localhost:PORT and fetch a blob by digest from a peer', async () => {
    // Every node listens on one port in a DaemonSet; on loopback only the first can have it.
    const port = await freePort()
    const dns = `localhost:${port}`
    // The first node resolves the name to itself alone: it starts and is ready, as the first pod of a DaemonSet must.
    const t0 = Date.now()
    const a = await startDaemonProcess(join(dir, 'a'), ['--listen', `/ip4/127.0.0.1/tcp/${port}`, '--bootstrap-dns', dns], 60_000)
    daemons.push(a)
    await waitReady(a.api)
    expect(a.logs.find(l => /dial.*self/i.test(JSON.stringify(l)))).toBeUndefined()

    const [b, c] = await Promise.all([
      startDaemonProcess(join(dir, 'b'), ['--bootstrap-dns', dns], 60_000),
      startDaemonProcess(join(dir, 'c'), ['--bootstrap-dns', dns], 60_000)
    ])
    daemons.push(b, c)
    console.log(`three daemons ready after ${Date.now() - t0} ms`)

    const peersOf = async (d: DaemonProcess): Promise<string[]> => {
      const r = await runCli(['--api', d.api, '--json', 'peers'])
      expect(r.code, r.stderr).toBe(0)
      return (JSON.parse(r.stdout) as Array<{ id: string }>).map(p => p.id)
    }
    // start-up waited for the bootstrap dials: b and c are connected to a when they are ready
    expect(await peersOf(b)).toContain(a.peerId)
    expect(await peersOf(c)).toContain(a.peerId)
    expect(await peersOf(a)).toEqual(expect.arrayContaining([b.peerId, c.peerId]))

    // c holds a blob; b gets it by digest alone, with no origin: the swarm met through the name works.
    const file = join(dir, 'blob.bin')
    await writeFile(file, randomBytes(3 * 1024 * 1024 + 17))
    const added = await runCli(['--api', c.api, '--json', 'add', file])
    expect(added.code, added.stderr).toBe(0)
    const { digest } = JSON.parse(added.stdout) as { digest: string }
    const got = await runCli(['--api', b.api, 'get', digest, '-o', join(dir, 'got.bin')], { timeoutMs: 60_000 })
    expect(got.code, got.stderr).toBe(0)
  }, 180_000)

  it('a malformed name stops start-up with exit 2 and the expected form', async () => {
    const r = await runCli(['daemon', '--data-dir', join(dir, 'bad'), '--api', '127.0.0.1:0', '--listen', '/ip4/127.0.0.1/tcp/0', '--bootstrap-dns', 'no-port'])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('NAME:PORT')
  })
})
