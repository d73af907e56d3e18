/**
 * The local API's bearer token and how the CLI finds it (docs/http-api.md,
 * "Authentication"). The token lives in `<dataDir>/api-token`, mode 0600,
 * created at the daemon's first start and kept afterwards, so only a user who
 * can read the daemon's data folder can use its API.
 *
 * The CLI is usually told only the API address (`--api`, STARLING_API), not
 * the data folder. So on every start the daemon also writes a small record,
 * `<runtimeDir>/api-<host>-<port>.json`, naming its token file; the CLI looks
 * the record up by the address it talks to. The record holds no secret (only
 * a path), and lives in the user's own runtime folder.
 *
 * Node built-ins only: the CLI loads this on every command.
 */
import { randomBytes } from 'node:crypto'
import { chmod, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { ConfigError } from '../errors.js'
import { defaultDataDir, defaultRuntimeDir } from './paths.js'

/** File name of the token inside the data folder. */
export const API_TOKEN_FILE = 'api-token'
/** 32 random bytes, hex: guessing is out of the question. */
const TOKEN_BYTES = 32
const TOKEN_FORMAT = /^[0-9a-f]{64}$/
/** Group or other may read or write: a token anyone can read is no token. */
const LOOSE_MODE_BITS = 0o077

export interface ApiRecord {
  /** `http://host:port` the daemon's API listens on. */
  api: string
  /** Absolute path of the token file. */
  tokenFile: string
  pid: number
}

/** Reads `<dataDir>/api-token`, creating it (mode 0600) on first start; tightens a loose mode. */
export async function loadOrCreateApiToken (dataDir: string): Promise<{ token: string, file: string, created: boolean }> {
  const file = join(dataDir, API_TOKEN_FILE)
  const existing = await readTokenFile(file)
  if (existing != null) {
    if (((await stat(file)).mode & LOOSE_MODE_BITS) !== 0) await chmod(file, 0o600)
    return { token: existing, file, created: false }
  }
  await mkdir(dataDir, { recursive: true })
  const token = randomBytes(TOKEN_BYTES).toString('hex')
  // Written whole under a temporary name, then renamed: never half a token.
  const tmp = `${file}.${process.pid}.tmp`
  await writeFile(tmp, token + '\n', { mode: 0o600 })
  await chmod(tmp, 0o600)
  await rename(tmp, file)
  return { token, file, created: true }
}

/** The token in `file`, undefined when the file does not exist; a malformed file is a ConfigError. */
export async function readTokenFile (file: string): Promise<string | undefined> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined
    throw new ConfigError(`cannot read the API token ${file}: ${code ?? (err as Error).message}`)
  }
  const token = text.trim()
  if (!TOKEN_FORMAT.test(token)) throw new ConfigError(`API token ${file} is malformed: delete it and restart the daemon to create a new one`)
  return token
}

/** `http://127.0.0.1:7483` → `api-127.0.0.1-7483.json` (IPv6 colons become underscores). */
export function apiRecordName (apiUrl: string): string {
  const u = new URL(apiUrl)
  const host = u.hostname.replace(/^\[|\]$/g, '').replace(/:/g, '_')
  return `api-${host}-${u.port === '' ? '80' : u.port}.json`
}

/** Writes the record for a listening API; returns a function that removes it. */
export async function writeApiRecord (runtimeDir: string, record: ApiRecord): Promise<() => Promise<void>> {
  await mkdir(runtimeDir, { recursive: true, mode: 0o700 })
  const file = join(runtimeDir, apiRecordName(record.api))
  const tmp = `${file}.${process.pid}.tmp`
  await writeFile(tmp, JSON.stringify(record) + '\n', { mode: 0o600 })
  await rename(tmp, file)
  return async () => {
    // Only our own record: a later daemon on the same address may have replaced it.
    const now = await readApiRecordFile(file)
    if (now?.pid === record.pid && now.tokenFile === record.tokenFile) await rm(file, { force: true })
  }
}

async function readApiRecordFile (file: string): Promise<ApiRecord | undefined> {
  try {
    const r = JSON.parse(await readFile(file, 'utf8')) as Partial<ApiRecord>
    if (typeof r.api !== 'string' || typeof r.tokenFile !== 'string' || typeof r.pid !== 'number') return undefined
    return r as ApiRecord
  } catch {
    return undefined
  }
}

/** Wildcard listen hosts: a daemon on `0.0.0.0:7483` also answers on `127.0.0.1:7483`. */
const WILDCARD_HOSTS = ['0.0.0.0', '[::]']
const LOOPBACK_HOSTS = ['127.0.0.1', '[::1]']

/**
 * The token for the API at `base`, as the CLI finds it: STARLING_API_TOKEN;
 * the record of the daemon listening on that address (or on a wildcard
 * address with that port); `$STARLING_DATA_DIR/api-token`; the default data
 * folder's token. Undefined when none is found (the daemon then answers 401,
 * and the CLI says where to look).
 */
export async function findApiToken (base: string, env: NodeJS.ProcessEnv): Promise<string | undefined> {
  const fromEnv = env.STARLING_API_TOKEN?.trim()
  if (fromEnv != null && fromEnv !== '') return fromEnv
  const u = new URL(base)
  const dir = defaultRuntimeDir(env)
  const port = u.port === '' ? '80' : u.port
  // `localhost` is how a person types it; the daemon records the address it bound.
  const hosts = u.hostname === 'localhost' ? [u.hostname, ...LOOPBACK_HOSTS] : [u.hostname]
  const candidates = [...hosts, ...WILDCARD_HOSTS].map(h => `http://${h}:${port}`)
  for (const api of candidates) {
    const record = await readApiRecordFile(join(dir, apiRecordName(api)))
    if (record == null) continue
    const token = await readTokenFile(record.tokenFile).catch(() => undefined)
    if (token != null) return token
  }
  for (const dataDir of [env.STARLING_DATA_DIR, defaultDataDir(env)]) {
    if (dataDir == null || dataDir === '') continue
    const token = await readTokenFile(join(dataDir, API_TOKEN_FILE)).catch(() => undefined)
    if (token != null) return token
  }
  return undefined
}
