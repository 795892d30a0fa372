import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SOFTHSM_MODULE } from './softhsm.js';
import { runTool } from './tools.js';

/**
 * A working PKCS#11 module that tells whether it was ever loaded: its constructor appends a line
 * to a marker file the moment anything dlopens it, before any PKCS#11 call, and its
 * C_GetFunctionList hands out SoftHSM's function list, so a token behind it works as usual.
 */
export interface CanaryModule {
  /** The shared library. */
  path: string;
  /** The file its constructor appends to. */
  marker: string;
  /** How many times the library was loaded (one line per process that loaded it). */
  loads(): number;
}

const SOURCE = `
#include <dlfcn.h>
#include <stdio.h>
#include <unistd.h>

__attribute__((constructor)) static void mark_loaded(void) {
  FILE *marker = fopen(MARKER, "a");
  if (marker == NULL) return;
  fprintf(marker, "loaded by pid %ld\\n", (long)getpid());
  fclose(marker);
}

typedef unsigned long (*get_function_list)(void **);

unsigned long C_GetFunctionList(void **list) {
  void *softhsm = dlopen(TARGET, RTLD_NOW | RTLD_LOCAL);
  if (softhsm == NULL) return 5; /* CKR_GENERAL_ERROR */
  get_function_list forward = (get_function_list)dlsym(softhsm, "C_GetFunctionList");
  if (forward == NULL) return 5;
  return forward(list);
}
`;

/**
 * Builds the canary with `cc` in `dir` (as `name`).
 * @throws Error when there is no C compiler or it fails
 * @example const canary = buildCanaryModule(dir); expect(canary.loads()).toBe(0);
 */
export function buildCanaryModule(dir: string, name = 'libcanary.so'): CanaryModule {
  const source = join(dir, 'canary.c');
  const path = join(dir, name);
  const marker = join(dir, `${name}.loads`);
  writeFileSync(source, SOURCE);
  // JSON strings are C string literals for the plain paths of a temp dir.
  const defines = [`-DMARKER=${JSON.stringify(marker)}`, `-DTARGET=${JSON.stringify(SOFTHSM_MODULE)}`];
  runTool('cc', ['-shared', '-fPIC', '-o', path, ...defines, source, '-ldl']);
  return {
    path,
    marker,
    loads: () => (existsSync(marker) ? readFileSync(marker, 'utf8').split('\n').filter((l) => l !== '').length : 0),
  };
}
