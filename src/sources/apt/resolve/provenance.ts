import type { Dep, Field, Pkg } from './model.js';

/** What marking records about why packages were tried, for ResolveResult.why and for error messages. */
export class Provenance {
  /** Who got a package installed, through which field (every dependent that did, in order). */
  readonly pulledBy = new Map<Pkg, { by: Pkg; field: Field }[]>();
  /** Who first tried to install a package (for the chain in error messages). */
  readonly triedBy = new Map<Pkg, Pkg>();
  /** The first dependency group of a package that could not be satisfied. */
  readonly failures = new Map<Pkg, Dep[]>();

  recordFailure(p: Pkg, g: Dep[]): void {
    if (!this.failures.has(p)) this.failures.set(p, g);
  }

  recordPull(p: Pkg, by: Pkg, field: Field): void {
    let l = this.pulledBy.get(p);
    if (!l) this.pulledBy.set(p, (l = []));
    l.push({ by, field });
  }
}
