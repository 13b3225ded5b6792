import { parseRelations } from '../relations.js';

/**
 * The stanzas by package name and by provided name (pkgcachegen.cc finds them through its hash tables), as
 * lists in typed arrays: per name the first entry, per entry its stanza and the next entry. For Debian's
 * indexes that is 65,000 names and 35,000 provided names; as a Map of small arrays they took some 11 MB.
 * Lists keep stanza order; a stanza provides a name once however often its Provides names it.
 */
export class NameIndex {
  private readonly byName = new Map<string, number>();
  private nameNext: Int32Array;
  private readonly provHead = new Map<string, number>();
  private provStanza = new Int32Array(1024);
  private provNext = new Int32Array(1024);
  private nProv = 0;

  constructor(stanzas: number) {
    this.nameNext = new Int32Array(stanzas).fill(-1);
  }

  /** Adds stanza i (stanzas are added in order, numbered from 0). */
  add(i: number, name: string, provides: string | undefined): void {
    // lists are short (a few versions of a name, at most hundreds of providers): the tail is found by walking
    const head = this.byName.get(name);
    if (head === undefined) this.byName.set(name, i);
    else this.nameNext[lastOf(this.nameNext, head)] = i;
    if (!provides) return;
    let prev = '';
    for (const g of parseRelations(provides, false)) {
      for (const r of g) {
        if (r.name === prev) continue;
        prev = r.name;
        const head = this.provHead.get(r.name);
        const tail = head === undefined ? undefined : lastOf(this.provNext, head);
        if (tail !== undefined && this.provStanza[tail] === i) continue;
        const e = this.nProv++;
        if (e === this.provStanza.length) {
          this.provStanza = grow(this.provStanza);
          this.provNext = grow(this.provNext);
        }
        this.provStanza[e] = i;
        this.provNext[e] = -1;
        if (tail === undefined) this.provHead.set(r.name, e);
        else this.provNext[tail] = e;
      }
    }
  }

  /** The stanzas of packages named `name`, in order. */
  named(name: string): number[] {
    const out: number[] = [];
    for (let i = this.byName.get(name) ?? -1; i >= 0; i = this.nameNext[i]!) out.push(i);
    return out;
  }

  /** The stanzas that provide `name`, in order. */
  providing(name: string): number[] {
    const out: number[] = [];
    for (let e = this.provHead.get(name) ?? -1; e >= 0; e = this.provNext[e]!) out.push(this.provStanza[e]!);
    return out;
  }

  /** Every stanza that provides something (a stanza once per name it provides). */
  *providers(): Generator<number> {
    for (let e = 0; e < this.nProv; e++) yield this.provStanza[e]!;
  }
}

function lastOf(next: Int32Array, head: number): number {
  let e = head;
  while (next[e]! >= 0) e = next[e]!;
  return e;
}

function grow(a: Int32Array): Int32Array<ArrayBuffer> {
  const b = new Int32Array(a.length * 2);
  b.set(a);
  return b;
}
