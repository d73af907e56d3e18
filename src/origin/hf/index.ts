export { createHubApi, type HubApi, type HubApiInit, type TreeEntry } from './api.js'
export { createPathFilter, listHubFiles, type HubFile, type HubListing, type SelectOptions } from './files.js'
export { createGitBlobHash } from './git-blob.js'
export { DEFAULT_HF_ENDPOINT, checkRepoPath, formatHubRef, parseHubRef, resolveUrl, type HubRef, type RepoType } from './url.js'
