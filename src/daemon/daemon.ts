/**
 * `starling daemon`: one node, its local HTTP API, metrics, the cache GC
 * timer and (when configured) the registry mirror, started in order and
 * stopped in reverse.
 */
import { readFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { StarlingNode, StarlingNodeComponents, StarlingNodeOptions } from '../api.js'
import type { Logger, Startable } from '../types.js'
import { ConfigError } from '../errors.js'
import { loadOrCreateApiToken, writeApiRecord } from './api-token.js'
import { splitHostPort, type DaemonConfig } from './config.js'
import { createApiHandler, type RequestHandler } from './http-api.js'
import { createRequestGuard } from './http-guard.js'
import { createMetrics } from './metrics.js'
import { createProgressHub } from './progress-hub.js'
import { checkReachable } from './reachable.js'
import { createStatsHistory, createTransferLog } from './status-page/index.js'
import { traceRequests } from '../tracing/http.js'
import { apiRoute, startDaemonTracing } from './tracing.js'

export interface Daemon {
  readonly node: StarlingNode
  /** `http://host:port` of the local API (the real port when 0 was asked for). */
  readonly apiUrl: string
  readonly metricsUrl: string
  readonly registryUrl?: string
  /** The file holding the API's bearer token (`<dataDir>/api-token`). */
  readonly tokenFile: string
  stop(): Promise<void>
}

export interface DaemonComponents {
  logger: Logger
  /** Builds the node; the default is the library's createNode (tests pass a fake). */
  createNode?: (options: StarlingNodeOptions, components?: StarlingNodeComponents) => Promise<StarlingNode>
  /** Builds the registry mirror; the default loads src/registry/ when present. */
  createRegistryMirror?: RegistryMirrorFactory
}

type RegistryMirrorFactory = (components: { node: StarlingNode, logger?: Logger }, init: {
  listen: string
  upstreams: Record<string, string>
  credentials?: Record<string, { username: string, password: string }>
  accessCheck?: boolean
}) => Startable & { readonly url: string }

export async function startDaemon (config: DaemonConfig, components: DaemonComponents, options: { signal?: AbortSignal } = {}): Promise<Daemon> {
  const log = components.logger
  await checkBootstrap(config, log, options)

  const psk = config.swarmKey == null ? undefined : await readSwarmKeyFile(config.swarmKey)
  const allowPeers = config.allowPeers == null ? undefined : await readAllowPeersFile(config.allowPeers)
  const create = components.createNode ?? (await import('../node.js')).createNode
  // Before the node, so its piece requests can be traced; undefined when tracing is off (nothing loaded).
  const tracing = await startDaemonTracing(config.otlpEndpoint, log)
  const rawNode = await create({
    dataDir: config.dataDir,
    listen: config.listen,
    bootstrap: config.bootstrap,
    bootstrapDns: config.bootstrapDns,
    // the same bound as the TCP check above: start-up waits that long at most for the libp2p dials
    bootstrapTimeoutMs: config.bootstrapTimeout,
    location: config.location,
    originPerLocation: config.originPerLocation,
    cacheSize: config.cacheSize,
    memoryLimit: config.memoryLimit,
    uploadRate: config.uploadRate,
    downloadRate: config.downloadRate,
    originRate: config.originRate,
    allowConnectionsFrom: config.allowConnectionsFrom,
    exemptPrivateRanges: config.exemptPrivateRanges,
    maxInboundConnectionsPerHost: config.maxInboundConnectionsPerHost,
    psk,
    allowPeers,
    logger: log
  }, tracing == null ? {} : { wrapTransfer: tracing.fetches.transfer }).catch(async (err: unknown) => {
    await tracing?.shutdown()
    throw err
  })
  // Every fetch the API and the mirror start shows on the status page (and is traced, when tracing is on).
  const transfers = createTransferLog()
  const node = transfers.track(tracing == null ? rawNode : tracing.fetches.node(rawNode))
  // First in, so last out: spans of the shutdown itself are flushed too.
  const cleanups: Array<() => Promise<void> | void> = tracing == null ? [] : [async () => { await tracing.shutdown() }]
  const stop = async (): Promise<void> => {
    for (const fn of cleanups.reverse()) {
      try { await fn() } catch (err) { log.warn({ err: (err as Error).message }, 'error while stopping') }
    }
    cleanups.length = 0
  }
  try {
    await node.start({ signal: options.signal })
    cleanups.push(async () => { await node.stop() })

    const metrics = createMetrics(() => node.stats())
    const history = createStatsHistory(() => node.stats())
    history.start()
    cleanups.push(() => { history.stop() })
    const gc = async (o: { signal?: AbortSignal } = {}): Promise<unknown> => {
      const r = await node.gc(o)
      if (r.evicted.length > 0) log.info({ evicted: r.evicted.length, freedBytes: r.freedBytes }, 'cache gc')
      return r
    }
    let registryUrl: string | undefined
    const extra = (): Record<string, unknown> => ({ api: apiUrl, metrics: metricsUrl, registry: registryUrl ?? null })
    const apiToken = await loadOrCreateApiToken(config.dataDir)
    if (apiToken.created) log.info({ file: apiToken.file }, 'created the API token')
    const shared = {
      node,
      hub: createProgressHub(),
      logger: log,
      // A DNS name may name only this node (the first pod of a DaemonSet): that is no reason to stay unready.
      alone: config.bootstrap.length === 0,
      info: extra,
      gc,
      allowFileImport: config.allowFileImport,
      transfers,
      history
    }
    const guardFor = (hostPort: string): ReturnType<typeof createRequestGuard> =>
      createRequestGuard({ token: apiToken.token, listenHost: splitHostPort(hostPort).host, extraHosts: config.apiHosts })
    const handler = createApiHandler({ ...shared, metrics: config.metrics == null ? metrics : undefined, guard: guardFor(config.api) })
    const apiUrl = await listen(handler, config.api, 'api', cleanups)
    await recordApi(config, apiUrl, apiToken.file, log, cleanups)
    let metricsUrl = `${apiUrl}/metrics`
    if (config.metrics != null) {
      // The metrics listener serves the open endpoints only: it is often bound wider than the API.
      const metricsOnly = createApiHandler({ ...shared, metrics, guard: guardFor(config.metrics), openOnly: true })
      metricsUrl = `${await listen(metricsOnly, config.metrics, 'metrics', cleanups)}/metrics`
    }

    if (config.gcInterval > 0) {
      const timer = setInterval(() => { gc().catch(err => { log.warn({ err: (err as Error).message }, 'cache gc failed') }) }, config.gcInterval)
      timer.unref()
      cleanups.push(() => { clearInterval(timer) })
    }

    if (config.registry.listen != null) {
      const factory = components.createRegistryMirror ?? await loadRegistryMirror()
      const mirror = factory({ node, logger: log }, {
        listen: config.registry.listen,
        upstreams: config.registry.upstreams,
        credentials: config.registry.credentials,
        accessCheck: config.registry.accessCheck
      })
      await mirror.start()
      cleanups.push(async () => { await mirror.stop() })
      registryUrl = mirror.url
    }

    log.info({ peerId: node.peerId, addresses: node.addresses(), api: apiUrl, metrics: metricsUrl, registry: registryUrl, location: config.location }, 'daemon ready')
    return { node, apiUrl, metricsUrl, registryUrl, tokenFile: apiToken.file, stop }
  } catch (err) {
    await stop()
    throw err
  }
}

/**
 * Fails start-up when no bootstrap address answers on TCP, naming each one,
 * so a typo does not leave a daemon silently alone. With several addresses,
 * one that answers is enough (the others are logged): a fleet should not
 * refuse to start because one of its bootstrap hosts is down.
 */
async function checkBootstrap (config: DaemonConfig, log: Logger, options: { signal?: AbortSignal }): Promise<void> {
  if (config.bootstrap.length === 0) return
  const results = await Promise.all(config.bootstrap.map(async a => [a, await checkReachable(a, config.bootstrapTimeout, options)] as const))
  const bad = results.filter(([, reason]) => reason != null)
  if (bad.length === results.length) {
    const list = bad.map(([a, reason]) => `${a} (${reason ?? ''})`).join(', ')
    throw new ConfigError(`bootstrap: cannot reach ${bad.length > 1 ? 'any of ' : ''}${list}`)
  }
  for (const [a, reason] of bad) log.warn({ address: a, reason }, 'bootstrap address unreachable')
}

/**
 * Tells the CLI where this API's token is (src/daemon/api-token.ts). A
 * failure only costs the CLI's automatic discovery, so it is a warning.
 */
async function recordApi (config: DaemonConfig, apiUrl: string, tokenFile: string, log: Logger, cleanups: Array<() => Promise<void> | void>): Promise<void> {
  try {
    const remove = await writeApiRecord(config.runtimeDir, { api: apiUrl, tokenFile, pid: process.pid })
    cleanups.push(async () => { await remove().catch(() => {}) })
  } catch (err) {
    log.warn({ runtimeDir: config.runtimeDir, err: (err as Error).message }, 'cannot record the API address: the CLI will need STARLING_DATA_DIR or STARLING_API_TOKEN')
  }
}

async function listen (handler: RequestHandler, hostPort: string, what: string, cleanups: Array<() => Promise<void> | void>): Promise<string> {
  const { host, port } = splitHostPort(hostPort)
  const server: Server = createServer(traceRequests(handler, apiRoute))
  // Long blob streams must not be cut by the default request timeout.
  server.requestTimeout = 0
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      reject(new ConfigError(`${what}: cannot listen on ${hostPort}: ${err.code ?? err.message}`))
    })
    server.listen(port, host, () => { resolve() })
  })
  cleanups.push(async () => {
    // Stop accepting, give open requests a moment, then cut what is left.
    const closed = new Promise<void>(resolve => server.close(() => { resolve() }))
    server.closeIdleConnections()
    const t = setTimeout(() => { server.closeAllConnections() }, 2000)
    await closed
    clearTimeout(t)
  })
  const addr = server.address() as AddressInfo
  const h = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address
  return `http://${h}:${addr.port}`
}

