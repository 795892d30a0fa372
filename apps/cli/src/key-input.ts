import {
  ErrorCode,
  KeymintError,
  openPrivateKey,
  parseKeyDocument,
  publicOf,
  type BackendResolver,
  type Jwk,
  type JwkSet,
  type KeyBackend,
  type KeyDocument,
  type OpenedKey,
} from '@keymint/core';
import { readInput, readInputBytes } from '@keymint/core/files';
import { installHint, installedBackends, openBackend } from './backends.js';
import { existingPassword } from './password.js';

/** The name of standard input on the command line. */
export const STDIN = '-';

/**
 * --key, required by every command that signs or verifies (commander cannot say so for `jwt`,
 * whose subcommand has its own flags).
 * @throws KeymintError ERR_USAGE
 */
export function requireKey(options: { key?: string }, command: string): string {
  if (options.key === undefined)
    throw new KeymintError(ErrorCode.USAGE, `${command} needs --key FILE: the private key to sign with`, {
      hint: `see keymint ${command} --help`,
    });
  return options.key;
}

/** The flags every command that reads a key shares (and the backends' own, for key references). */
export interface KeyInputOptions {
  passwordFile?: string;
  json?: boolean;
  [flag: string]: unknown;
}

function usage(message: string, hint?: string): KeymintError {
  return new KeymintError(ErrorCode.USAGE, message, hint === undefined ? {} : { hint });
}

/**
 * Fails when more than one input is standard input: each of `inputs` is [path, flag].
 * @throws KeymintError ERR_USAGE
 */
export function assertOneStdin(inputs: readonly (readonly [string | undefined, string])[]): void {
  const readers = inputs.filter(([path]) => path === STDIN).map(([, flag]) => flag);
  if (readers.length > 1) throw usage(`${readers.join(' and ')} cannot both be standard input ("-")`);
}

function assertStdinNotTerminal(what: string): void {
  if (process.stdin.isTTY)
    throw usage(
      `keymint would read ${what} from standard input, which is a terminal`,
      `give a file, or pipe ${what} in`,
    );
}

/**
 * Reads a small text input (a key, a JWK Set) from a file, or from standard input for "-" unless
 * that is a terminal (a pipe was forgotten: waiting for typed JSON would look like a hang).
 * @throws KeymintError ERR_IO, ERR_INPUT_INVALID (too large), ERR_USAGE
 */
export async function readTextInput(path: string, what: string): Promise<string> {
  if (path === STDIN) assertStdinNotTerminal(`the ${what}`);
  return readInput(path, what);
}

/**
 * Reads a key file (or standard input for "-") and tells what it holds.
 * @throws KeymintError ERR_IO, ERR_INPUT_INVALID, ERR_USAGE (standard input is a terminal)
 */
export async function readKeyDocument(path: string, what = 'key file'): Promise<{ doc: KeyDocument; source: string }> {
  const source = path === STDIN ? 'the key on standard input' : path;
  const text = await readTextInput(path, what);
  return { doc: parseKeyDocument(text, source), source };
}

/** Payloads may be larger than key files, within reason. */
export const MAX_PAYLOAD_BYTES = 16 * 1024 * 1024;

/**
 * Reads a payload as bytes (binary payloads are signed as they are), from a file or standard input.
 * @throws KeymintError ERR_IO, ERR_INPUT_INVALID (too large), ERR_USAGE (standard input is a terminal)
 */
export async function readPayload(path: string, what = 'payload', maxBytes = MAX_PAYLOAD_BYTES): Promise<Uint8Array> {
  if (path === STDIN) assertStdinNotTerminal(`the ${what}`);
  return new Uint8Array(await readInputBytes(path, what, maxBytes));
}

/**
 * The keys one command reads, and the backends it opened for them: one place for the password
 * (--password-file, else KEYMINT_PASSWORD_FILE, else a prompt on the terminal; never with --json)
 * and for backends, which are opened once each and closed by `close`.
 */
export class KeyInputs {
  private readonly opened = new Map<string, Promise<KeyBackend>>();

  constructor(private readonly options: KeyInputOptions) {}

