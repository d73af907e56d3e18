/**
 * Turns tracing on: the OpenTelemetry SDK, loaded only here and only when
 * an endpoint is configured, so a daemon or CLI with tracing off loads no
 * SDK module, starts no timer and opens no connection; every span call
 * then goes to @opentelemetry/api's built-in no-op.
 */
import type { Logger } from '../types.js'

export interface Tracing {
  readonly endpoint: string
  /** Sends what is buffered, then stops the exporter (bounded by the exporter's own timeout). */
  shutdown(): Promise<void>
}

export interface TracingInit {
  /** OTLP/HTTP traces URL, e.g. http://collector:4318/v1/traces. */
  endpoint: string
  /** `service.name` of every span (OTEL_SERVICE_NAME wins, as the spec says). */
  serviceName: string
  serviceVersion?: string
  env?: NodeJS.ProcessEnv
  logger?: Logger
}

export async function startTracing (init: TracingInit): Promise<Tracing> {
  const [{ NodeTracerProvider, BatchSpanProcessor }, { OTLPTraceExporter }, { resourceFromAttributes }, semconv] = await Promise.all([
    import('@opentelemetry/sdk-trace-node'),
    import('@opentelemetry/exporter-trace-otlp-http'),
    import('@opentelemetry/resources'),
    import('@opentelemetry/semantic-conventions')
  ])
  const env = init.env ?? process.env
  const name = env.OTEL_SERVICE_NAME != null && env.OTEL_SERVICE_NAME !== '' ? env.OTEL_SERVICE_NAME : init.serviceName
  // JSON over HTTP (this exporter's encoding): any OTLP/HTTP collector takes it, and a test can read it.
  const exporter = new OTLPTraceExporter({ url: init.endpoint })
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({
      [semconv.ATTR_SERVICE_NAME]: name,
      ...(init.serviceVersion != null ? { [semconv.ATTR_SERVICE_VERSION]: init.serviceVersion } : {})
    }),
    spanProcessors: [new BatchSpanProcessor(exporter)]
  })
  // Registers the AsyncLocalStorage context manager (a mirror request's span
  // is the active one when it calls node.fetch) and the W3C traceparent propagator.
  provider.register()
  init.logger?.info({ endpoint: init.endpoint, service: name }, 'tracing: exporting spans over OTLP/HTTP')
  return {
    endpoint: init.endpoint,
    async shutdown () {
      try {
        await provider.shutdown()
      } catch (err) {
        init.logger?.warn({ err: (err as Error).message }, 'tracing: could not flush spans')
      }
    }
  }
}
