/**
 * The write buffers of store/writer.ts: page-aligned (for O_DIRECT) and pooled across puts.
 */

/**
 * One write: ~200 a second for a 100 MB/s stream. 1 MiB slots made half as many writes (~0.2 s less CPU per
 * GiB here) but a 16 MiB slab for 8 downloads; 512 KiB keeps it at 8 MiB (issue #14: build's peak RSS).
 */
export const SLOT_BYTES = 512 * 1024;
type WasmMemory = { buffer: ArrayBuffer };
const Wasm = (globalThis as { WebAssembly?: { Memory: new (d: { initial: number; maximum: number }) => WasmMemory } }).WebAssembly;

/**
 * Page-aligned buffers, reused across puts. WebAssembly memory is the one page-aligned allocation JavaScript
 * can ask for (V8 maps it on its own pages); Buffer.alloc gives no alignment guarantee. Allocated in slabs of
 * SLAB_SLOTS buffers: the pool holds as many as were ever in use at once (2 per running put), until
 * releaseIdleSlots() lets them go when a phase of downloads is over.
 */
const SLAB_SLOTS = 16;
const pool: Buffer[] = [];
const aligned = new WeakSet<Buffer>();
let alignedOk = Wasm !== undefined;
let slotsOut = 0;

/**
 * Drops the pooled slabs when no put holds a slot (after a build's fetch: 8 MiB of touched pages the assembly
 * has no use for); the next collection unmaps them and a later put makes a new slab. Returns whether it did.
 */
export function releaseIdleSlots(): boolean {
  if (slotsOut > 0) return false;
  pool.length = 0;
  return true;
}

export function takeSlot(): Buffer {
  if (pool.length === 0 && alignedOk) {
    try {
      const mem = new Wasm!.Memory({ initial: (SLAB_SLOTS * SLOT_BYTES) >> 16, maximum: (SLAB_SLOTS * SLOT_BYTES) >> 16 });
      for (let i = 0; i < SLAB_SLOTS; i++) {
        const b = Buffer.from(mem.buffer, i * SLOT_BYTES, SLOT_BYTES);
        aligned.add(b);
        pool.push(b);
      }
    } catch {
      alignedOk = false; // out of address space for wasm memories, or WebAssembly disabled (--jitless)
    }
  }
  const b = pool.pop();
  if (!b) return Buffer.allocUnsafeSlow(SLOT_BYTES);
  slotsOut++;
  return b;
}

export function giveSlot(b: Buffer): void {
  if (!aligned.has(b)) return;
  slotsOut--;
  pool.push(b);
}

/** Whether the slots handed out are page-aligned (WebAssembly memory could be had). */
export function alignedSlots(): boolean {
  return alignedOk;
}
