import { describe, expect, it } from 'vitest'
import { RELAUNCHED_ENV, relaunchPlan } from '../../src/daemon/relaunch.js'
import { earlyMemoryLimit } from '../../src/cli/relaunch-early.js'

const MiB = 1024 * 1024
const settings = { maxOldSpaceMiB: 64, maxSemiSpaceMiB: 1, mallocArenas: 2, mmapThreshold: 32768 }

describe('relaunchPlan', () => {
  it('starts a child with the heap flags in NODE_OPTIONS and the malloc arenas', () => {
    expect(relaunchPlan(settings, { env: {}, execArgv: [] })).toEqual({
      nodeOptions: ['--max-old-space-size=64', '--max-semi-space-size=1'],
      env: { MALLOC_ARENA_MAX: '2', MALLOC_MMAP_THRESHOLD_: '32768', [RELAUNCHED_ENV]: '1' }
    })
  })
  it('runs here when this is the child, or when the operator chose the heap', () => {
    expect(relaunchPlan(settings, { env: { [RELAUNCHED_ENV]: '1' }, execArgv: [] })).toBeUndefined()
    expect(relaunchPlan(settings, { env: {}, execArgv: ['--max-old-space-size=200'] })).toBeUndefined()
    expect(relaunchPlan(settings, { env: { NODE_OPTIONS: '--enable-source-maps --max_old_space_size=300' }, execArgv: [] })).toBeUndefined()
    expect(relaunchPlan(settings, { env: { NODE_OPTIONS: '--enable-source-maps' }, execArgv: [] })).toBeDefined()
  })
})

describe('earlyMemoryLimit', () => {
  const argv = (...a: string[]): string[] => ['node', 'starling.js', ...a]
  it('reads the flag of the daemon command, then the environment', () => {
    expect(earlyMemoryLimit(argv('daemon', '--memory-limit', '128MiB'), {})).toBe(128 * MiB)
    expect(earlyMemoryLimit(argv('--api', '127.0.0.1:0', 'daemon', '--memory-limit=256M'), {})).toBe(256 * MiB)
    expect(earlyMemoryLimit(argv('daemon'), { STARLING_MEMORY_LIMIT: '1GiB' })).toBe(1024 * MiB)
    expect(earlyMemoryLimit(argv('daemon', '--memory-limit', '128MiB'), { STARLING_MEMORY_LIMIT: '1GiB' })).toBe(128 * MiB)
  })
  it('leaves other commands, bad values and a config-file limit to the CLI', () => {
    expect(earlyMemoryLimit(argv('get', '--memory-limit', '128MiB'), {})).toBeUndefined()
    expect(earlyMemoryLimit(argv('daemon', '--memory-limit', 'lots'), {})).toBeUndefined()
    expect(earlyMemoryLimit(argv('daemon', '--memory-limit', '32MiB'), {})).toBeUndefined()
    expect(earlyMemoryLimit(argv('daemon', '--config', 'x.yaml'), {})).toBeUndefined()
  })
})
