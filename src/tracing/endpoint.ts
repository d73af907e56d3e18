/**
 * Where traces go, if anywhere: starling's own setting first (config key
 * `otlpEndpoint`, `STARLING_OTLP_ENDPOINT`, `--otlp-endpoint`), else the
 * standard OpenTelemetry variables, read the way the spec says: the
 * traces-specific URL is used as is, the generic one gets `/v1/traces`.
 * No endpoint means tracing is off and no SDK is ever loaded.
 */

/** The OTLP/HTTP path for traces under a base endpoint (OTLP exporter spec). */
export const OTLP_TRACES_PATH = '/v1/traces'

export function tracesEndpoint (configured: string | undefined, env: NodeJS.ProcessEnv): string | undefined {
  if (configured != null && configured !== '') return configured
  // The spec's switch for "no SDK at all": it beats the endpoint variables, not an explicit setting.
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return undefined
  if (env.OTEL_TRACES_EXPORTER?.trim().toLowerCase() === 'none') return undefined
  const traces = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim()
  if (traces != null && traces !== '') return traces
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim()
  if (base != null && base !== '') return base.replace(/\/+$/, '') + OTLP_TRACES_PATH
  return undefined
}
