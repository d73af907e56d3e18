/**
 * Daemon configuration from every source: YAML text, STARLING_* variables,
 * flags. Whatever arrives, the daemon gets a config or a ConfigError naming
 * the key — never a TypeError from a value of the wrong shape.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { configFromEnv, loadConfig, parseUpstreams, splitHostPort } from '../../src/daemon/config.js'
import { MAX_DURATION_MS, parseDuration, parseSize } from '../../src/daemon/size.js'
import { onlyTyped, onlyTypedAsync, params } from './fuzz.js'

const KEYS = ['dataDir', 'listen', 'bootstrap', 'api', 'metrics', 'location', 'cacheSize', 'uploadRate', 'downloadRate', 'originRate',
  'logLevel', 'gcInterval', 'bootstrapTimeout', 'allowConnectionsFrom', 'registry', 'swarmKey', 'pskFile', 'allowPeers']
const leaf = fc.oneof(fc.string({ maxLength: 30 }), fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.constantFrom('1GiB', '10m', '127.0.0.1:0', ':5050', '/ip4/0.0.0.0/tcp/1', 'debug', '-1', 'NaN', '1e400'))
const value = fc.letrec(tie => ({
  v: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, fc.array(tie('v'), { maxLength: 3 }), fc.dictionary(fc.constantFrom('listen', 'upstreams', 'credentials', 'accessCheck', 'username', 'password', 'docker.io', 'x'), tie('v'), { maxKeys: 3 }))
})).v
const raw = fc.dictionary(fc.oneof(fc.constantFrom(...KEYS), fc.string({ maxLength: 10 })), value, { maxKeys: 4 })

describe('daemon config', () => {
  let dir: string
  beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'starling-fuzz-config-')) })
  afterAll(async () => { await rm(dir, { recursive: true, force: true }) })

  it('flags of any shape: a config or ConfigError', async () => {
    await fc.assert(fc.asyncProperty(raw, async flags => {
      const c = await onlyTypedAsync(async () => await loadConfig({ env: {}, flags }), ['ConfigError'])
      if (c != null) expect(typeof c.dataDir).toBe('string')
    }), params(300))
  })

  it('YAML text of any shape: a config or ConfigError', async () => {
    const file = join(dir, 'c.yaml')
    // No `!`: an unknown YAML tag only makes the yaml package print a warning (and the text is still judged).
    const text = fc.oneof(fc.string({ maxLength: 200 }), fc.string({ unit: fc.constantFrom(...'registry:\n  listen- {}[]"\'&*|>#1'.split('')), maxLength: 120 }))
      .map(t => t.replace(/!/g, '?'))
    await fc.assert(fc.asyncProperty(text, async t => {
      await writeFile(file, t)
      await onlyTypedAsync(async () => await loadConfig({ file, env: {} }), ['ConfigError'])
    }), params(300))
  })

  it('STARLING_* variables of any content: a config or ConfigError', async () => {
    const env = fc.dictionary(fc.constantFrom('STARLING_CACHE_SIZE', 'STARLING_LISTEN', 'STARLING_REGISTRY', 'STARLING_REGISTRY_UPSTREAM', 'STARLING_GC_INTERVAL', 'STARLING_API', 'STARLING_LOG_LEVEL', 'STARLING_BOOTSTRAP'),
      fc.string({ unit: fc.constantFrom(...'=,:/. 0123456789abcGiBms'.split('')), maxLength: 40 }), { maxKeys: 4 })
    await fc.assert(fc.asyncProperty(env, async e => {
      onlyTyped(() => configFromEnv(e), ['ConfigError'])
      await onlyTypedAsync(async () => await loadConfig({ env: e }), ['ConfigError'])
    }), params(300))
  })

  it('sizes, durations, upstream pairs, host:port: a value or ConfigError', () => {
    const s = fc.oneof(fc.string({ maxLength: 30 }), fc.string({ unit: fc.constantFrom(...'0123456789.eE+-kKMGTiBbmshd '.split('')), maxLength: 20 }))
    fc.assert(fc.property(s, fc.oneof(fc.integer(), fc.double()), (text, n) => {
      for (const input of [text, n]) {
        const size = onlyTyped(() => parseSize(input), ['ConfigError'])
        if (size != null) expect(Number.isSafeInteger(size) && size >= 0).toBe(true)
        const ms = onlyTyped(() => parseDuration(input), ['ConfigError'])
        if (ms != null) expect(Number.isFinite(ms) && ms >= 0 && ms <= MAX_DURATION_MS).toBe(true)
      }
      onlyTyped(() => parseUpstreams([text]), ['ConfigError'])
      onlyTyped(() => splitHostPort(text), ['ConfigError'])
    }), params())
  })

  // Regressions found with FUZZ_SEED 0x5eed: a number too large for a size
  // was taken as one, and a duration past Node's longest timer made the GC
  // timer fire every millisecond.
  it('regression: sizes past 2^53 and durations past the longest timer are ConfigErrors', async () => {
    expect(() => parseSize(3.213488695880567e+82)).toThrow(expect.objectContaining({ name: 'ConfigError' }))
    expect(() => parseDuration(1e9)).toThrow(expect.objectContaining({ name: 'ConfigError' }))
    expect(() => parseDuration('600h')).toThrow(expect.objectContaining({ name: 'ConfigError' }))
    expect(parseDuration('24h')).toBe(86_400_000)
    await expect(loadConfig({ env: {}, flags: { gcInterval: '99999999999s' } })).rejects.toThrow(/gcInterval.*longest timer/)
    await expect(loadConfig({ env: {}, flags: { cacheSize: 1e300 } })).rejects.toThrow(/cacheSize/)
  })
})
