import type { BackendManifest } from '@keymint/core';

/**
 * How keymint knows this backend without loading it (`@keymint/backend-keychain/manifest`): it
 * imports nothing at run time (and is CommonJS: reading it does not start Node's ES module
 * loader), so `--help` never loads the keychain binding.
 */
const manifest: BackendManifest = {
  apiVersion: 1,
  name: 'keychain',
  summary:
    'the private JWK kept in the OS keychain (macOS Keychain, Windows Credential Manager, Secret Service, keyutils); the private file is a reference',
  install: 'npm install --global @keymint/backend-keychain',
  flags: [
    {
      flags: '--keychain-service <name>',
      option: 'service',
      description: 'keychain service the key is stored under (default: keymint)',
    },
    {
      flags: '--keychain-account <name>',
      option: 'account',
      description: 'keychain account of the key (default: its kid)',
    },
    {
      flags: '--keychain-store <store>',
      option: 'store',
      choices: ['secret-service', 'keyutils'],
      description:
        'Linux store: secret-service or keyutils (default: the Secret Service if one answers on the D-Bus session bus, else keyutils)',
    },
  ],
  environment: [],
  operations: ['list', 'delete', 'describe'],
  commonFlags: { force: 'overwrite' },
  aliases: { keys: 'list', delete: 'delete' },
  load: async () => (await import('./index.js')).default,
};

export = manifest;
