/**
 * What the registry mirror parses from a request before anything else runs:
 * the route, repository names, tags, digests, the Range header, the listen
 * address; and what it parses from an upstream: WWW-Authenticate and the
 * HTTP origin's Content-Range and friends. Plus the CLI's image reference.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { parseImageRef } from '../../src/cli/commands/preheat.js'
import { contentLength, parseContentRange, parseRetryAfter, parseUnsatisfiedRange } from '../../src/origin/http-util.js'
import { parseChallenge } from '../../src/origin/oci.js'
import { checkDigest, isValidName, isValidTag, parseListen, parseRoute } from '../../src/registry/index.js'
import { parseRange } from '../../src/registry/range.js'
import { HEADER_BYTES, onlyTyped, params, PARSE_BUDGET_MS, timed } from './fuzz.js'

/** Strings drawn mostly from the characters these grammars care about, so the fuzzer reaches their corners. */
const near = (chars: string, maxLength = 80): fc.Arbitrary<string> =>
  fc.oneof(fc.string({ maxLength }), fc.string({ unit: fc.constantFrom(...chars.split('')), maxLength }))

const rangeHeader = fc.oneof(
  near('bytes=-0123456789 ,\t'),
  fc.tuple(fc.constantFrom('bytes=', ' bytes = ', 'BYTES=', 'bytes=  '), fc.option(fc.nat(), { nil: undefined }), fc.option(fc.nat(), { nil: undefined }), fc.constantFrom('', ' ', ',0-1', '\t'))
    .map(([u, a, b, tail]) => `${u}${a ?? ''}-${b ?? ''}${tail}`))

describe('Range: bytes=…', () => {
  it('parseRange never throws; an ok range is inside the blob and not empty', () => {
    fc.assert(fc.property(fc.option(rangeHeader, { nil: undefined }), fc.nat({ max: 1 << 30 }), (h, size) => {
      const r = parseRange(h, size)
      if (r.kind === 'ok') {
        expect(Number.isSafeInteger(r.start) && Number.isSafeInteger(r.end)).toBe(true)
        expect(r.start).toBeGreaterThanOrEqual(0)
        expect(r.start).toBeLessThan(r.end)
        expect(r.end).toBeLessThanOrEqual(size)
      }
    }), params())
  })

  it('a well-formed bytes=a-b is honoured exactly', () => {
    fc.assert(fc.property(fc.nat({ max: 1000 }), fc.nat({ max: 1000 }), fc.integer({ min: 1, max: 2000 }), (a, len, size) => {
      const r = parseRange(`bytes=${a}-${a + len}`, size)
      if (a >= size) expect(r).toEqual({ kind: 'unsatisfiable' })
      else expect(r).toEqual({ kind: 'ok', start: a, end: Math.min(size, a + len + 1) })
    }), params())
  })

  // Regression (fuzzing found it): `\s*(\d*)\s*` matched a stretch of blanks
  // every way it could split; a 16 KiB header took 1.5 s of the event loop.
  it('no header makes parseRange slow', () => {
    fc.assert(fc.property(fc.constantFrom('bytes=', 'bytes=1-', 'bytes=-', ' '), fc.constantFrom(' ', '\t', '1', '-'), fc.constantFrom('x', '', ','), (head, fill, tail) => {
      const h = head + fill.repeat(HEADER_BYTES) + tail
      expect(timed(() => parseRange(h, 1000))).toBeLessThan(PARSE_BUDGET_MS)
    }), params(30))
  })

  it('the origin side: Content-Range, 416 sizes, Content-Length, Retry-After never throw and stay in range', () => {
    fc.assert(fc.property(near('bytes */0123456789-'), near('0123456789 -'), (cr, n) => {
      const r = parseContentRange(cr)
      if (r != null) {
        expect(r.start).toBeLessThan(r.end)
        expect(r.start).toBeGreaterThanOrEqual(0)
      }
      const u = parseUnsatisfiedRange(cr)
      if (u != null) expect(u).toBeGreaterThanOrEqual(0)
      const len = contentLength({ 'content-length': n })
      if (len != null) expect(len).toBeGreaterThanOrEqual(0)
      const ra = parseRetryAfter(n)
      if (ra != null) expect(ra).toBeGreaterThanOrEqual(0)
    }), params())
  })
})

