import { isAbsolute, resolve } from 'node:path';
import { ErrorCode, KeymintError, isKeymintError } from '@keymint/core';
import { readInput } from '@keymint/core/files';
import type { Pkcs11Uri } from './pkcs11-uri.js';

/** Where a PIN may come from besides the URI. */
export interface PinSources {
  /** A PIN given by a program through the API. */
  pin?: string | undefined;
  /** The environment to read KEYMINT_PKCS11_PIN from (default: process.env). */
  env?: Record<string, string | undefined> | undefined;
  /** Asks a person (echo off); absent when nobody can be asked (--json, no TTY). */
  promptPin?: ((question: string) => Promise<string>) | undefined;
}

/** The environment variable that may hold the PIN. */
export const PIN_ENV = 'KEYMINT_PKCS11_PIN';

/**
 * The path of a `pin-source` value: `file:/abs`, `file:///abs` or a plain path (made absolute).
 * @throws KeymintError ERR_USAGE for any other scheme (keymint runs no PIN programs)
 * @example pinSourcePath('file:/etc/token_pin') // '/etc/token_pin'
 * @see https://www.rfc-editor.org/rfc/rfc7512#section-2.3 (pin-source)
 */
export function pinSourcePath(pinSource: string): string {
  let path = pinSource;
  if (/^file:/i.test(path)) {
    path = path.slice('file:'.length);
    if (path.startsWith('//')) {
      // file://host/path: only the local host (empty or "localhost") is meaningful here.
      const rest = path.slice(2);
      const slash = rest.indexOf('/');
      const host = slash === -1 ? rest : rest.slice(0, slash);
      if (host !== '' && host !== 'localhost')
        throw new KeymintError(ErrorCode.USAGE, `pin-source ${pinSource} names another host: give a local file`);
      path = slash === -1 ? '' : rest.slice(slash);
    }
  } else if (/^[a-z][a-z0-9+.-]*:/i.test(path) || path.startsWith('|')) {
    throw new KeymintError(
      ErrorCode.USAGE,
      `pin-source ${pinSource} is not supported: keymint reads the PIN only from a file (pin-source=file:/path)`,
    );
  }
  if (path === '')
    throw new KeymintError(ErrorCode.USAGE, 'pin-source is empty: give a file, pin-source=file:/path/to/pin');
  return isAbsolute(path) ? path : resolve(path);
}

/**
 * Reads a PIN file: its first line, trailing whitespace removed.
 * @throws KeymintError ERR_IO when it cannot be read; ERR_PARAM_INVALID when it is empty
 */
export async function readPinFile(path: string): Promise<string> {
  const text = await readInput(path, 'the PIN file (pin-source)');
  const pin = (text.split(/\r?\n/)[0] ?? '').replace(/\s+$/u, '');
  if (pin.length === 0)
    throw new KeymintError(ErrorCode.PARAM_INVALID, `the PIN file ${path} (pin-source) is empty: it must hold the PIN`);
  return pin;
}

/**
 * The PIN for a token, from the first source that has one: the URI's pin-value, the URI's
 * pin-source file, the API's `pin`, KEYMINT_PKCS11_PIN, then a prompt. It is never logged, never
 * put in an error, and never written anywhere.
 * @throws KeymintError ERR_PASSWORD_REQUIRED when there is no source and nobody to ask
 * @example await resolvePin(uri, '"test"', { promptPin: (q) => promptSecret(q) })
 */
export async function resolvePin(uri: Pkcs11Uri, token: string, sources: PinSources): Promise<string> {
  if (uri.pinValue !== undefined) return uri.pinValue;
  if (uri.pinSource !== undefined) return readPinFile(pinSourcePath(uri.pinSource));
  if (sources.pin !== undefined) return sources.pin;
  const fromEnv = (sources.env ?? process.env)[PIN_ENV];
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  const hint = `give it with pin-source=file:/path in the PKCS#11 URI or the ${PIN_ENV} environment variable`;
  if (sources.promptPin === undefined) {
    throw new KeymintError(
      ErrorCode.PASSWORD_REQUIRED,
      `the PIN of token ${token} is needed and there is no terminal to ask for it`,
      { hint },
    );
  }
  let answer: string;
  try {
    answer = await sources.promptPin(`PIN for token ${token}: `);
  } catch (error) {
    if (isKeymintError(error, ErrorCode.PASSWORD_REQUIRED)) {
      throw new KeymintError(
        ErrorCode.PASSWORD_REQUIRED,
        `the PIN of token ${token} is needed and there is no terminal to ask for it`,
        { hint, cause: error },
      );
    }
    throw error;
  }
  if (answer === '') throw new KeymintError(ErrorCode.PARAM_INVALID, `no PIN was entered for token ${token}`);
  return answer;
}
