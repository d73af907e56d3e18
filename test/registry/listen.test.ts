/**
 * `--registry :PORT` binds loopback (issue #9): the mirror serves whatever
 * the swarm holds, so reaching it from other machines must be asked for by
 * naming the host (0.0.0.0:PORT).
 */
import { connect } from 'node:net'
import { networkInterfaces } from 'node:os'
import { describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/daemon/config.js'
import { createRegistryMirror, DEFAULT_REGISTRY_HOST, parseListen } from '../../src/registry/index.js'
import { createFakeNode } from './fake-node.js'

/** An IPv4 address of this machine that is not loopback, if it has one. */
function otherAddress (): string | undefined {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address
  }
  return undefined
}

async function reachable (host: string, port: number): Promise<boolean> {
  return await new Promise(resolve => {
    const s = connect({ host, port })
    s.setTimeout(2000, () => { s.destroy(); resolve(false) })
    s.once('connect', () => { s.destroy(); resolve(true) })
    s.once('error', () => { resolve(false) })
  })
}

describe('registry listen address', () => {
  it('a bare :PORT is loopback; a host given is kept', () => {
    expect(DEFAULT_REGISTRY_HOST).toBe('127.0.0.1')
    expect(parseListen(':5050')).toEqual({ host: '127.0.0.1', port: 5050 })
    expect(parseListen('0.0.0.0:5050')).toEqual({ host: '0.0.0.0', port: 5050 })
    expect(parseListen('[::]:5050')).toEqual({ host: '::', port: 5050 })
    expect(parseListen('[::1]:0')).toEqual({ host: '::1', port: 0 })
    expect(parseListen('mirror.local:80')).toEqual({ host: 'mirror.local', port: 80 })
    expect(() => parseListen('5050')).toThrow(expect.objectContaining({ name: 'ConfigError' }))
    expect(() => parseListen(':70000')).toThrow(expect.objectContaining({ name: 'ConfigError' }))
  })

  it('the daemon config takes :PORT from a flag, the environment or YAML and makes it loopback', async () => {
    const fromFlag = await loadConfig({ env: {}, flags: { registry: { listen: ':5050' } } })
    expect(fromFlag.registry.listen).toBe('127.0.0.1:5050')
    const fromEnv = await loadConfig({ env: { STARLING_REGISTRY: ':5051' } })
    expect(fromEnv.registry.listen).toBe('127.0.0.1:5051')
    const everywhere = await loadConfig({ env: {}, flags: { registry: { listen: '0.0.0.0:5050' } } })
    expect(everywhere.registry.listen).toBe('0.0.0.0:5050')
    await expect(loadConfig({ env: {}, flags: { registry: { listen: ':99999' } } })).rejects.toThrow(/registry\.listen/)
    await expect(loadConfig({ env: {}, flags: { registry: { listen: 'nope' } } })).rejects.toThrow(/registry\.listen/)
  })

  it('a mirror started on :0 listens on 127.0.0.1 only', async () => {
    const mirror = createRegistryMirror({ node: createFakeNode() }, { listen: ':0', upstreams: {} })
    await mirror.start()
    try {
      const url = new URL(mirror.url)
      expect(url.hostname).toBe('127.0.0.1')
      const port = Number(url.port)
      expect(await reachable('127.0.0.1', port)).toBe(true)
      const ping = await fetch(`${mirror.url}/v2/`)
      expect(ping.status).toBe(200)
      const other = otherAddress()
      // On a machine with another interface, that interface must not reach the mirror.
      if (other != null) expect(await reachable(other, port)).toBe(false)
    } finally {
      await mirror.stop()
    }
  })
})
