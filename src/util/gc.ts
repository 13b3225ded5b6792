import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

type Collect = (o?: { type?: 'minor' | 'major' }) => void;
let collector: Collect | null | undefined;

/** V8's own collector, reached the way `--expose-gc` reaches it (null where that is refused). */
function collect(): Collect | null {
  if (collector === undefined) {
    try {
      setFlagsFromString('--expose-gc');
      collector = runInNewContext('gc') as Collect;
    } catch {
      collector = null;
    }
  }
  return collector;
}

/**
 * Every read from a socket or a decompressor hands out a Buffer of its own; they die at once, but their bytes
 * live outside the JS heap and go only when a collection sweeps them. A download loop allocates so little on
 * the heap that the young generation fills only every few hundred MB, so V8 waited for its external-memory
 * limit (64 MB over the last collection's): 40-70 MB of dead buffers at any time of a 2.7 GB fetch, a third
 * of the build's peak RSS. Callers report the bytes that went through; every 16 MiB a young-generation
 * collection (a millisecond or two: little there survives) frees them. Buffers still queued in a stream when
 * it runs survive it and are promoted, and then only a full collection frees them: a cold build's fetch
 * piled up 30-40 MB of them and 15-20 MB of promoted heap garbage between V8's own full collections, so
 * every 64th time (256 MiB) the collection is a full one (~20-30 ms: some 10 in a 2.7 GB build).
 * Every 4 MiB rather than 16 (issue #14, session 8): at ~150 MB/s, 16 MiB of 64 KiB socket reads piled up
 * between two collections; their malloc'd bytes (glibc's brk heap, never given back once fragmented) set the
 * fetch's peak: live ArrayBuffers p90 31 → 17-20 MB, max 45-48 → 21-29, the fetch's peak RSS 153-157 → 131-134
 * MiB. It costs less CPU, not more (user 24.3 → 21.4 s, means of 4-5 cold builds of nvidia-debian12): V8 no longer
 * starts its own full collections when the dead buffers trip its external-memory limit
 * (bench/results/2026-12-06-build-memory-s8-dev.md). A heap growing factor of 5 during the fetch as well (V8's
 * own full collections: 150-170 a cold build before these young ones) saved ~0.5-1 s of CPU more but cost 8-9 MiB
 * of the build's peak (150-152 vs 142-143 MiB, same runs interleaved): not kept, the peak is issue #14's target.
 */
const EVERY = 4 * 1024 * 1024;
const FULL_EVERY = 64;
let passed = 0;
let minors = 0;

export function passedThrough(bytes: number): void {
  passed += bytes;
  if (passed < EVERY) return;
  passed = 0;
  if (++minors < FULL_EVERY) return collect()?.({ type: 'minor' });
  minors = 0;
  collect()?.();
}

const releasers = new Set<() => void>();

/**
 * Registers what a module can let go of between phases (memory it keeps for reuse, that only its next use
 * needs again: xz's WebAssembly memory); phaseDone() calls each before it collects. Must be safe to call at any
 * time, also while the module is in use (whatever is in use keeps its own references).
 */
export function releaseAtPhaseEnd(release: () => void): void {
  releasers.add(release);
}

/** A full collection, after a phase whose data is all garbage now (the lock's 67,000 index stanzas), so the next starts small. */
export function phaseDone(): void {
  for (const r of releasers) r();
  collect()?.();
}

/**
 * Keeps V8's young generation at the size it starts with (4-8 MB) instead of letting it double up to 32 MB
 * whenever many objects survive a while (the lock's index parse): 25 MB less peak RSS for the lock of
 * Debian's indexes, no measurable CPU cost. Node 18-24 (V8 10-13) have the flag; elsewhere nothing is done,
 * so no unknown-flag message reaches the user.
 */
export function steadyYoungGeneration(): void {
  const major = Number(process.versions.node.split('.')[0]);
  if (major >= START_FLAGS.fromMajor && major <= START_FLAGS.toMajor) setFlagsFromString(START_FLAGS.flags);
}

/**
 * The V8 flags the CLI sets as it starts, and the node majors it sets them on. The carried runtime's boot script
 * (runtime/code-cache.ts) sets the very same before it compiles the packed CLI from its V8 code cache: V8 accepts
 * a cache only under the flags it was made with, so every start flag belongs here and nowhere else.
 * `--liftoff-only`: WebAssembly stays in V8's baseline compiler (Liftoff), no optimizing recompile of hot wasm
 * functions. During a lock that recompile (of the modules in use then: xz-decompress's decoder, undici's HTTP
 * parser) took 20-45 MB of compiler memory on background threads for a few hundred milliseconds, as high as the
 * lock's resolve once its stanzas had moved out of memory, and the pages stayed with the process. The wasm here
 * does little per byte (xz indexes are small, .debs are decompressed by dpkg-deb where it is installed; HTTP bodies
 * pass the parser whole). `--no-wasm-tier-up` set at run time does not take; this does (Node 20-24).
 */
export const START_FLAGS = { flags: '--semi-space-growth-factor=1 --liftoff-only', fromMajor: 18, toMajor: 24 } as const;
