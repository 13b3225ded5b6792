/** A request or dependency that no package in the sources can satisfy. */
export class ClosureError extends Error {
  readonly package: string;
  constructor(
    readonly code: 'NOT_FOUND' | 'UNSATISFIABLE' | 'VERSION_NOT_FOUND',
    pkg: string,
    message: string,
    readonly missing?: string,
    readonly neededBy: string[] = [],
  ) {
    super(message);
    this.name = 'ClosureError';
    this.package = pkg;
  }
}