  /** Asks for (or reads) the password of an encrypted key, only when it is needed. */
  password(source: string): () => Promise<string> {
    const fromEnv = process.env.KEYMINT_PASSWORD_FILE;
    const useEnv = this.options.passwordFile === undefined && fromEnv !== undefined && fromEnv !== '';
    const file = useEnv ? fromEnv : this.options.passwordFile;
    const flag = useEnv ? 'KEYMINT_PASSWORD_FILE' : '--password-file';
    return () => existingPassword(source, { file, noPrompt: this.options.json ?? false, flag });
  }

  /** Opens a backend by name (each once), for the key references that name it. */
  readonly backends: BackendResolver = (name) => {
    let backend = this.opened.get(name);
    if (backend === undefined) {
      backend = this.load(name);
      this.opened.set(name, backend);
    }
    return backend;
  };

  private async load(name: string): Promise<KeyBackend> {
    if (!installedBackends().some((b) => b.name === name)) {
      throw new KeymintError(
        ErrorCode.BACKEND_UNAVAILABLE,
        `the key is kept by the "${name}" backend, which this keymint does not have`,
        {
          hint: installHint(name),
        },
      );
    }
    return openBackend(name, { options: this.options, noPrompt: this.options.json ?? false });
  }

  /** Opens a key document already read (see `openPrivate`). */
  async openDocument(doc: KeyDocument, source: string): Promise<OpenedKey> {
    return openPrivateKey(doc, { source, password: this.password(source), backends: this.backends });
  }

  /**
   * Opens a private key in any form (encrypted JWK, plain JWK, key reference), through core's
   * one path `openPrivateKey`.
   */
  async openPrivate(path: string, what = 'key file'): Promise<OpenedKey & { source: string }> {
    const { doc, source } = await readKeyDocument(path, what);
    return { ...(await this.openDocument(doc, source)), source };
  }

  /** The public form of a key file (a set gives a set); oct keys only with `allowSecret`. */
  async publicForm(
    path: string,
    options: { allowSecret?: boolean; what?: string } = {},
  ): Promise<{ value: Jwk | JwkSet; doc: KeyDocument; source: string }> {
    const { doc, source } = await readKeyDocument(path, options.what);
    const value = await publicOf(doc, {
      source,
      password: this.password(source),
      allowSecret: options.allowSecret ?? false,
    });
    return { value, doc, source };
  }

  /** Closes every backend opened; safe to call more than once. */
  async close(): Promise<void> {
    const backends = [...this.opened.values()];
    this.opened.clear();
    for (const backend of backends) await backend.then((b) => b.close()).catch(() => undefined);
  }
}

/** Runs `action` with a `KeyInputs`, and closes the backends it opened whatever happens. */
export async function withKeyInputs<T>(
  options: KeyInputOptions,
  action: (inputs: KeyInputs) => Promise<T>,
): Promise<T> {
  const inputs = new KeyInputs(options);
  try {
    return await action(inputs);
  } finally {
    await inputs.close();
  }
}

/** True when a value is a JWK Set rather than a single JWK. */
export function isKeySet(value: Jwk | JwkSet): value is JwkSet {
  return Array.isArray((value as JwkSet).keys);
}

/** JSON as keymint prints it: indented with two spaces. */
export function prettyJson(value: unknown): string {
  return JSON.stringify(value, null, 2);
}

/**
 * Parses repeated `name=value` flags (--claim, --header). A value that is valid JSON is taken as
 * JSON (numbers, booleans, arrays, objects, quoted strings); anything else is a string.
 * @throws KeymintError ERR_PARAM_INVALID for a missing "=", an empty name or a name given twice
 * @example parseAssignments(['scope=read', 'n=5'], '--claim') // { scope: 'read', n: 5 }
 */
export function parseAssignments(values: readonly string[] | undefined, flag: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const item of values ?? []) {
    const eq = item.indexOf('=');
    if (eq <= 0)
      throw new KeymintError(ErrorCode.PARAM_INVALID, `${flag} "${item}" is not name=value`, {
        hint: `e.g. ${flag} scope=read`,
      });
    const name = item.slice(0, eq);
    const raw = item.slice(eq + 1);
    if (name === '__proto__')
      throw new KeymintError(ErrorCode.PARAM_INVALID, `${flag} ${name} is not a name keymint accepts`);
    if (Object.hasOwn(out, name)) throw new KeymintError(ErrorCode.PARAM_INVALID, `${flag} ${name} is given twice`);
    let value: unknown = raw;
    try {
      value = JSON.parse(raw);
    } catch {
      // not JSON: a plain string
    }
    out[name] = value;
  }
  return out;
}