async function readConfigFile (key: string, file: string): Promise<Buffer> {
  try {
    return await readFile(file)
  } catch (err) {
    throw new ConfigError(`${key}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
  }
}

/** Checked here so that a bad file is named in the error, before anything starts. */
async function readSwarmKeyFile (file: string): Promise<Uint8Array> {
  const { parseSwarmKey } = await import('../swarm/swarm-key.js')
  return parseSwarmKey(await readConfigFile('swarmKey', file), `swarmKey ${file}`)
}

async function readAllowPeersFile (file: string): Promise<string[]> {
  const { parseAllowPeers } = await import('../swarm/allow-peers.js')
  return parseAllowPeers((await readConfigFile('allowPeers', file)).toString('utf8'), `allowPeers ${file}`)
}

async function loadRegistryMirror (): Promise<RegistryMirrorFactory> {
  // A literal specifier, so a bundler (scripts/build-sea.mjs) includes the mirror in the single-file binary.
  let mod: { createRegistryMirror?: RegistryMirrorFactory }
  try {
    mod = await import('../registry/index.js') as typeof mod
  } catch (err) {
    throw new ConfigError(`registry.listen: the registry mirror is not available in this build (${(err as Error).message})`)
  }
  if (typeof mod.createRegistryMirror !== 'function') throw new ConfigError('registry.listen: the registry mirror is not available in this build')
  return mod.createRegistryMirror
}
