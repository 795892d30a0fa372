import type { BackendManifest } from '@keymint/core';

/**
 * How keymint knows this backend without loading it (`@keymint/backend-pkcs11/manifest`): it
 * imports nothing at run time (and is CommonJS: reading it does not start Node's ES module
 * loader), so `--help` never loads graphene-pk11 or a PKCS#11 module.
 */
const manifest: BackendManifest = {
  apiVersion: 1,
  name: 'pkcs11',
  summary:
    'keys made and kept inside an HSM or TPM over PKCS#11; the private key never leaves the token and the private file is a reference',
  install:
    'npm install --global @keymint/backend-pkcs11 (it builds the native pkcs11js addon: python3, make and a C++ compiler), and a PKCS#11 module such as softhsm2',
  flags: [
    {
      flags: '--pkcs11-uri <uri>',
      option: 'uri',
      env: 'KEYMINT_PKCS11_URI',
      description:
        "the token (and the new key's label and id) as an RFC 7512 URI, e.g. 'pkcs11:token=NAME?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:PIN-FILE' (else KEYMINT_PKCS11_URI); its module counts as trusted for this run",
    },
    {
      flags: '--pkcs11-module <path>',
      option: 'modulePath',
      env: 'KEYMINT_PKCS11_MODULE',
      description: 'the PKCS#11 module when the URI names none (else KEYMINT_PKCS11_MODULE); trusted for this run',
    },
  ],
  environment: [
    {
      name: 'KEYMINT_PKCS11_PIN',
      description: 'the user PIN, when the URI has no pin-source (else it is asked on the terminal)',
    },
    {
      name: 'KEYMINT_PKCS11_MODULES',
      description:
        'PKCS#11 modules you trust on this machine, absolute paths separated by ":" (see "Which PKCS#11 modules keymint loads")',
    },
  ],
  operations: ['list', 'delete', 'describe'],
  aliases: { tokens: 'describe', keys: 'list' },
  help: `Examples:
  $ keymint keys describe --backend pkcs11 --pkcs11-module /usr/lib/softhsm/libsofthsm2.so
  $ keymint keys list --backend pkcs11 --pkcs11-uri 'pkcs11:token=demo?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:pin.txt'
  $ keymint create --backend pkcs11 --pkcs11-uri 'pkcs11:token=demo?module-path=/usr/lib/softhsm/libsofthsm2.so' key.pub.json key.json

The PIN: pin-source=file:PATH in the URI, else KEYMINT_PKCS11_PIN, else asked on the terminal.

The module: keymint loads one only if p11-kit registers it, it lies in a root-only system module
directory (/usr/lib/softhsm, /usr/lib/x86_64-linux-gnu/pkcs11 ...), or you name it: on the command
line (--pkcs11-uri, --pkcs11-module) for that run, or in KEYMINT_PKCS11_MODULES=/path/a.so:/path/b.so.
The module a key reference names is never trusted for being named there (exit 19).`,
  load: async () => (await import('./index.js')).default,
};

export = manifest;
