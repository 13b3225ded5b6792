import { Readable } from 'node:stream';
import xz from 'xz-decompress';
import { releaseAtPhaseEnd } from '../../util/gc.js';

/**
 * xz decompression (xz-decompress: liblzma's decoder in WebAssembly). The library keeps one WebAssembly instance
 * for the process's life, and its memory only grows: to the largest dictionary it ever decoded (8-9 MiB for
 * `xz -6`, the Debian default; 64 MiB for `xz -9`), touched, so resident until exit. Between phases (after the
 * lock's indexes, after the build's licence reads) the instance is dropped (util/gc.ts releaseAtPhaseEnd): a
 * stream still running keeps the instance it started with; the next stream instantiates a fresh one (~1 ms).
 * Issue #14: build's peak RSS.
 */
export function xzDecompressed(raw: Readable): Readable {
  return Readable.fromWeb(new xz.XzReadableStream(Readable.toWeb(raw)));
}

/** The library's cached instance (private statics of xz-decompress 0.2.x); absent in another version: nothing is done. */
interface XzStatics {
  _moduleInstance?: unknown;
  _moduleInstancePromise?: unknown;
}

export function releaseXz(): void {
  const s = xz.XzReadableStream as unknown as XzStatics;
  if (!('_moduleInstance' in s) || s._moduleInstance === undefined) return;
  s._moduleInstance = undefined;
  s._moduleInstancePromise = undefined;
}

releaseAtPhaseEnd(releaseXz);
