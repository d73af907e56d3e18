import { Option, type Command } from 'commander'
import type { RawConfig } from '../../daemon/index.js'
import { CliError, type CliCommand, type CliContext } from '../context.js'
import { RELAUNCHED_ENV, relaunchPlan, runRelaunched, watchParent } from '../../daemon/relaunch.js'

interface DaemonFlags {
  config?: string
  dataDir?: string
  listen?: string[]
  bootstrap?: string[]
  bootstrapDns?: string[]
  location?: string
  originPerLocation?: boolean
  metrics?: string
  cacheSize?: string
  memoryLimit?: string
  uploadRate?: string
  downloadRate?: string
  originRate?: string
  logLevel?: string
  gcInterval?: string
  registry?: string
  registryUpstream?: string[]
  swarmKey?: string
  allowPeers?: string
  allowFileImport?: boolean
  otlpEndpoint?: string
}

const collect = (v: string, prev: string[] | undefined): string[] => [...(prev ?? []), v]

export const daemonCommand: CliCommand = (program, ctx) => {
  program.command('daemon')
    .description('run a starling node until SIGINT/SIGTERM (config: YAML < STARLING_* env < flags; see docs/config.md)')
    .option('-c, --config <file>', 'YAML config file (env STARLING_CONFIG)')
    .option('--data-dir <dir>', 'store, index and identity key folder')
    .option('--listen <multiaddr>', 'p2p listen address, repeatable (default /ip4/0.0.0.0/tcp/7480)', collect)
    .option('--bootstrap <multiaddr>', 'peer to join through, with /p2p/<id>; repeatable', collect)
    .option('--bootstrap-dns <name:port>', 'join through every address of this DNS name (a Kubernetes headless Service), re-resolved when alone; repeatable', collect)
    .option('--location <label>', 'location label, e.g. eu-west/zone-a/rack-3')
    .option('--origin-per-location', 'each location pulls the origin itself (where crossing between locations costs more than the origin)')
    .option('--metrics <host:port>', 'separate listener for /metrics (default: on the API port)')
    .option('--cache-size <size>', 'store quota, e.g. 10GiB (LRU eviction of complete blobs)')
    .option('--memory-limit <size>', 'stay within this much memory, e.g. 128MiB (at least 64MiB): sizes uploads, pieces in flight, buffers and the V8 heap to fit (docs/memory.md)')
    .option('--upload-rate <size>', 'upload cap in bytes/s, e.g. 50MiB')
    .option('--download-rate <size>', 'download-from-peers cap in bytes/s')
    .option('--origin-rate <size>', 'download-from-origin cap in bytes/s')
    .addOption(new Option('--log-level <level>', 'log level').choices(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']))
    .option('--gc-interval <duration>', 'how often cache GC runs, e.g. 10m (0 = never)')
    .option('--registry <host:port>', 'serve the OCI registry mirror here')
    .option('--registry-upstream <name=url>', 'registry to mirror, repeatable (docker.io=https://registry-1.docker.io is built in)', collect)
    .option('--swarm-key <file>', 'private swarm: talk only to nodes holding this swarm.key (make one with `starling keygen`)')
    .option('--allow-peers <file>', 'talk only to these peer ids: one per line, # comments')
    .option('--allow-file-import', 'let API callers make the daemon read its own files (file:// origins, add --by-path)')
    .option('--otlp-endpoint <url>', 'send OpenTelemetry traces here over OTLP/HTTP, e.g. http://127.0.0.1:4318/v1/traces (default: OTEL_EXPORTER_OTLP_*; none = off)')
    .action(async (flags: DaemonFlags, cmd: Command) => {
      // --api is a global option: for the daemon it is where to listen.
      const api = cmd.optsWithGlobals<{ api?: string }>().api
      await runDaemon(ctx, flags, api)
    })
}

async function runDaemon (ctx: CliContext, f: DaemonFlags, api: string | undefined): Promise<void> {
  // Loaded here, not at the top: other commands should not pay for zod, pino and libp2p. The
  // config comes first and alone: a daemon relaunched for its memory limit leaves this process
  // waiting for it, and that process should hold as little as it can.
  const { loadConfig, parseUpstreams } = await import('../../daemon/config.js')
  const flags: RawConfig = {
    dataDir: f.dataDir,
    listen: f.listen,
    bootstrap: f.bootstrap,
    bootstrapDns: f.bootstrapDns,
    api,
    location: f.location,
    originPerLocation: f.originPerLocation,
    metrics: f.metrics,
    cacheSize: f.cacheSize,
    memoryLimit: f.memoryLimit,
    uploadRate: f.uploadRate,
    downloadRate: f.downloadRate,
    originRate: f.originRate,
    logLevel: f.logLevel,
    gcInterval: f.gcInterval,
    swarmKey: f.swarmKey,
    allowPeers: f.allowPeers,
    allowFileImport: f.allowFileImport,
    otlpEndpoint: f.otlpEndpoint
  }
  if (f.registry != null || f.registryUpstream != null) {
    flags.registry = {
      ...(f.registry != null ? { listen: f.registry } : {}),
      ...(f.registryUpstream != null ? { upstreams: parseUpstreams(f.registryUpstream) } : {})
    }
  }
  // The CLI's STARLING_API names the daemon to talk to; for `daemon` it is the listen address too.
  const config = await loadConfig({ file: f.config, env: ctx.env, flags }).catch((err: Error) => {
    throw err.name === 'ConfigError' ? new CliError(`config: ${err.message}`, 2) : err
  })
  const relaunched = await relaunchForMemory(ctx, config.memoryLimit)
  if (relaunched != null) {
    // the child printed its own errors on the shared stderr
    if (relaunched !== 0) throw new CliError('', relaunched)
    return
  }
  const { createLogger, startDaemon } = await import('../../daemon/index.js')
  const log = createLogger(config.logLevel)
  if (config.memoryLimit != null) log.info({ memoryLimit: config.memoryLimit, heapSizeLimit: (await import('node:v8')).getHeapStatistics().heap_size_limit }, 'memory limit')

  const stopping = new AbortController()
  let signals = 0
  const onSignal = (sig: NodeJS.Signals): void => {
    signals++
    if (signals > 1) {
      log.warn({ signal: sig }, 'second signal: exiting now')
      process.exit(sig === 'SIGINT' ? 130 : 143)
    }
    log.info({ signal: sig }, 'shutting down (send again to exit at once)')
    stopping.abort()
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  // relaunched for a memory limit: a parent that is gone (killed outright) takes the daemon with it
  const unwatch = ctx.env[RELAUNCHED_ENV] === '1' ? watchParent(() => { onSignal('SIGTERM') }) : undefined
  try {
    let daemon
    try {
      daemon = await startDaemon(config, { logger: log }, { signal: stopping.signal })
    } catch (err) {
      if ((err as Error).name === 'ConfigError') throw new CliError(`config: ${(err as Error).message}`, 2)
      throw err
    }
    if (!stopping.signal.aborted) await new Promise(resolve => stopping.signal.addEventListener('abort', resolve, { once: true }))
    await daemon.stop()
    log.info('stopped')
    // Stray timers in dependencies must not keep a stopped daemon alive.
    setTimeout(() => { process.exit(process.exitCode ?? 0) }, 3000).unref()
  } finally {
    unwatch?.()
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
}

/**
 * With a memory limit, the V8 heap and malloc settings it implies need a
 * new process (src/daemon/relaunch.ts): runs the daemon in a child started
 * with them and returns its exit code, or undefined to run it here.
 */
async function relaunchForMemory (ctx: CliContext, limit: number | undefined): Promise<number | undefined> {
  if (limit == null) return undefined
  const { memoryBudget } = await import('../../memory-budget.js')
  const settings = memoryBudget(limit).process
  if (settings == null) return undefined
  const plan = relaunchPlan(settings, { env: ctx.env, execArgv: process.execArgv })
  if (plan == null) return undefined
  return await runRelaunched(plan, ctx.env)
}
