import { lstatSync, readdirSync, realpathSync, statSync, type Stats } from 'node:fs';
import { dirname, isAbsolute, join, resolve, sep } from 'node:path';
import { ErrorCode, KeymintError } from '@keymint/core';
import { registeredModuleFile, SYSTEM_MODULE_PLACES, type ModulePlaces } from './module-places.js';
import { parsePkcs11Uri } from './parse-pkcs11-uri.js';
import type { Pkcs11Uri } from './pkcs11-uri.js';
import { findModuleByName } from './resolve-module-path.js';
import { shownPath } from './shown-path.js';

/** The environment variables that name modules the user trusts. */
export const MODULE_TRUST_ENV = {
  /** Modules the user trusts on this machine: absolute paths separated by ':'. */
  modules: 'KEYMINT_PKCS11_MODULES',
  /** The module to use when a URI names none: the user chose it. */
  module: 'KEYMINT_PKCS11_MODULE',
  /** The token's URI: the user chose its module. */
  uri: 'KEYMINT_PKCS11_URI',
} as const;

/** A module keymint may load. */
export interface TrustedModule {
  /**
   * The file to load: the real path that was checked, so that a link changed between the check
   * and the load cannot make keymint load something else.
   */
  file: string;
  /** Why it may be loaded: registered with p11-kit, in a system module directory, or named by the user. */
  reason: 'p11-kit' | 'system' | 'user';
}

function realPath(path: string): string | undefined {
  try {
    return realpathSync(path);
  } catch {
    return undefined;
  }
}

function controlProblem(path: string, stats: Stats): string | undefined {
  if (stats.uid !== 0) return `${shownPath(path)} is owned by uid ${stats.uid}, not root`;
  if ((stats.mode & 0o002) !== 0) return `${shownPath(path)} is writable by everyone`;
  if ((stats.mode & 0o020) !== 0) return `${shownPath(path)} is writable by its group`;
  return undefined;
}

/** The directories above `path`, nearest first, up to the root. */
function directoriesAbove(path: string): string[] {
  const dirs: string[] = [];
  for (let dir = dirname(path); ; dir = dirname(dir)) {
    dirs.push(dir);
    if (dirname(dir) === dir) return dirs;
  }
}

/**
 * Why someone other than root could change what `path` names, or undefined when only root can:
 * the file and every directory along both the path as named and its real path (links resolved)
 * must be owned by root and writable by nobody else. A link's own mode means nothing (it is
 * always 0777 on Linux): who may replace a link is decided by the directory that holds it, and
 * those directories are all checked.
 * @example rootControlProblem('/usr/lib/softhsm/libsofthsm2.so') // undefined
 * @example rootControlProblem('/tmp/x.so') // '/tmp is writable by everyone'
 */
export function rootControlProblem(path: string): string | undefined {
  const named = resolve(path);
  const real = realPath(named);
  if (real === undefined) return `${shownPath(named)} cannot be resolved`;
  const seen = new Set<string>();
  // Along the named path, stat follows links: a linked directory is checked where it really is.
  const checks: [string, (p: string) => Stats][] = [
    [real, lstatSync],
    ...directoriesAbove(named).map((d): [string, (p: string) => Stats] => [d, statSync]),
    ...directoriesAbove(real).map((d): [string, (p: string) => Stats] => [d, lstatSync]),
  ];
  for (const [entry, stat] of checks) {
    if (seen.has(entry)) continue;
    seen.add(entry);
    let stats: Stats;
    try {
      stats = stat(entry);
    } catch {
      return `${shownPath(entry)} cannot be read`;
    }
    const problem = controlProblem(entry, stats);
    if (problem !== undefined) return problem;
  }
  return undefined;
}

/** The module files that root-controlled p11-kit registrations name, as real paths. */
function registeredModules(places: ModulePlaces): Set<string> {
  const found = new Set<string>();
  for (const registry of places.registries) {
    let entries: string[];
    try {
      entries = readdirSync(registry);
    } catch {
      continue;
    }
    for (const entry of entries) {
      if (!entry.endsWith('.module')) continue;
      const registration = join(registry, entry);
      // A registration anyone but root could have written says nothing about what the system trusts.
      if (rootControlProblem(registration) !== undefined) continue;
      const file = registeredModuleFile(registration, places);
      const real = file === undefined ? undefined : realPath(file);
      if (real !== undefined) found.add(real);
    }
  }
  return found;
}

function untrusted(named: string, real: string, why: string): KeymintError {
  const link = real === named ? '' : ` (a link to ${shownPath(real)})`;
  const message = `the PKCS#11 module ${shownPath(named)}${link} is not trusted: ${why}`;
  return new KeymintError(ErrorCode.MODULE_UNTRUSTED, message, {
    hint: `if you trust it, set ${MODULE_TRUST_ENV.modules}=${shownPath(named)} (or register it with p11-kit)`,
  });
}

