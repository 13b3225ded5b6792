/**
 * The library reports progress as events; only src/cli renders them (TTY bar, plain lines, JSON lines).
 */
export type VaultEvent =
  | { type: 'phase'; phase: string; detail?: string }
  /**
   * Before the first download: every blob the build needs (unique by digest), those already in the cache
   * counted as done from the start. Downloads of ids outside the plan (none today) add to it as they start.
   */
  | { type: 'fetch:plan'; files: number; bytes: number; cachedFiles: number; cachedBytes: number }
  /** `resumeFrom`: bytes already in the partial file (an interrupted run's, or this run's before a retry). */
  | { type: 'download:start'; id: string; size: number; resumeFrom: number }
  | { type: 'download:progress'; id: string; bytes: number }
  | { type: 'download:done'; id: string; size: number; cached: boolean }
  | { type: 'download:retry'; id: string; attempt: number; reason: string; delayMs: number }
  /** Before verify hashes: the files and bytes it will read (a delta's blobs in its base included). */
  | { type: 'verify:plan'; files: number; bytes: number }
  /** Bytes hashed so far in a file still being read (a big file on the calling thread); its verify:file follows. */
  | { type: 'verify:progress'; path: string; bytes: number }
  /** One file hashed and judged; `bytes`: what was read of it. */
  | { type: 'verify:file'; path: string; ok: boolean; bytes: number }
  /** A smoke check starts (`index` of `total`, from 0); a check skipped for its needs gets only check:done. */
  | { type: 'check:start'; id: string; title: string; index: number; total: number }
  | { type: 'check:done'; id: string; status: 'pass' | 'fail' | 'skip' | 'error'; reason?: string; durationMs: number; index: number; total: number }
  | { type: 'warn'; message: string; subject?: string }
  | { type: 'info'; message: string };

export type Reporter = (event: VaultEvent) => void;
