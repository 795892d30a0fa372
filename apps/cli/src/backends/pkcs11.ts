import type { BackendEntry } from './types.js';

/** The --pkcs11-uri flag, else KEYMINT_PKCS11_URI. */
export function pkcs11UriOption(options: Record<string, unknown>): string | undefined {
  const flag = options.pkcs11Uri;
  if (typeof flag === 'string' && flag !== '') return flag;
  const env = process.env.KEYMINT_PKCS11_URI;
  return env === undefined || env === '' ? undefined : env;
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
      description:
        "the token (and the new key's label and id) as an RFC 7512 URI, e.g. 'pkcs11:token=NAME?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:PIN-FILE' (else KEYMINT_PKCS11_URI); " +
        'its module counts as trusted for this run (other modules: KEYMINT_PKCS11_MODULES, see keymint pkcs11 --help)',
    },
  ],
  factoryOptions: ({ options, noPrompt, promptSecret }) => {
    return {
      uri: pkcs11UriOption(options),
      warn: warnOnStderr,
      // --json never prompts: the PIN must then come from pin-source or KEYMINT_PKCS11_PIN.
      ...(noPrompt ? {} : { promptPin: promptSecret }),
    };
  },
};
