import { describe, expect, it } from 'vitest'
import { formatBytes, parseDuration, parseSize } from '../../src/daemon/size.js'

describe('parseSize', () => {
  it('reads binary, decimal and shorthand units', () => {
    expect(parseSize('10GiB')).toBe(10 * 1024 ** 3)
    expect(parseSize('500MB')).toBe(500_000_000)
    expect(parseSize('1.5G')).toBe(1.5 * 1024 ** 3)
    expect(parseSize('4096')).toBe(4096)
    expect(parseSize(4096)).toBe(4096)
    expect(parseSize('64k')).toBe(65536)
    expect(parseSize('2 MiB')).toBe(2 * 1024 * 1024)
    expect(parseSize('1kb')).toBe(1000)
    expect(parseSize('3B')).toBe(3)
    expect(parseSize('1TiB')).toBe(1024 ** 4)
    expect(parseSize('0.5K')).toBe(512)
  })
  it('rounds fractions down to whole bytes', () => {
    expect(parseSize('1.0001K')).toBe(1024)
  })
  it('rejects bad input with a message naming the key', () => {
    expect(() => parseSize('10 parsecs', 'cacheSize')).toThrow(/^cacheSize: expected a byte size.*"10 parsecs"/)
    expect(() => parseSize('-1')).toThrow(/expected a byte size/)
    expect(() => parseSize('')).toThrow(/expected a byte size/)
    expect(() => parseSize('1e3')).toThrow(/expected a byte size/)
    expect(() => parseSize(-5)).toThrow(/expected a byte size/)
    expect(() => parseSize('99999999999TiB')).toThrow(/too large/)
    try { parseSize('x') } catch (err) { expect((err as Error).name).toBe('ConfigError') }
  })
})

describe('parseDuration', () => {
  it('reads units, plain numbers are seconds', () => {
    expect(parseDuration('500ms')).toBe(500)
    expect(parseDuration('30s')).toBe(30_000)
    expect(parseDuration('10m')).toBe(600_000)
    expect(parseDuration('1h')).toBe(3_600_000)
    expect(parseDuration(2)).toBe(2000)
    expect(parseDuration('0')).toBe(0)
    expect(() => parseDuration('soon', 'gcInterval')).toThrow(/^gcInterval: expected a duration/)
  })
})

describe('formatBytes', () => {
  it('prints binary units', () => {
    expect(formatBytes(0)).toBe('0 B')
    expect(formatBytes(1536)).toBe('1.50 KiB')
    expect(formatBytes(32 * 1024 * 1024)).toBe('32.0 MiB')
  })
})
