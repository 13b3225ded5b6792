import type { Command } from 'commander';
import type { Cli } from '../common.js';
import * as audit from './audit.js';
import * as build from './build.js';
import * as cache from './cache.js';
import * as diff from './diff.js';
import * as exportSite from './export.js';
import * as fleet from './fleet.js';
import * as history from './history.js';
import * as inspect from './inspect.js';
import * as install from './install.js';
import * as lock from './lock.js';
import * as probe from './probe.js';
import * as pull from './pull.js';
import * as push from './push.js';
import * as report from './report.js';
import * as rollback from './rollback.js';
import * as sbom from './sbom.js';
import * as schema from './schema.js';
import * as serve from './serve.js';
import * as sign from './sign.js';
import * as smoke from './smoke.js';
import * as verify from './verify.js';
import * as why from './why.js';

/**
 * The verbs, in the order --help lists them. Each file holds one verb: its flags, its call into the library
 * (imported when the verb runs, so the box's verify loads no apt, pip, HF or SBOM code) and its human text.
 */
export const verbs: readonly ((program: Command, cli: Cli) => void)[] = [
  lock.register,
  build.register,
  verify.register,
  sign.register,
  inspect.register,
  install.register,
  smoke.register,
  history.register,
  rollback.register,
  why.register,
  audit.register,
  probe.register,
  schema.register,
  // The security reviewer's views: sbom, diff, report.
  sbom.register,
  diff.register,
  report.register,
  // The site: the bundle for the users' own tools (apt, pip, huggingface_hub), served or as a tree for nginx.
  serve.register,
  exportSite.register,
  // Registries: the bundle as an OCI artifact.
  push.register,
  pull.register,
  // Many boxes: one page from the results the Ansible role fetched.
  fleet.register,
  // Upkeep of the build host's shared blob cache.
  cache.register,
];