describe('request paths, names, tags and digests', () => {
  it('parseRoute + isValidName + isValidTag + checkDigest never throw; what they accept is safe', () => {
    const path = fc.oneof(near('/v2abcmnifstblobs:.-_%0123456789'), fc.tuple(near('abc/._-%', 40), fc.constantFrom('manifests', 'blobs'), near('abc:0123456789.-_', 80))
      .map(([n, k, r]) => `/v2/${n}/${k}/${r}`))
    fc.assert(fc.property(path, p => {
      const route = parseRoute(p)
      if (route == null) return
      expect(['manifests', 'blobs']).toContain(route.kind)
      if (isValidName(route.name)) {
        expect(route.name.length).toBeLessThanOrEqual(255)
        expect(route.name).not.toMatch(/\.\.|\/\/|%|^\/|\/$|[A-Z]/)
      }
      if (isValidTag(route.reference)) expect(route.reference).toMatch(/^[A-Za-z0-9_][A-Za-z0-9._-]*$/)
      const d = checkDigest(route.reference)
      if (d === 'ok') expect(route.reference).toMatch(/^sha256:[0-9a-f]{64}$/)
      if (d === 'unsupported') expect(route.reference.startsWith('sha256:')).toBe(false)
    }), params())
  })

  it('no name, tag, digest or path makes the checks slow', () => {
    fc.assert(fc.property(fc.constantFrom('a', 'a-', 'a_', 'a.', 'a/', '-', '_', ':', '/v2/a/manifests/'), fc.constantFrom('!', '', 'A', '/'), (unit, tail) => {
      const s = unit.repeat(Math.ceil(HEADER_BYTES / unit.length)) + tail
      expect(timed(() => { isValidName(s); isValidTag(s); checkDigest(s); parseRoute(s) })).toBeLessThan(PARSE_BUDGET_MS)
    }), params(30))
  })

  it('parseListen: host and port, or ConfigError', () => {
    fc.assert(fc.property(near(':[]0123456789abc.'), s => {
      const l = onlyTyped(() => parseListen(s), ['ConfigError'])
      if (l != null) {
        expect(Number.isInteger(l.port) && l.port >= 0 && l.port <= 65535).toBe(true)
        expect(l.host).not.toBe('')
      }
    }), params())
  })

  it('parseImageRef (CLI): a reference or CliError', () => {
    fc.assert(fc.property(near('abc/:@.-_0123456789', 60), s => {
      const r = onlyTyped(() => parseImageRef(s), ['CliError'])
      if (r != null) expect(r.repository).not.toBe('')
    }), params())
  })
})

describe('WWW-Authenticate from an upstream', () => {
  it('parseChallenge never throws; parameter names are lower-case', () => {
    const header = fc.oneof(near('Bearer realm="https://a/t",service=x scope,\\ ='), fc.string({ unit: 'binary', maxLength: 120 }))
    fc.assert(fc.property(header, h => {
      const c = parseChallenge(h)
      if (c != null) {
        expect(c.raw).toBe(h)
        for (const k of Object.keys(c.params)) expect(k).toBe(k.toLowerCase())
      }
    }), params())
  })

  // Regression (fuzzing found it): the parameter pattern was retried from
  // every letter of a long run of letters; 16 KiB of them took 2 s.
  it('no header makes parseChallenge slow', () => {
    fc.assert(fc.property(fc.constantFrom('a', 'a=', 'a="', 'a=b ', '"', ' ', '\\'), fc.constantFrom('', '!', '"'), (unit, tail) => {
      const h = 'Bearer ' + unit.repeat(Math.ceil(HEADER_BYTES / unit.length)) + tail
      expect(timed(() => parseChallenge(h))).toBeLessThan(PARSE_BUDGET_MS)
    }), params(30))
  })
})
