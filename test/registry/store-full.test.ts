import type { ServerResponse } from 'node:http'
import { describe, expect, it } from 'vitest'
import { StoreFullError } from '../../src/errors.js'
import { sendFailure } from '../../src/registry/access.js'

/** A ServerResponse that records what the mirror answered. */
function recorder (): { res: ServerResponse, status: () => number | undefined, body: () => string } {
  let status: number | undefined
  let body = ''
  const res = {
    headersSent: false,
    writeHead (s: number) { status = s; return res },
    end (b?: string) { body = b ?? '' },
    destroy () {}
  }
  return { res: res as unknown as ServerResponse, status: () => status, body: () => body }
}

describe('mirror: a full store', () => {
  it('answers 507 with an OCI error body, not a 404 or 500 (issue #9)', () => {
    const r = recorder()
    sendFailure(r.res, new StoreFullError('no space left on disk while writing piece 3'), 'BLOB_UNKNOWN', false)
    expect(r.status()).toBe(507)
    expect(JSON.parse(r.body()).errors[0].message).toMatch(/store is full/)
  })
})
