/**
 * Default folders of the daemon, in a module light enough for every CLI
 * start (Node built-ins only): the CLI needs them to find the API token.
 */
import { homedir } from 'node:os'
import { join } from 'node:path'

/** `$XDG_DATA_HOME/starling`, default `~/.local/share/starling`. */
export function defaultDataDir (env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_DATA_HOME ?? join(homedir(), '.local', 'share')
  return join(base, 'starling')
}

/**
 * Per-user folder for the API records (src/daemon/api-token.ts):
 * `$XDG_RUNTIME_DIR/starling` (a per-user tmpfs, mode 0700, made for this),
 * else `$XDG_STATE_HOME/starling/run` (default `~/.local/state`).
 */
export function defaultRuntimeDir (env: NodeJS.ProcessEnv = process.env): string {
  if (env.XDG_RUNTIME_DIR != null && env.XDG_RUNTIME_DIR !== '') return join(env.XDG_RUNTIME_DIR, 'starling')
  const state = env.XDG_STATE_HOME != null && env.XDG_STATE_HOME !== '' ? env.XDG_STATE_HOME : join(homedir(), '.local', 'state')
  return join(state, 'starling', 'run')
}
