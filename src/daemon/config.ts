/**
 * Daemon configuration: a YAML file, overridden by STARLING_* environment
 * variables, overridden by flags. Everything is merged as raw values first
 * and validated once, so a bad value is reported the same way wherever it
 * came from — with the key and the source that set it.
 */
import { readFile } from 'node:fs/promises'
import { parse as parseYaml, YAMLParseError } from 'yaml'
import { z } from 'zod'
import { ConfigError } from '../errors.js'
import { formatBytes, parseDuration, parseSize } from './size.js'
import { MIN_MEMORY_LIMIT } from '../memory-budget.js'
import { tracesEndpoint } from '../tracing/endpoint.js'

import { DEFAULT_API, DEFAULT_LISTEN, DEFAULT_UPSTREAMS } from './defaults.js'
import { defaultDataDir, defaultRuntimeDir } from './paths.js'

export { DEFAULT_API, DEFAULT_LISTEN, DEFAULT_UPSTREAMS }

export { defaultDataDir, defaultRuntimeDir }

const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const
export type LogLevel = typeof LOG_LEVELS[number]

export interface RegistryConfig {
  listen?: string
  upstreams: Record<string, string>
  credentials: Record<string, { username: string, password: string }>
  accessCheck?: boolean
}

export interface DaemonConfig {
  dataDir: string
  listen: string[]
  bootstrap: string[]
  /** `NAME:PORT` names whose addresses are all swarm nodes (a Kubernetes headless Service; docs/kubernetes.md). */
  bootstrapDns: string[]
  /** Local HTTP API, host:port. */
  api: string
  /** Separate metrics listener, host:port; undefined = served on the API port. */
  metrics?: string
  location: string
  /** Each location pulls the origin itself (docs/no-scheduler.md, "Multiple locations"). */
  originPerLocation: boolean
  cacheSize?: number
  uploadRate?: number
  downloadRate?: number
  originRate?: number
  logLevel: LogLevel
  /** ms between cache GC runs; 0 turns the timer off. */
  gcInterval: number
  /** ms to wait for a TCP connection to each bootstrap address at start-up. */
  bootstrapTimeout: number
  /** CIDRs (multiaddr form) exempt from the connection limits; default loopback only. */
  allowConnectionsFrom?: string[]
  /** Also exempt the private ranges (RFC 1918, fc00::/7) from the connection limits: the old default. */
  exemptPrivateRanges: boolean
  /** Open inbound connections one remote IP may hold (loopback is exempt). */
  maxInboundConnectionsPerHost?: number
  /** Path of the libp2p pnet `swarm.key` file (`swarmKey`, or its old name `pskFile`). */
  swarmKey?: string
  /** Path of the peer allowlist: one peer id per line, `#` comments. */
  allowPeers?: string
  /** Let API callers make the daemon read its own files (`file://` origins, `add` by path). */
  allowFileImport: boolean
  /** Host names the API answers to besides loopback and its listen address. */
  apiHosts: string[]
  /** Per-user folder where the daemon records where its API token is (for the CLI). */
  runtimeDir: string
  registry: RegistryConfig
  /** Bytes the daemon should stay within (src/memory-budget.ts, docs/memory.md); undefined = no limit. */
  memoryLimit?: number
  /** OTLP/HTTP traces URL (`otlpEndpoint`, else the OTEL_EXPORTER_OTLP_* variables); undefined = tracing off (docs/tracing.md). */
  otlpEndpoint?: string
}

/** The raw, unvalidated shape every source produces (same keys as the YAML file). */
export type RawConfig = Record<string, unknown>

function refineWith<T> (fn: (v: string | number) => T) {
  return z.union([z.string(), z.number()]).transform((v, ctx) => {
    try {
      return fn(v)
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message })
      return z.NEVER
    }
  })
}

