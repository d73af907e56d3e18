/**
 * OpenTelemetry end to end, with real processes: daemons export spans over
 * OTLP/HTTP to a receiver this test starts. One `starling get` from a local
 * origin gives the CLI's root span, the daemon's API span under it (W3C
 * traceparent), the fetch span under that and origin spans under the fetch;
 * a second daemon fetching from the first gives piece spans under its
 * fetch; a registry mirror request is the parent of the fetch it triggers.
 * With tracing off the receiver gets nothing at all.
 */
import { createHash, randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startOriginServer, type OriginServer } from '../fixtures/origin-server.js'
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from '../fixtures/otlp-receiver.js'
import { removeDir, runCli, startDaemonProcess, tempDir, waitReady, type DaemonProcess } from '../cli/helpers.js'

const MiB = 1024 * 1024
/** Several pieces, so the fetch makes several origin and piece requests. */
const SIZE = 6 * MiB
/** The batch processor's delay, short so spans arrive soon after they end (the default is 5 s). */
const FAST_EXPORT = { OTEL_BSP_SCHEDULE_DELAY: '200' }
const OTEL_VARS = ['OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', 'OTEL_SDK_DISABLED', 'OTEL_TRACES_EXPORTER', 'STARLING_OTLP_ENDPOINT']

let dir: string
let origin: OriginServer
let receiver: OtlpReceiver
const daemons: DaemonProcess[] = []
const blob = randomBytes(SIZE)
const digest = sha256(blob)
const layer = randomBytes(3 * MiB)
const layerDigest = sha256(layer)

function sha256 (b: Uint8Array): string {
  return `sha256:${createHash('sha256').update(b).digest('hex')}`
}

/** This process's environment without any OpenTelemetry setting, plus `extra`. */
function cleanEnv (extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env }
  for (const k of OTEL_VARS) delete env[k]
  return { ...env, ...extra }
}

beforeAll(async () => {
  // runCli merges process.env: nothing of the outer environment may turn tracing on by itself.
  for (const k of OTEL_VARS) delete process.env[k]
  dir = await tempDir('starling-otel-')
  origin = await startOriginServer({ files: { '/blob.bin': blob, '/again.bin': blob, [`/v2/lib/app/blobs/${layerDigest}`]: layer } })
  receiver = await startOtlpReceiver()
})

afterAll(async () => {
  await Promise.all(daemons.map(async d => await d.stop()))
  await receiver?.close()
  await origin?.close()
  await removeDir(dir)
})

const byId = (spans: ReceivedSpan[], id: string): ReceivedSpan | undefined => spans.find(s => s.spanId === id)
const named = (spans: ReceivedSpan[], name: string, service?: string): ReceivedSpan[] => spans.filter(s => s.name === name && (service == null || s.service === service))

