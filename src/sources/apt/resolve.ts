// The resolver lives in ./resolve/ (one module per part of apt it ports); this keeps the old import path.
export { ClosureError, resolveClosure } from './resolve/index.js';
