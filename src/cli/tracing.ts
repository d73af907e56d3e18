/**
 * `starling get` as the root of its trace, when the CLI's environment names
 * an OTLP endpoint (OTEL_EXPORTER_OTLP_ENDPOINT and friends): the SDK is
 * loaded only then, and the daemon's spans join the same trace through the
 * `traceparent` header the API client sends (src/cli/client.ts).
 */
import { SpanStatusCode, trace } from '@opentelemetry/api'
import { tracesEndpoint } from '../tracing/endpoint.js'
import { TRACER_NAME } from '../tracing/names.js'
import { version } from '../daemon/version.js'

export async function withCliSpan<T> (env: NodeJS.ProcessEnv, name: string, fn: () => Promise<T>): Promise<T> {
  const endpoint = tracesEndpoint(undefined, env)
  if (endpoint == null) return await fn()
  const { startTracing } = await import('../tracing/sdk.js')
  const tracing = await startTracing({ endpoint, serviceName: 'starling-cli', serviceVersion: version(), env })
  try {
    return await trace.getTracer(TRACER_NAME).startActiveSpan(name, async span => {
      try {
        return await fn()
      } catch (err) {
        span.recordException(err as Error)
        span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message })
        throw err
      } finally {
        span.end()
      }
    })
  } finally {
    // Flushes the batch before the process exits (the CLI is short-lived).
    await tracing.shutdown()
  }
}
