import { readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { Command } from 'commander';
import {
  BACKEND_API_VERSION,
  ErrorCode,
  KeymintError,
  SOFTWARE_BACKEND,
  oneOf,
  type BackendFlag,
  type BackendManifest,
  type KeyBackend,
} from '@keymint/core';
import { promptSecret } from './prompt.js';

/**
 * Backends are plug-ins: packages named `@keymint/backend-<name>` (keymint's own) or
 * `keymint-backend-<name>` (anyone's), installed where keymint itself is, each exporting a
 * manifest as `./manifest`. Nothing here names a backend: `--backend`, its flags, help, install
 * hints and the `keys` commands all come from the manifests found.
 */
const SCOPE = '@keymint';
const SCOPED_PREFIX = 'backend-';
const PREFIX = 'keymint-backend-';
const NAME = /^[a-z0-9][a-z0-9-]*$/;

/** A backend package found next to keymint, not loaded yet. */
export interface InstalledBackend {
  name: string;
  packageName: string;
  /** Where it is installed; undefined for a backend built into this keymint's bundle. */
  directory: string | undefined;
}

let installed: InstalledBackend[] | undefined;

/**
 * Backends built into the running keymint: the bundle (apps/cli/build.mjs) carries the backends
 * the CLI depends on, so the one every run uses loads with the CLI's own code, not as a second
 * copy of @keymint/core through Node's ES module loader. By package name.
 */
const builtIn = new Map<string, BackendManifest>();

/** Called by the bundle, before keymint runs, for each backend it carries. */
export function addBuiltInBackend(packageName: string, manifest: BackendManifest): void {
  builtIn.set(packageName, manifest);
  installed = undefined;
}

/** The backend's name from its package name, or undefined when the name does not follow the convention. */
function backendName(packageName: string): string | undefined {
  const name = packageName.startsWith(`${SCOPE}/${SCOPED_PREFIX}`)
    ? packageName.slice(SCOPE.length + 1 + SCOPED_PREFIX.length)
    : packageName.startsWith(PREFIX)
      ? packageName.slice(PREFIX.length)
      : undefined;
  // `--no-...` flags are commander's negations: a backend called "no" could not have flags of its own.
  return name !== undefined && NAME.test(name) && name !== 'no' ? name : undefined;
}

function entries(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** The backends built into this keymint: found without listing a directory. */
function builtInBackends(): InstalledBackend[] {
  return [...builtIn.keys()].flatMap((packageName) => {
    const name = backendName(packageName);
    return name === undefined ? [] : [{ name, packageName, directory: undefined }];
  });
}

function builtInBackend(name: string): InstalledBackend | undefined {
  return builtInBackends().find((b) => b.name === name);
}

/**
 * The backend packages installed where this keymint is: every node_modules directory Node would
 * look in from keymint's own files, nearest first (the first of a name wins). Reads directory
 * listings only: no package is loaded.
 */
export function installedBackends(): InstalledBackend[] {
  if (installed !== undefined) return installed;
  const found = new Map<string, InstalledBackend>(builtInBackends().map((b) => [b.name, b]));
  for (const dir of createRequire(import.meta.url).resolve.paths(`${PREFIX}x`) ?? []) {
    const packageNames = [...entries(join(dir, SCOPE)).map((e) => `${SCOPE}/${e}`), ...entries(dir)];
    for (const packageName of packageNames) {
      const name = backendName(packageName);
      if (name === undefined || found.has(name)) continue;
      found.set(name, { name, packageName, directory: join(dir, packageName) });
    }
  }
  // The default backend first, then by name: the order --help and messages list them in.
  // Names are ASCII: compared by code unit. (localeCompare would load ICU's collation data: ~15 ms.)
  const rank = (b: InstalledBackend) => (b.name === SOFTWARE_BACKEND ? '' : b.name);
  installed = [...found.values()].sort((a, b) => (rank(a) < rank(b) ? -1 : rank(a) > rank(b) ? 1 : 0));
  return installed;
}

/** How to install the backend called `name`, from the naming convention (its manifest is not there to say). */
export function installHint(name: string): string {
  return `install it next to keymint: npm install --global @keymint/backend-${name} (keymint's own), or a third party's keymint-backend-${name}`;
}

function notInstalled(name: string): KeymintError {
  const names = installedBackends().map((b) => b.name);
  return new KeymintError(
    ErrorCode.BACKEND_UNAVAILABLE,
    `no backend "${name}" is installed${names.length === 0 ? '' : ` (installed: ${oneOf(names)})`}`,
    {
      hint: installHint(name),
    },
  );
}

/**
 * Fails unless a backend of that name is installed: a `--backend` naming none is a usage error,
 * with what is installed and how to install the one named.
 * @throws KeymintError ERR_USAGE
 */
export function assertInstalled(name: string, flag = '--backend'): void {
  if (builtInBackend(name) !== undefined || installedBackends().some((b) => b.name === name)) return;
  const names = installedBackends().map((b) => b.name);
  throw new KeymintError(
    ErrorCode.USAGE,
    `${flag} "${name}" is not a backend installed here${names.length === 0 ? '' : `: use ${oneOf(names)}`}`,
    { hint: installHint(name) },
  );
}

/** The file a package exports as `./manifest`, from its package.json (a CommonJS one first). */
function manifestFile(directory: string): string | undefined {
  let pkg: { exports?: Record<string, unknown> };
  try {
    pkg = JSON.parse(readFileSync(join(directory, 'package.json'), 'utf8')) as typeof pkg;
  } catch {
    return undefined;
  }
  const entry = pkg.exports?.['./manifest'];
  const conditions = entry as Record<string, unknown> | undefined;
  const target = typeof entry === 'string' ? entry : (conditions?.require ?? conditions?.default ?? conditions?.import);
  return typeof target === 'string' ? join(directory, target) : undefined;
}

const manifests = new Map<string, Promise<BackendManifest>>();

async function loadManifest(backend: InstalledBackend): Promise<BackendManifest> {
  const broken = (why: string, cause?: unknown) =>
    new KeymintError(
      ErrorCode.BACKEND_UNAVAILABLE,
      `${backend.packageName} is not a keymint backend this keymint can use: ${why}`,
      {
        ...(cause === undefined ? {} : { cause }),
        hint: `reinstall it, or remove it from ${backend.directory ?? 'keymint'}`,
      },
    );
  let manifest = builtIn.get(backend.packageName);
  if (manifest === undefined && backend.directory !== undefined) {
    const file = manifestFile(backend.directory);
    if (file === undefined) throw broken('its package.json exports no "./manifest"');
    try {
      // require(), not import(): the CLI runs as one CommonJS file compiled from a code cache, where
      // a dynamic import needs an experimental loader hook. Node 20.19 and later require ES modules;
      // a CommonJS manifest (keymint's own) exports the manifest itself, an ES module its default.
      const exported = createRequire(import.meta.url)(file) as Partial<BackendManifest> & { default?: BackendManifest };
      manifest = exported?.apiVersion !== undefined ? (exported as BackendManifest) : exported?.default;
    } catch (cause) {
      throw broken('its manifest could not be loaded', cause);
    }
  }
  if (manifest?.apiVersion !== BACKEND_API_VERSION)
    throw broken(
      `it is written for backend API version ${String(manifest?.apiVersion)}, and this keymint uses ${BACKEND_API_VERSION}`,
    );
  if (manifest.name !== backend.name)
    throw broken(`its manifest names it "${String(manifest.name)}", not "${backend.name}"`);
  const stray = (manifest.flags ?? []).find((f) => !longFlag(f.flags).startsWith(`--${backend.name}-`));
  if (stray !== undefined) throw broken(`its flag ${longFlag(stray.flags)} does not start with --${backend.name}-`);
  return manifest;
}

/** The long name of a flag as a manifest gives it: `--pkcs11-uri` of `--pkcs11-uri <uri>`. */
function longFlag(flags: string): string {
  return /--[a-z0-9-]+/.exec(flags)?.[0] ?? flags;
}

/**
 * The manifest of the backend called `name`.
 * @throws KeymintError ERR_BACKEND_UNAVAILABLE when none is installed (with its install command) or it is broken
 */
export function manifestOf(name: string): Promise<BackendManifest> {
  let manifest = manifests.get(name);
  if (manifest === undefined) {
    // A built-in backend comes first in installedBackends() too: no directory is listed for it.
    const backend = builtInBackend(name) ?? installedBackends().find((b) => b.name === name);
    manifest = backend === undefined ? Promise.reject(notInstalled(name)) : loadManifest(backend);
    manifests.set(name, manifest);
  }
  return manifest;
}

/** The manifests of every installed backend that loads, in name order (broken ones are left out here). */
export async function allManifests(): Promise<BackendManifest[]> {
  return manifestsOf(installedBackends());
}

async function manifestsOf(backends: readonly InstalledBackend[]): Promise<BackendManifest[]> {
  const loaded = await Promise.allSettled(backends.map((b) => manifestOf(b.name)));
  return loaded.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
}

/**
 * The manifests a command line needs to be parsed and run: the default backend's, the one
 * `--backend` names, and each backend one of whose flags it uses. A backend's flags all start with
 * `--<name>-` (loadManifest holds every manifest to that), so the others are not read: each
 * read costs a module load. Help needs every manifest; see allManifests.
 */
export function manifestsFor(argv: readonly string[]): Promise<BackendManifest[]> {
  const named = new Set<string>([SOFTWARE_BACKEND]);
  for (const [i, arg] of argv.entries()) {
    if (arg === '--backend' && argv[i + 1] !== undefined) named.add(argv[i + 1] as string);
    else if (arg.startsWith('--backend=')) named.add(arg.slice('--backend='.length));
  }
  // With no flag that a backend could own and only built-in backends named, the node_modules
  // directories need not be listed (`create --kty EC --no-password`, the most common run).
  const backendFlag = argv.some((arg) => /^--[a-z0-9]+-/.test(arg) && !arg.startsWith('--no-'));
  const candidates =
    !backendFlag && [...named].every((n) => builtInBackend(n) !== undefined) ? builtInBackends() : installedBackends();
  return manifestsOf(candidates.filter((b) => named.has(b.name) || argv.some((arg) => arg.startsWith(`--${b.name}-`))));
}

/** commander's attribute for a flag: `--some-flag <value>` is `someFlag`. */
export function attributeOf(flags: string): string {
  const long = /--([a-z0-9-]+)/.exec(flags)?.[1] ?? flags;
  return long.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** Adds the flags of every backend to a command that makes or uses keys, each marked with its backend. */
export function addBackendFlags(command: Command, backends: readonly BackendManifest[]): Command {
  for (const backend of backends) {
    for (const flag of backend.flags) {
      if (command.options.some((o) => o.attributeName() === attributeOf(flag.flags))) continue;
      const env = flag.env === undefined ? '' : ` (else ${flag.env})`;
      command.option(
        flag.flags,
        `[${backend.name}] ${flag.description}${flag.description.includes(flag.env ?? '\0') ? '' : env}`,
      );
    }
  }
  return command;
}

function checkChoice(flag: BackendFlag, value: unknown): void {
  if (flag.choices === undefined || flag.choices.includes(String(value))) return;
  const long = longFlag(flag.flags);
  const noun = /<([^>]+)>/.exec(flag.flags)?.[1] ?? 'value';
  throw new KeymintError(ErrorCode.USAGE, `${long} "${String(value)}" is not a ${noun}: use ${oneOf(flag.choices)}`);
}

/** What a command tells the backends it opens: its parsed flags, and whether it may ask. */
export interface BackendContext {
  /** The command's parsed options (commander's attribute names). */
  options: Record<string, unknown>;
  /** True with --json: a backend must not ask on the terminal. */
  noPrompt: boolean;
}

/** Warnings of a backend (a PIN in a URI) go to stderr, also with --json: stdout stays JSON. */
function warnOnStderr(message: string): void {
  process.stderr.write(`keymint: warning: ${message}\n`);
}

/**
 * A backend's factory options from the command line, as its manifest maps them: each flag (else
 * its environment variable), the common flags it reads, and how to ask and to warn.
 * @throws KeymintError ERR_USAGE for a value outside a flag's choices
 */
export function backendOptions(manifest: BackendManifest, context: BackendContext): Record<string, unknown> {
  const out: Record<string, unknown> = { warn: warnOnStderr, env: process.env, singleOperation: true };
  for (const flag of manifest.flags) {
    let value = context.options[attributeOf(flag.flags)];
    if (value === undefined && flag.env !== undefined && (process.env[flag.env] ?? '') !== '')
      value = process.env[flag.env];
    if (value === undefined) continue;
    checkChoice(flag, value);
    out[flag.option] = value;
  }
  for (const [common, option] of Object.entries(manifest.commonFlags ?? {})) {
    const value = context.options[attributeOf(`--${common}`)];
    if (value !== undefined) out[option] = value;
  }
  if (!context.noPrompt) {
    out.promptSecret = (question: string) =>
      promptSecret(
        question,
        () =>
          new KeymintError(
            ErrorCode.PASSWORD_REQUIRED,
            `${question.replace(/:\s*$/, '')}: there is no terminal to ask on`,
          ),
      );
  }
  return out;
}

/**
 * Loads and starts the backend called `name` with the options its manifest takes from the command line.
 * @throws KeymintError ERR_BACKEND_UNAVAILABLE when it is not installed or cannot load, ERR_USAGE, and the factory's errors
 */
export async function openBackend(name: string, context: BackendContext): Promise<KeyBackend> {
  const manifest = await manifestOf(name);
  const options = backendOptions(manifest, context);
  let factory: (options: Record<string, unknown>) => Promise<KeyBackend>;
  try {
    factory = (await manifest.load()) as unknown as typeof factory;
  } catch (cause) {
    throw new KeymintError(ErrorCode.BACKEND_UNAVAILABLE, `the ${name} backend could not be loaded`, {
      cause,
      hint: `install it: ${manifest.install}`,
    });
  }
  return factory(options);
}
