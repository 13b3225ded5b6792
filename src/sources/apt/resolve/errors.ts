/** A request or dependency that no package in the sources can satisfy. */
export class ClosureError extends Error {
  readonly package: string;
  constructor(
    readonly code: 'NOT_FOUND' | 'UNSATISFIABLE' | 'VERSION_NOT_FOUND',
    pkg: string,
    message: string,
    readonly missing?: string,
    readonly neededBy: string[] = [],
    /** What to do, when the resolver knows better than the generic advice. */
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'ClosureError';
    this.package = pkg;
  }
}
