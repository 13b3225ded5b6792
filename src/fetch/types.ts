import type { Digest } from '../store/digest.js';
import type { Store } from '../store/store.js';
import type { Reporter } from '../util/events.js';
import type { Limits } from '../util/limits.js';

/** One artifact to put into the store (a source's locked artifact is one). */
export interface FetchItem {
  id: string;
  digest: Digest;
  size: number;
  /** Who pinned its digest (a locked artifact's provenance): a mismatch's hint says what to do about it. */
  provenance?: { kind: string };
}

/** What downloading needs: the store, progress events, Ctrl-C and the retry limits. */
export interface FetchCtx {
  store: Store;
  report: Reporter;
  signal: AbortSignal;
  limits: Pick<Limits, 'retries' | 'retryBaseDelayMs' | 'retryMaxDelayMs'>;
}

/** What a fetch found in the cache and what it downloaded (blobs unique by digest). */
export interface FetchTally {
  /** Every blob needed, and their bytes. */
  files: number;
  bytes: number;
  /** Already in the cache: not downloaded. */
  cachedFiles: number;
  cachedBytes: number;
  /** Downloaded by this run (resumed ones included), and the bytes that came over the wire (a resume's first part did not). */
  downloadedFiles: number;
  transferredBytes: number;
  /** Downloads that went on from a partial file an earlier run (or an earlier attempt) left. */
  resumed: number;
}
