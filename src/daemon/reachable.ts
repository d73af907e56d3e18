import { connect } from 'node:net'

/**
 * Where a TCP multiaddr points: `/ip4|ip6|dns|dns4|dns6/<host>/tcp/<port>/…`.
 * Undefined for other transports (the check then skips them).
 */
export function tcpTarget (addr: string): { host: string, port: number } | undefined {
  const m = /^\/(ip4|ip6|dns|dns4|dns6)\/([^/]+)\/tcp\/(\d+)/.exec(addr)
  if (m == null) return undefined
  return { host: m[2], port: Number(m[3]) }
}

/**
 * Opens and closes a TCP connection to a bootstrap address, so a typo or a
 * down bootstrap host is reported at start-up with the address, instead of
 * a daemon that silently sits alone. Resolves to undefined when reachable,
 * or to the reason it is not.
 */
export async function checkReachable (addr: string, timeoutMs: number, options: { signal?: AbortSignal } = {}): Promise<string | undefined> {
  const target = tcpTarget(addr)
  if (target == null) return undefined
  return await new Promise(resolve => {
    const sock = connect({ host: target.host, port: target.port })
    const done = (reason?: string): void => {
      clearTimeout(timer)
      options.signal?.removeEventListener('abort', onAbort)
      sock.destroy()
      resolve(reason)
    }
    const onAbort = (): void => { done('aborted') }
    const timer = setTimeout(() => { done(`no TCP connection within ${timeoutMs} ms`) }, timeoutMs)
    options.signal?.addEventListener('abort', onAbort, { once: true })
    sock.once('connect', () => { done() })
    sock.once('error', (err: NodeJS.ErrnoException) => { done(err.code ?? err.message) })
  })
}
