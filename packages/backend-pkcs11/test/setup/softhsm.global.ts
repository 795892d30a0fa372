import type { TestProject } from 'vitest/node';
import { SOFTHSM_TOKENS } from '../fixtures/provided.js';
import { startSoftHsm, stopSoftHsm } from '../fixtures/softhsm.js';

/** One SoftHSM2 token store for the run, in a temp dir; removed at the end. */
export default function setup(project: TestProject): () => void {
  const softhsm = startSoftHsm(Object.values(SOFTHSM_TOKENS));
  project.provide('softhsm', softhsm);
  return () => stopSoftHsm(softhsm);
}
