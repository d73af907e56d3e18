import { pino, type Logger as PinoLogger } from 'pino'
import pretty from 'pino-pretty'
import type { LogLevel } from './config.js'

/**
 * JSON lines on stderr (for log shippers), or pino-pretty when stderr is a
 * terminal (for people). The pretty stream runs in-process and synchronously
 * rather than as a pino transport worker, so the last lines before an exit
 * are never lost.
 */
export function createLogger (level: LogLevel, options: { pretty?: boolean } = {}): PinoLogger {
  const usePretty = options.pretty ?? process.stderr.isTTY === true
  if (usePretty) {
    const stream = pretty({ destination: 2, sync: true, colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' })
    return pino({ level, base: undefined }, stream)
  }
  return pino({ level, base: undefined }, pino.destination({ dest: 2, sync: true }))
}
