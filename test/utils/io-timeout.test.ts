import { createServer, connect, type Socket } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { ioTimeoutSignal, setIoTimeout } from '../../src/utils/io-timeout.js'

const TIMEOUT_MS = 50
/** Longer than the timeout: the process is starved while the answer arrives. */
const STARVED_MS = 200

function busyWait (ms: number): void {
  const end = performance.now() + ms
  while (performance.now() < end) { /* a starved event loop */ }
}

/** A loopback TCP pair: what we write on `server` is readable on `client`. */
async function socketPair (): Promise<{ client: Socket, server: Socket, close: () => void }> {
  const srv = createServer()
  await new Promise<void>(resolve => srv.listen(0, '127.0.0.1', resolve))
  const accepted = new Promise<Socket>(resolve => srv.once('connection', resolve))
  const client = connect((srv.address() as { port: number }).port, '127.0.0.1')
  await new Promise<void>(resolve => client.once('connect', () => { resolve() }))
  const server = await accepted
  return { client, server, close: () => { client.destroy(); server.destroy(); srv.close() } }
}

/**
 * Arms a timer (the plain one, or the I/O-judged one), then has the answer
 * arrive in the socket while one turn of the event loop runs past the
 * timeout (as a node's did, handling a backlog of gossip on a starved
 * core). Returns what happened first: the answer or the expiry.
 */
async function race (kind: 'plain' | 'io', answer: boolean): Promise<string[]> {
  const { client, server, close } = await socketPair()
  cleanups.push(close)
  const events: string[] = []
  const expire = (): void => { events.push('expired') }
  const timer = kind === 'plain' ? setTimeout(expire, TIMEOUT_MS) : setIoTimeout(expire, TIMEOUT_MS)
  client.on('data', () => {
    events.push('answer')
    if (kind === 'plain') clearTimeout(timer as ReturnType<typeof setTimeout>)
    else (timer as ReturnType<typeof setIoTimeout>).clear()
  })
  // A long turn of the loop after its poll (libuv reads the clock once per
  // turn): the next turn runs expired timers before it polls the socket.
  setImmediate(() => {
    if (answer) server.write('x')
    busyWait(STARVED_MS)
  })
  await new Promise(resolve => setTimeout(resolve, STARVED_MS + 4 * TIMEOUT_MS))
  return events
}

const cleanups: Array<() => void> = []
afterEach(() => { for (const c of cleanups.splice(0)) c() })

describe('timeouts judged after an I/O poll', () => {
  it('a plain timer blames the peer for an answer already in the socket of a starved process', async () => {
    expect(await race('plain', true)).toEqual(['expired', 'answer'])
  })

  it('the I/O-judged timer reads the answer first', async () => {
    expect(await race('io', true)).toEqual(['answer'])
  })

  it('still expires when no answer came, and not before its time', async () => {
    expect(await race('io', false)).toEqual(['expired'])
    const t0 = performance.now()
    const fired = await new Promise<number>(resolve => { setIoTimeout(() => { resolve(performance.now() - t0) }, TIMEOUT_MS) })
    expect(fired).toBeGreaterThanOrEqual(TIMEOUT_MS - 1)
  })

  it('refresh starts the full time again; clear stops it', async () => {
    let expired = 0
    const t = setIoTimeout(() => { expired++ }, TIMEOUT_MS)
    for (let i = 0; i < 4; i++) {
      await new Promise(resolve => setTimeout(resolve, TIMEOUT_MS / 2))
      t.refresh()
    }
    expect(expired).toBe(0)
    t.clear()
    await new Promise(resolve => setTimeout(resolve, 2 * TIMEOUT_MS))
    expect(expired).toBe(0)
  })

  it('ioTimeoutSignal aborts with the TimeoutError AbortSignal.timeout uses', async () => {
    const s = ioTimeoutSignal(TIMEOUT_MS)
    await new Promise(resolve => s.addEventListener('abort', resolve, { once: true }))
    expect((s.reason as DOMException).name).toBe('TimeoutError')
  })
})