const size = refineWith(v => parseSize(v))
const rate = refineWith(v => {
  const n = parseSize(v)
  if (n <= 0) throw new ConfigError('expected a rate above 0 bytes/s (leave it out for no cap)')
  return n
})
const duration = refineWith(v => parseDuration(v))
const memoryLimit = refineWith(v => {
  const n = parseSize(v)
  if (n < MIN_MEMORY_LIMIT) throw new ConfigError(`expected at least ${formatBytes(MIN_MEMORY_LIMIT)} (what Node and libp2p hold before any transfer is near that), got ${formatBytes(n)}`)
  return n
})
const hostPort = z.string().regex(/^(\[[0-9a-fA-F:.]+\]|[^:[\]\s]+):\d{1,5}$/, 'expected HOST:PORT, e.g. 127.0.0.1:7483')
  .refine(s => Number(s.slice(s.lastIndexOf(':') + 1)) <= 65535, 'port must be 0–65535')
/** The registry mirror's address: HOST:PORT, or a bare :PORT, which binds loopback (as parseListen in src/registry does): the mirror serves what the swarm holds, so every interface must be asked for by name (0.0.0.0:PORT). */
const registryListen = z.string().transform(s => s.startsWith(':') ? `127.0.0.1${s}` : s).pipe(hostPort)
const multiaddr = z.string().regex(/^(\/[^/\s]+)+$/, 'expected a multiaddr such as /ip4/0.0.0.0/tcp/7480')
const bootstrapAddr = multiaddr.refine(s => s.includes('/p2p/'), 'a bootstrap address needs the peer id: …/p2p/<peer-id> (see `starling info` on that host)')
/** YAML gives booleans; the environment gives strings. */
const bool = z.union([z.boolean(), z.enum(['true', 'false', '1', '0'])]).transform(v => v === true || v === 'true' || v === '1')
const count = refineWith(v => {
  const n = typeof v === 'number' ? v : Number(v)
  if (!Number.isInteger(n) || n < 1) throw new ConfigError('expected a whole number above 0')
  return n
})
const hostName = z.string().regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9._-]+)$/, 'expected a host name or IP address, without a port')
const url = z.string().refine(s => { try { return /^https?:$/.test(new URL(s).protocol) } catch { return false } }, 'expected an http:// or https:// URL')

const schema = z.strictObject({
  dataDir: z.string().min(1).optional(),
  listen: z.array(multiaddr).optional(),
  bootstrap: z.array(bootstrapAddr).optional(),
  bootstrapDns: z.array(z.string().regex(/^[A-Za-z0-9.-]+:\d{1,5}$/, 'expected NAME:PORT, e.g. starling-peers.starling.svc.cluster.local:7480')).optional(),
  api: hostPort.optional(),
  metrics: hostPort.optional(),
  location: z.string().regex(/^[A-Za-z0-9._\-/]*$/, 'expected a label of letters, digits, . _ - and /, e.g. eu-west/zone-a/rack-3').optional(),
  cacheSize: size.optional(),
  memoryLimit: memoryLimit.optional(),
  uploadRate: rate.optional(),
  downloadRate: rate.optional(),
  originRate: rate.optional(),
  logLevel: z.enum(LOG_LEVELS).optional(),
  gcInterval: duration.optional(),
  bootstrapTimeout: duration.optional(),
  allowConnectionsFrom: z.array(multiaddr).optional(),
  exemptPrivateRanges: bool.optional(),
  originPerLocation: bool.optional(),
  maxInboundConnectionsPerHost: count.optional(),
  swarmKey: z.string().min(1).optional(),
  pskFile: z.string().min(1).optional(),
  allowPeers: z.string().min(1).optional(),
  allowFileImport: bool.optional(),
  apiHosts: z.array(hostName).optional(),
  runtimeDir: z.string().min(1).optional(),
  otlpEndpoint: url.optional(),
  registry: z.strictObject({
    listen: registryListen.optional(),
    upstreams: z.record(z.string().min(1), url).optional(),
    credentials: z.record(z.string().min(1), z.strictObject({ username: z.string(), password: z.string() })).optional(),
    accessCheck: z.boolean().optional()
  }).optional()
})

/** Maps a top-level key to where its value came from, for error messages. */
type Sources = Map<string, string>

export interface LoadConfigInput {
  /** YAML file path (`--config`, or STARLING_CONFIG). */
  file?: string
  env?: NodeJS.ProcessEnv
  /** Already-parsed flags in config-key form (camelCase); undefined = not given. */
  flags?: RawConfig
}

