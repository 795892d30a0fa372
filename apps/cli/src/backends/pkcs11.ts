import { ErrorCode, KeymintError, type KeyParamsInput } from '@keymint/core';
import type { BackendEntry } from './types.js';

/** The --pkcs11-uri flag, else KEYMINT_PKCS11_URI. */
export function pkcs11UriOption(options: Record<string, unknown>): string | undefined {
  const flag = options.pkcs11Uri;
  if (typeof flag === 'string' && flag !== '') return flag;
  const env = process.env.KEYMINT_PKCS11_URI;
  return env === undefined || env === '' ? undefined : env;
}

/**
 * The key `keymint create` is about to make, from its flags, so that a token that cannot make it
 * refuses by name before anything else happens. Other commands (sign, jwt) make no key: only
 * create has --backend.
 */
export function keyToCreate(options: Record<string, unknown>): KeyParamsInput | undefined {
  if (typeof options.backend !== 'string') return undefined;
  const text = (value: unknown) => (typeof value === 'string' ? value : undefined);
  return {
    kty: text(options.type),
    crv: text(options.curve),
    size: text(options.size),
    alg: text(options.algorithm),
    use: text(options.use),
    kid: text(options.kid),
    insecure: options.insecure === true,
    subtle: options.subtle === true,
  };
}

/** Warnings of the backend (pin-value in a URI) go to stderr, also with --json (stdout stays JSON). */
export function warnOnStderr(message: string): void {
  process.stderr.write(`keymint: warning: ${message}\n`);
}

export const pkcs11: BackendEntry = {
  name: 'pkcs11',
  summary: 'keys made and kept inside an HSM or TPM over PKCS#11; the private key never leaves the token and the private file is a reference',
  load: () => import('@keymint/backend-pkcs11'),
  install: 'pnpm add @keymint/backend-pkcs11 (it builds the native pkcs11js addon), and a PKCS#11 module such as softhsm2',
  flags: [
    {
      flags: '--pkcs11-uri <uri>',
      description: "the token (and the new key's label and id) as an RFC 7512 URI, e.g. 'pkcs11:token=NAME?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:PIN-FILE' (else KEYMINT_PKCS11_URI)",
    },
  ],
  factoryOptions: ({ options, noPrompt, promptSecret }) => {
    // core writes a reference file next to the key's public JWK, and an oct key has none: refuse
    // before the token is touched rather than leave a secret on it with no file that names it.
    if (options.type === 'oct') {
      throw new KeymintError(ErrorCode.ALG_NOT_SUPPORTED, 'keymint create cannot make an oct key on a token: its reference file needs a public key, and an oct key has none', {
        hint: 'use --backend software for oct keys, or the @keymint/backend-pkcs11 API (createKey with pkcs11Backend)',
      });
    }
    return {
      uri: pkcs11UriOption(options),
      forKey: keyToCreate(options),
      warn: warnOnStderr,
      // --json never prompts: the PIN must then come from pin-source or KEYMINT_PKCS11_PIN.
      ...(noPrompt ? {} : { promptPin: promptSecret }),
    };
  },
};
