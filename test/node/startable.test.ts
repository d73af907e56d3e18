import { describe, expect, it } from 'vitest'
import { startAll, stopAll } from '../../src/startable.js'

function part (name: string, log: string[], opts: { failStart?: boolean, failStop?: boolean } = {}): { start: () => Promise<void>, stop: () => Promise<void> } {
  return {
    async start () {
      if (opts.failStart === true) throw new Error(`${name} cannot start`)
      log.push(`start ${name}`)
    },
    async stop () {
      log.push(`stop ${name}`)
      if (opts.failStop === true) throw new Error(`${name} cannot stop`)
    }
  }
}

describe('startAll / stopAll', () => {
  it('starts in order and stops in reverse order', async () => {
    const log: string[] = []
    const parts = [part('a', log), 'not startable', part('b', log)]
    await startAll(parts)
    await stopAll(parts)
    expect(log).toEqual(['start a', 'start b', 'stop b', 'stop a'])
  })

  it('when a part fails to start, stops those already started, in reverse order, and rethrows', async () => {
    const log: string[] = []
    const parts = [part('a', log), part('b', log), part('c', log, { failStart: true }), part('d', log)]
    await expect(startAll(parts)).rejects.toThrow('c cannot start')
    expect(log).toEqual(['start a', 'start b', 'stop b', 'stop a'])
  })

  it('rethrows the start failure even when stopping an earlier part fails too', async () => {
    const log: string[] = []
    const parts = [part('a', log), part('b', log, { failStop: true }), part('c', log, { failStart: true })]
    await expect(startAll(parts)).rejects.toThrow('c cannot start')
    expect(log).toEqual(['start a', 'start b', 'stop b', 'stop a'])
  })

  it('stopAll stops every part and reports every failure', async () => {
    const log: string[] = []
    const parts = [part('a', log, { failStop: true }), part('b', log), part('c', log, { failStop: true })]
    const err = await stopAll(parts).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(AggregateError)
    expect((err as AggregateError).errors.map(e => (e as Error).message)).toEqual(['c cannot stop', 'a cannot stop'])
    expect(log).toEqual(['stop c', 'stop b', 'stop a'])
  })
})