export async function loadConfig (input: LoadConfigInput = {}): Promise<DaemonConfig> {
  const env = input.env ?? process.env
  const sources: Sources = new Map()
  const file = input.file ?? env.STARLING_CONFIG
  const fromFile = file == null ? {} : await readConfigFile(file)
  const merged: RawConfig = {}
  const layers: Array<[RawConfig, (k: string) => string]> = [
    [fromFile, () => `in ${file ?? ''}`],
    [configFromEnv(env), k => `from ${envName(k)}`],
    [input.flags ?? {}, k => `from --${kebab(k)}`]
  ]
  for (const [layer, label] of layers) {
    for (const [k, v] of Object.entries(layer)) {
      if (v === undefined) continue
      if (k === 'registry' && isObject(v) && isObject(merged.registry)) {
        merged.registry = mergeRegistry(merged.registry, v)
      } else {
        merged[k] = v
      }
      sources.set(k, label(k))
    }
  }
  return validate(merged, sources, env)
}

function validate (raw: RawConfig, sources: Sources, env: NodeJS.ProcessEnv): DaemonConfig {
  const r = schema.safeParse(raw)
  if (!r.success) {
    const issue = r.error.issues[0]
    const path = issue.path.map(String)
    const key = path.join('.')
    const from = sources.get(path[0] ?? '')
    if (issue.code === 'unrecognized_keys') {
      const where = [...path, ''].join('.')
      const keys = issue.keys.map(k => where + k).join(', ')
      throw new ConfigError(`unknown config key ${keys}${from != null && path.length > 0 ? ` (${from})` : ''}; known keys: ${knownKeys(path)}`)
    }
    throw new ConfigError(`${key}${from != null ? ` (${from})` : ''}: ${issue.message}`)
  }
  const c = r.data
  return {
    dataDir: c.dataDir ?? defaultDataDir(env),
    listen: c.listen ?? [DEFAULT_LISTEN],
    bootstrap: c.bootstrap ?? [],
    bootstrapDns: c.bootstrapDns ?? [],
    api: c.api ?? DEFAULT_API,
    metrics: c.metrics,
    location: c.location ?? '',
    originPerLocation: c.originPerLocation ?? false,
    cacheSize: c.cacheSize,
    memoryLimit: c.memoryLimit,
    uploadRate: c.uploadRate,
    downloadRate: c.downloadRate,
    originRate: c.originRate,
    logLevel: c.logLevel ?? 'info',
    gcInterval: c.gcInterval ?? 10 * 60_000,
    bootstrapTimeout: c.bootstrapTimeout ?? 5000,
    allowConnectionsFrom: c.allowConnectionsFrom,
    exemptPrivateRanges: c.exemptPrivateRanges ?? false,
    maxInboundConnectionsPerHost: c.maxInboundConnectionsPerHost,
    swarmKey: swarmKeyOf(c.swarmKey, c.pskFile),
    allowPeers: c.allowPeers,
    allowFileImport: c.allowFileImport ?? false,
    apiHosts: c.apiHosts ?? [],
    runtimeDir: c.runtimeDir ?? defaultRuntimeDir(env),
    registry: {
      listen: c.registry?.listen,
      upstreams: { ...DEFAULT_UPSTREAMS, ...c.registry?.upstreams },
      credentials: c.registry?.credentials ?? {},
      accessCheck: c.registry?.accessCheck
    },
    otlpEndpoint: otlpEndpointOf(c.otlpEndpoint, env)
  }
}

/** `otlpEndpoint` was validated with the rest; the standard OTEL_* variables are checked here, naming the variable. */
function otlpEndpointOf (configured: string | undefined, env: NodeJS.ProcessEnv): string | undefined {
  const endpoint = tracesEndpoint(configured, env)
  if (endpoint == null || configured != null) return endpoint
  if (!url.safeParse(endpoint).success) {
    throw new ConfigError(`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT / OTEL_EXPORTER_OTLP_ENDPOINT: expected an http:// or https:// URL, got ${JSON.stringify(endpoint)}`)
  }
  return endpoint
}

/** `pskFile` is the old name of `swarmKey`; both at once must agree. */
function swarmKeyOf (swarmKey: string | undefined, pskFile: string | undefined): string | undefined {
  if (swarmKey != null && pskFile != null && swarmKey !== pskFile) {
    throw new ConfigError(`swarmKey (${swarmKey}) and its old name pskFile (${pskFile}) name different files: keep swarmKey only`)
  }
  return swarmKey ?? pskFile
}

