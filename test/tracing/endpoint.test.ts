/** Where traces go: starling's own setting, else the standard OTEL_* variables; off when neither. */
import { describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/daemon/config.js'
import { tracesEndpoint } from '../../src/tracing/endpoint.js'

describe('tracesEndpoint', () => {
  it('is off with nothing set', () => {
    expect(tracesEndpoint(undefined, {})).toBeUndefined()
  })

  it('adds /v1/traces to the generic endpoint, uses the traces one as is, and prefers it', () => {
    expect(tracesEndpoint(undefined, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318/' })).toBe('http://c:4318/v1/traces')
    expect(tracesEndpoint(undefined, { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://t:4318/custom' })).toBe('http://t:4318/custom')
    expect(tracesEndpoint(undefined, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://t:1/x' })).toBe('http://t:1/x')
  })

  it('an explicit setting beats the variables; OTEL_SDK_DISABLED and OTEL_TRACES_EXPORTER=none turn the variables off', () => {
    expect(tracesEndpoint('http://mine/v1/traces', { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' })).toBe('http://mine/v1/traces')
    expect(tracesEndpoint(undefined, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_SDK_DISABLED: 'true' })).toBeUndefined()
    expect(tracesEndpoint(undefined, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_TRACES_EXPORTER: 'none' })).toBeUndefined()
  })
})

describe('the daemon config key otlpEndpoint', () => {
  it('comes from the flag, STARLING_OTLP_ENDPOINT, or the OTEL variables, and is off by default', async () => {
    expect((await loadConfig({ env: {} })).otlpEndpoint).toBeUndefined()
    expect((await loadConfig({ env: {}, flags: { otlpEndpoint: 'http://a:4318/v1/traces' } })).otlpEndpoint).toBe('http://a:4318/v1/traces')
    expect((await loadConfig({ env: { STARLING_OTLP_ENDPOINT: 'http://b:4318/v1/traces' } })).otlpEndpoint).toBe('http://b:4318/v1/traces')
    expect((await loadConfig({ env: { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' } })).otlpEndpoint).toBe('http://c:4318/v1/traces')
  })

  it('a bad URL is a ConfigError naming where it came from', async () => {
    await expect(loadConfig({ env: {}, flags: { otlpEndpoint: 'collector:4318' } })).rejects.toThrow(/otlpEndpoint \(from --otlp-endpoint\): expected an http/)
    await expect(loadConfig({ env: { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'nope' } })).rejects.toThrow(/OTEL_EXPORTER_OTLP_TRACES_ENDPOINT.*expected an http/)
  })
})
