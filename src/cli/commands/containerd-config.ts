/**
 * `starling containerd-config`: writes containerd `hosts.toml` files (one
 * per registry, or `_default`) into a certs.d folder so containerd pulls
 * through the mirror, keeping the upstream as `server` so a down mirror
 * never breaks a pull (containerd falls back request by request).
 */
import { mkdir, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { CliError, globals, print, type CliCommand } from '../context.js'

export const DEFAULT_CERTS_DIR = '/etc/containerd/certs.d'

/** The upstream URL containerd keeps as `server` for a registry name. */
export function serverFor (registry: string): string | undefined {
  if (registry === '_default') return undefined
  if (registry === 'docker.io') return 'https://registry-1.docker.io'
  // Loopback registries are usually plain HTTP (tests, local dev); everything else HTTPS.
  return /^(localhost|127\.\d+\.\d+\.\d+)(:\d+)?$/.test(registry) ? `http://${registry}` : `https://${registry}`
}

export function renderHostsToml (registry: string, mirror: string, server = serverFor(registry)): string {
  const lines = [`# written by starling containerd-config: pulls go through the starling mirror, ${server ?? 'the registry itself'} stays the fallback`]
  if (server != null) lines.push(`server = "${server}"`)
  lines.push('', `[host."${mirror}"]`, '  capabilities = ["pull", "resolve"]', '')
  return lines.join('\n')
}

export interface ContainerdConfigOptions {
  mirror: string
  registries: string[]
  dir: string
  /** registry name → server URL overrides. */
  servers?: Record<string, string>
}

/** Writes DIR/<registry>/hosts.toml for each registry (atomically); returns what it wrote. */
export async function writeContainerdConfig (o: ContainerdConfigOptions): Promise<Array<{ path: string, content: string }>> {
  let mirror: URL
  try { mirror = new URL(o.mirror) } catch { throw new CliError(`--mirror: not a URL: ${o.mirror}`, 2) }
  if (mirror.protocol !== 'http:' && mirror.protocol !== 'https:') throw new CliError('--mirror: expected http:// or https://', 2)
  const base = `${mirror.protocol}//${mirror.host}`
  const out: Array<{ path: string, content: string }> = []
  for (const registry of o.registries) {
    if (!/^(_default|[A-Za-z0-9.-]+(:\d+)?)$/.test(registry)) throw new CliError(`--registry: not a registry host: ${registry}`, 2)
    const folder = join(o.dir, registry)
    const path = join(folder, 'hosts.toml')
    const content = renderHostsToml(registry, base, o.servers?.[registry] ?? serverFor(registry))
    await mkdir(folder, { recursive: true })
    await writeFile(`${path}.tmp`, content)
    await rename(`${path}.tmp`, path)
    out.push({ path, content })
  }
  return out
}

export const containerdConfigCommand: CliCommand = (program, ctx) => {
  program.command('containerd-config')
    .description('write containerd hosts.toml files that point pulls at the starling registry mirror')
    .requiredOption('--mirror <url>', 'the mirror, e.g. http://127.0.0.1:5050')
    .option('--registry <name...>', 'registries to mirror (repeatable; _default for all)', ['docker.io'])
    .option('--server <name=url...>', 'upstream URL for a registry (default https://<name>)', [])
    .option('--dir <dir>', 'containerd certs.d folder', DEFAULT_CERTS_DIR)
    .action(async (opts: { mirror: string, registry: string[], server: string[], dir: string }, cmd) => {
      const servers: Record<string, string> = {}
      for (const s of opts.server) {
        const i = s.indexOf('=')
        if (i <= 0) throw new CliError(`--server: expected NAME=URL, got ${s}`, 2)
        servers[s.slice(0, i)] = s.slice(i + 1)
      }
      const written = await writeContainerdConfig({ mirror: opts.mirror, registries: opts.registry, dir: opts.dir, servers })
      print(ctx, globals(cmd), written, () => written.map(w => `wrote ${w.path}:\n${w.content}`).join('\n') +
        '\ncontainerd reads these when its CRI config_path (or ctr --hosts-dir) points at the folder.')
    })
}