/**
 * Decides whether keymint may load the PKCS#11 module at `path`; loading a module runs its code.
 * It may when p11-kit registers it, when it lies in a system module directory and only root can
 * change it or any directory above it, or when it is the same file (links resolved on both sides)
 * as one in `chosen`, the modules the user named. A path read from a key reference is none of
 * these by itself: it is data.
 * @throws KeymintError ERR_MODULE_UNTRUSTED naming the path and how to trust it;
 *   ERR_BACKEND_UNAVAILABLE when the path leads to no file
 * @example trustModule('/usr/lib/softhsm/libsofthsm2.so', []).file
 *   // '/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so'
 */
export function trustModule(
  path: string,
  chosen: readonly string[],
  places: ModulePlaces = SYSTEM_MODULE_PLACES,
): TrustedModule {
  const named = resolve(path);
  const real = realPath(named);
  if (real === undefined) {
    throw new KeymintError(ErrorCode.BACKEND_UNAVAILABLE, `the PKCS#11 module ${shownPath(named)} does not exist`);
  }
  if (chosen.some((c) => realPath(resolve(c)) === real)) return { file: real, reason: 'user' };
  if (registeredModules(places).has(real)) return { file: real, reason: 'p11-kit' };
  const dir = places.moduleDirs.find((d) => named.startsWith(d.endsWith(sep) ? d : d + sep));
  if (dir === undefined) {
    const why = 'it is not registered with p11-kit, not in a system module directory and not named by you';
    throw untrusted(named, real, why);
  }
  const problem = rootControlProblem(named);
  if (problem !== undefined) throw untrusted(named, real, `it is in ${dir}, but ${problem}`);
  return { file: real, reason: 'system' };
}

/** What the user named, besides the environment. */
export interface ModuleChoices {
  /** A PKCS#11 URI the user gave (a flag, the API): its module-path or module-name. */
  uri?: Pkcs11Uri | undefined;
  /** A module path the user gave (--pkcs11-module, the API's modulePath). */
  modulePath?: string | undefined;
  /** Modules a program trusts (the API's trustedModules). */
  trustedModules?: readonly string[] | undefined;
}

/**
 * The modules the user chose, for `trustModule`: those of `choices` (given for this run) and of
 * the environment (this machine or session): KEYMINT_PKCS11_MODULE, the module-path of
 * KEYMINT_PKCS11_URI, and every entry of KEYMINT_PKCS11_MODULES. A URI's module-name counts as
 * the file it names. Relative paths are made absolute against the working directory, as
 * when the module itself is looked up, except in KEYMINT_PKCS11_MODULES: a list that trusts
 * code must not change its meaning with the directory a command runs in.
 * @throws KeymintError ERR_USAGE when KEYMINT_PKCS11_MODULES holds a relative path
 * @example trustModule(path, userChosenModules({ modulePath: '/opt/hsm/libhsm.so' }, process.env))
 */
export function userChosenModules(choices: ModuleChoices, env: Record<string, string | undefined>): string[] {
  const chosen: string[] = [];
  const add = (path: string | undefined) => {
    if (path !== undefined && path !== '') chosen.push(resolve(path));
  };
  const addUri = (uri: Pkcs11Uri | undefined) => {
    add(uri?.modulePath);
    if (uri?.moduleName !== undefined) add(findModuleByName(uri.moduleName));
  };
  addUri(choices.uri);
  add(choices.modulePath);
  for (const path of choices.trustedModules ?? []) add(path);
  add(env[MODULE_TRUST_ENV.module]);
  const envUri = env[MODULE_TRUST_ENV.uri];
  if (envUri !== undefined && envUri !== '') {
    let parsed: Pkcs11Uri | undefined;
    try {
      parsed = parsePkcs11Uri(envUri);
    } catch {
      // A malformed KEYMINT_PKCS11_URI trusts nothing; it fails where it is used as the token's URI.
    }
    addUri(parsed);
  }
  for (const entry of (env[MODULE_TRUST_ENV.modules] ?? '').split(':')) {
    if (entry === '') continue;
    if (!isAbsolute(entry)) {
      const name = MODULE_TRUST_ENV.modules;
      const message = `${name} holds the relative path ${shownPath(entry)}: it lists absolute paths of modules`;
      throw new KeymintError(ErrorCode.USAGE, message, {
        hint: `e.g. ${name}=/opt/hsm/lib/libhsm.so:/usr/local/lib/libother.so`,
      });
    }
    add(entry);
  }
  return chosen;
}