describe('tracing on: spans arrive at the OTLP receiver with their parent links', () => {
  let a: DaemonProcess, b: DaemonProcess, mirror: string

  it('starts two traced daemons (flag and standard env variable)', async () => {
    a = await startDaemonProcess(join(dir, 'a'), ['--otlp-endpoint', `${receiver.url}/v1/traces`, '--registry', '127.0.0.1:0', '--registry-upstream', `local=${origin.url}`],
      30_000, { env: cleanEnv(FAST_EXPORT) })
    daemons.push(a)
    b = await startDaemonProcess(join(dir, 'b'), ['--bootstrap', a.addresses[0]], 30_000, { env: cleanEnv({ ...FAST_EXPORT, OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url }) })
    daemons.push(b)
    await waitReady(b.api)
    mirror = a.logs.find(l => l.msg === 'daemon ready').registry
    expect(mirror).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    for (const d of [a, b]) expect(d.logs.some(l => l.msg === 'tracing: exporting spans over OTLP/HTTP')).toBe(true)
  })

  it('one `starling get` from the origin: CLI span > API span > fetch span > origin spans', async () => {
    const r = await runCli(['--api', a.api, 'get', `${origin.url}/blob.bin`, '--digest', digest, '-o', join(dir, 'a.bin')],
      { env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url }, timeoutMs: 90_000 })
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    // The spans of one trace end at different times and come in different batches: wait for the whole chain.
    const spans = await receiver.waitFor('the CLI > API > fetch chain', s => named(s, 'starling get', 'starling-cli').some(cli =>
      s.some(api => api.parentSpanId === cli.spanId && s.some(f => f.name === 'starling.fetch' && f.parentSpanId === api.spanId))))
    const cli = named(spans, 'starling get', 'starling-cli')[0]
    expect(cli.parentSpanId).toBe('')
    const api = spans.filter(s => s.name === 'GET /api/v1/blobs/{digest}' && s.parentSpanId === cli.spanId)
    expect(api).toHaveLength(1)
    expect(api[0].traceId).toBe(cli.traceId)
    const fetch = named(spans, 'starling.fetch').find(f => f.parentSpanId === api[0].spanId)
    expect(fetch, 'the fetch span is a child of the API request span').toBeDefined()
    expect(fetch!.attributes['starling.digest']).toBe(digest)
    expect(fetch!.attributes['starling.size']).toBe(SIZE)
    expect(fetch!.attributes['starling.bytes.origin']).toBe(SIZE)
    const reads = spans.filter(s => s.name === 'starling.origin.read' && s.parentSpanId === fetch!.spanId)
    expect(reads.length).toBeGreaterThan(0)
    // every origin byte the fetch took is in an origin span under it
    expect(reads.reduce((n, s) => n + Number(s.attributes['starling.bytes']), 0)).toBeGreaterThanOrEqual(SIZE)
    for (const s of reads) expect(s.traceId).toBe(cli.traceId)
  })

  it('`starling get URL` without --digest: the import request is in the CLI\'s trace, with its origin reads under it', async () => {
    const r = await runCli(['--api', a.api, 'get', `${origin.url}/again.bin`, '-o', join(dir, 'again.bin')],
      { env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url }, timeoutMs: 90_000 })
    expect(r.code, r.stderr).toBe(0)
    const importOf = (s: ReceivedSpan[]): ReceivedSpan | undefined => s.find(x => x.name === 'POST /api/v1/import' && byId(s, x.parentSpanId)?.name === 'starling get')
    const spans = await receiver.waitFor('the import span and its origin reads', s => {
      const imp = importOf(s)
      return imp != null && s.some(o => o.name === 'starling.origin.read' && o.parentSpanId === imp.spanId)
    })
    const imp = importOf(spans)!
    const reads = spans.filter(o => o.name === 'starling.origin.read' && o.parentSpanId === imp.spanId)
    expect(reads.reduce((n, s) => n + Number(s.attributes['starling.bytes']), 0)).toBe(SIZE)
    expect(reads.every(o => o.attributes['starling.origin'] === `${origin.url}/again.bin`)).toBe(true)
  })

  it('a second daemon fetching from the first: piece spans are children of its fetch span', async () => {
    const r = await runCli(['--api', b.api, 'get', digest, '-o', join(dir, 'b.bin')], { timeoutMs: 90_000 })
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    const spans = await receiver.waitFor('piece spans', s => named(s, 'starling.piece').length > 0 &&
      s.some(f => f.name === 'starling.fetch' && s.some(p => p.name === 'starling.piece' && p.parentSpanId === f.spanId)))
    const pieces = named(spans, 'starling.piece')
    const fetch = byId(spans, pieces[0].parentSpanId)!
    expect(fetch.name).toBe('starling.fetch')
    expect(fetch.attributes['starling.digest']).toBe(digest)
    const under = pieces.filter(p => p.parentSpanId === fetch.spanId)
    for (const p of under) expect(p.attributes['starling.peer']).toBe(a.peerId)
    // fetch spans end when the blob is complete: by then every verified piece is in
    const ok = under.filter(p => p.status !== 2)
    expect(new Set(ok.map(p => p.attributes['starling.piece.index'])).size).toBe(Number(fetch.attributes['starling.piece_count']))
    expect(fetch.attributes['starling.bytes.origin'] ?? 0).toBe(0)
  })

  it('a registry mirror request is the parent of the fetch it triggers', async () => {
    const res = await fetch(`${mirror}/v2/lib/app/blobs/${layerDigest}?ns=local`)
    expect(res.status).toBe(200)
    expect(sha256(new Uint8Array(await res.arrayBuffer()))).toBe(layerDigest)
    const spans = await receiver.waitFor('the mirror fetch span and its parent', s => s.some(f => f.name === 'starling.fetch' && f.attributes['starling.digest'] === layerDigest &&
      byId(s, f.parentSpanId) != null))
    const fetchSpan = spans.find(f => f.name === 'starling.fetch' && f.attributes['starling.digest'] === layerDigest)!
    const parent = byId(spans, fetchSpan.parentSpanId)
    expect(parent?.name).toBe('GET /v2/{name}/blobs/{digest}')
    expect(parent?.attributes['url.path']).toBe(`/v2/lib/app/blobs/${layerDigest}`)
    expect(spans.some(s => s.name === 'starling.origin.read' && s.parentSpanId === fetchSpan.spanId)).toBe(true)
  })
})

describe('tracing off: nothing is sent', () => {
  it('with no endpoint, or with one and OTEL_SDK_DISABLED=true, daemons and `starling get` send the receiver nothing, even on shutdown', async () => {
    // The traced daemons first, stopped (and so flushed): from here on only the untraced ones could send.
    for (const d of daemons) expect(await d.stop()).toBe(0)
    const before = receiver.requests()
    const disabled = { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_SDK_DISABLED: 'true' }
    const [c, d] = await Promise.all([
      startDaemonProcess(join(dir, 'c'), [], 30_000, { env: cleanEnv(FAST_EXPORT) }),
      startDaemonProcess(join(dir, 'd'), [], 30_000, { env: cleanEnv({ ...FAST_EXPORT, ...disabled }) })
    ])
    daemons.push(c, d)
    const runs = await Promise.all([
      runCli(['--api', c.api, 'get', `${origin.url}/blob.bin`, '--digest', digest, '-o', join(dir, 'c.bin')], { timeoutMs: 90_000 }),
      runCli(['--api', d.api, 'get', `${origin.url}/blob.bin`, '--digest', digest, '-o', join(dir, 'd.bin')], { timeoutMs: 90_000, env: disabled })
    ])
    for (const r of runs) expect(r.code, r.stderr).toBe(0)
    // A stopped daemon would have flushed anything it buffered.
    for (const x of [c, d]) {
      expect(await x.stop()).toBe(0)
      expect(x.logs.some(l => String(l.msg).startsWith('tracing:'))).toBe(false)
    }
    expect(receiver.requests()).toBe(before)
  })
})
