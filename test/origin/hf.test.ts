/** The hf:// pieces that need no server: reference parsing, globs, Link paging, path safety. */
import { describe, expect, it } from 'vitest'
import { nextLink } from '../../src/origin/hf/api.js'
import { createPathFilter, listHubFiles, parseHubRef, type HubApi } from '../../src/origin/hf/index.js'

describe('parseHubRef', () => {
  it('reads repo, revision and path as HfFileSystem spells them', () => {
    expect(parseHubRef('hf://acme/model')).toEqual({ type: 'model', repo: 'acme/model', revision: 'main', path: '' })
    expect(parseHubRef('hf://acme/model@v1.0/sub/w.safetensors')).toEqual({ type: 'model', repo: 'acme/model', revision: 'v1.0', path: 'sub/w.safetensors' })
    expect(parseHubRef('hf://datasets/acme/data@refs%2Fpr%2F1/train')).toEqual({ type: 'dataset', repo: 'acme/data', revision: 'refs/pr/1', path: 'train' })
  })

  it('refuses what it cannot use, with the reason', () => {
    expect(() => parseHubRef('hf://model')).toThrow(/expected hf:\/\/ORG\/REPO/)
    expect(() => parseHubRef('hf://acme/model@')).toThrow(/empty revision/)
    expect(() => parseHubRef('hf://acme/model/../x')).toThrow(/unsafe path/)
    expect(() => parseHubRef('https://acme/model')).toThrow(/not an hf:\/\//)
  })
})

describe('createPathFilter', () => {
  it('a glob without a slash matches names at any depth; with one, the whole path', () => {
    const f = createPathFilter(['*.safetensors', 'onnx/**'], ['*-fp16.*'])
    expect(f('model.safetensors')).toBe(true)
    expect(f('sub/model.safetensors')).toBe(true)
    expect(f('onnx/a/b.onnx')).toBe(true)
    expect(f('model-fp16.safetensors')).toBe(false)
    expect(f('config.json')).toBe(false)
    expect(createPathFilter()('anything/at/all')).toBe(true)
  })
})

describe('nextLink', () => {
  it('finds rel="next" among the links', () => {
    expect(nextLink('<https://h/api/x?cursor=abc>; rel="next"')).toBe('https://h/api/x?cursor=abc')
    expect(nextLink('<https://h/p>; rel="prev", <https://h/n>; rel=next')).toBe('https://h/n')
    expect(nextLink(null)).toBeUndefined()
    expect(nextLink('<https://h/p>; rel="prev"')).toBeUndefined()
  })
})

describe('listHubFiles', () => {
  const api = (entries: unknown[]): HubApi => ({
    endpoint: 'http://hub.invalid',
    commit: async () => 'a'.repeat(40),
    pathsInfo: async () => [],
    tree: async () => entries as any
  })

  it('refuses a path from the hub that would leave the output folder', async () => {
    await expect(listHubFiles(api([{ type: 'file', path: '../../etc/cron.d/x', size: 1, oid: 'b'.repeat(40) }]), parseHubRef('hf://acme/m')))
      .rejects.toThrow(/unsafe path in repo/)
  })

  it('gives LFS files their sha256 as digest, git files their blob id, URLs pinned to the commit', async () => {
    const sha = 'c'.repeat(64)
    const { files } = await listHubFiles(api([
      { type: 'directory', path: 'sub', size: 0, oid: 'd'.repeat(40) },
      { type: 'file', path: 'sub/w 1.bin', size: 134, oid: 'e'.repeat(40), lfs: { oid: sha, size: 5000, pointerSize: 134 } },
      { type: 'file', path: 'config.json', size: 10, oid: 'f'.repeat(40) }
    ]), parseHubRef('hf://acme/m@main'))
    expect(files).toEqual([
      { path: 'config.json', size: 10, gitOid: 'f'.repeat(40), url: `http://hub.invalid/acme/m/resolve/${'a'.repeat(40)}/config.json` },
      { path: 'sub/w 1.bin', size: 5000, digest: `sha256:${sha}`, url: `http://hub.invalid/acme/m/resolve/${'a'.repeat(40)}/sub/w%201.bin` }
    ])
    const lfsOnly = await listHubFiles(api([{ type: 'file', path: 'config.json', size: 10, oid: 'f'.repeat(40) }]), parseHubRef('hf://acme/m'), { lfsOnly: true })
    expect(lfsOnly.files).toEqual([])
  })
})