function knownKeys (path: string[]): string {
  const shape = path[0] === 'registry' ? schema.shape.registry.unwrap().shape : schema.shape
  return Object.keys(shape).join(', ')
}

async function readConfigFile (file: string): Promise<RawConfig> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    throw new ConfigError(`cannot read config file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
  }
  let doc: unknown
  try {
    doc = parseYaml(text)
  } catch (err) {
    const where = err instanceof YAMLParseError && err.linePos != null ? ` at line ${err.linePos[0].line}` : ''
    throw new ConfigError(`config file ${file}: invalid YAML${where}: ${(err as Error).message.split('\n')[0]}`)
  }
  if (doc == null) return {}
  if (!isObject(doc)) throw new ConfigError(`config file ${file}: expected a mapping of keys at the top level`)
  return doc
}

const ENV_KEYS = ['dataDir', 'listen', 'bootstrap', 'api', 'metrics', 'location', 'originPerLocation', 'cacheSize', 'uploadRate',
  'downloadRate', 'originRate', 'logLevel', 'gcInterval', 'bootstrapTimeout', 'allowConnectionsFrom', 'pskFile',
  'swarmKey', 'allowPeers', 'exemptPrivateRanges', 'maxInboundConnectionsPerHost', 'allowFileImport', 'apiHosts', 'runtimeDir',
  'bootstrapDns', 'otlpEndpoint', 'memoryLimit'] as const
const LIST_KEYS = new Set(['listen', 'bootstrap', 'allowConnectionsFrom', 'apiHosts', 'bootstrapDns'])

function envName (key: string): string {
  if (key === 'registry') return 'STARLING_REGISTRY*'
  return 'STARLING_' + key.replace(/[A-Z]/g, c => '_' + c).toUpperCase()
}

function kebab (key: string): string {
  return key.replace(/[A-Z]/g, c => '-' + c.toLowerCase())
}

/** STARLING_CACHE_SIZE=10GiB, STARLING_BOOTSTRAP=addr1,addr2, STARLING_REGISTRY=host:port, STARLING_REGISTRY_UPSTREAM=name=url,... */
export function configFromEnv (env: NodeJS.ProcessEnv): RawConfig {
  const out: RawConfig = {}
  for (const key of ENV_KEYS) {
    const v = env[envName(key)]
    if (v == null || v === '') continue
    out[key] = LIST_KEYS.has(key) ? splitList(v) : v
  }
  const registry: RawConfig = {}
  if (env.STARLING_REGISTRY != null && env.STARLING_REGISTRY !== '') registry.listen = env.STARLING_REGISTRY
  if (env.STARLING_REGISTRY_UPSTREAM != null && env.STARLING_REGISTRY_UPSTREAM !== '') {
    registry.upstreams = parseUpstreams(splitList(env.STARLING_REGISTRY_UPSTREAM), 'STARLING_REGISTRY_UPSTREAM')
  }
  if (Object.keys(registry).length > 0) out.registry = registry
  return out
}

/** `NAME=URL` pairs (from the flag or the env) to a map; ConfigError names the bad one. */
export function parseUpstreams (pairs: string[], where = '--registry-upstream'): Record<string, string> {
  const out: Record<string, string> = {}
  for (const p of pairs) {
    const i = p.indexOf('=')
    if (i <= 0) throw new ConfigError(`${where}: expected NAME=URL (e.g. docker.io=https://registry-1.docker.io), got ${JSON.stringify(p)}`)
    out[p.slice(0, i)] = p.slice(i + 1)
  }
  return out
}

function splitList (v: string): string[] {
  return v.split(',').map(s => s.trim()).filter(s => s !== '')
}

function isObject (v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v != null && !Array.isArray(v)
}

function mergeRegistry (a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out = { ...a, ...b }
  if (isObject(a.upstreams) && isObject(b.upstreams)) out.upstreams = { ...a.upstreams, ...b.upstreams }
  return out
}

/** Splits `host:port` (IPv6 in brackets). */
export function splitHostPort (s: string): { host: string, port: number } {
  const i = s.lastIndexOf(':')
  let host = s.slice(0, i)
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1)
  return { host, port: Number(s.slice(i + 1)) }
}
