import { ErrorCode, KeymintError, isPrivateJwk, type Jwk } from '@keymint/core';
import {
  PRIVATE_FILE_MODE,
  PUBLIC_FILE_MODE,
  checkOutputs,
  readPasswordFile,
  writeFilesAtomically,
} from '@keymint/core/files';
import { exportPem } from '@keymint/core/pem';
import { runAction, type CommandResult } from '../output.js';
import { readKeyDocument, withKeyInputs, type KeyInputOptions } from '../key-input.js';
import type { Command } from 'commander';
import { PASSWORD_FILE_HELP } from '../command.js';
import { confirmOverwrite } from '../prompt.js';

/** Adds `keymint pem` to the program. */
export function register(program: Command): void {
  program
    .command('pem')
    .description('write a key as PEM: SPKI public key, PKCS#8 private key, or encrypted PKCS#8')
    .argument('<key-file>', 'the key file, or - for standard input')
    .option('--public', 'the public key (SPKI), also for a private key or a key reference')
    .option('--out <file>', 'write to this file (private: mode 0600) instead of standard output')
    .option(
      '--pem-password-file <file>',
      'encrypt the private key under the password in this file (PBES2, AES-256-CBC)',
    )
    .option('--no-password', 'write a private key unencrypted (needs --insecure)')
    .option('--insecure', 'allow --no-password')
    .option('-f, --force', 'replace the --out file (on a terminal keymint asks first)')
    .option('--password-file <file>', PASSWORD_FILE_HELP)
    .option('--json', 'print one JSON object; never prompt')
    .addHelpText(
      'after',
      `
Examples:
  $ keymint pem --public key.json                                   # SPKI "PUBLIC KEY"
  $ keymint pem --pem-password-file pw --out key.enc.pem key.json   # encrypted PKCS#8 (PBES2, AES-256-CBC)
  $ keymint pem --no-password --insecure --out key.pem key.json     # PKCS#8 in the clear, mode 0600

A private key is written encrypted (--pem-password-file) or, only with --no-password --insecure, in the clear.`,
    )
    .action(async (file: string, options: PemOptions) => {
      await runAction(options.json ?? false, () => pemCommand(file, options));
    });
}

export interface PemOptions extends KeyInputOptions {
  /** false with --no-password. */
  password?: boolean;
  insecure?: boolean;
  public?: boolean;
  out?: string;
  pemPasswordFile?: string;
  force?: boolean;
}

/**
 * `keymint pem <key-file|->`: the key as PEM: SPKI for a public key (or with --public), PKCS#8 for
 * a private key, encrypted PKCS#8 with --pem-password-file. A key reference has no private PEM:
 * its key cannot leave its backend.
 */
export async function pemCommand(file: string, options: PemOptions): Promise<CommandResult> {
  if (options.public && options.pemPasswordFile !== undefined) {
    throw new KeymintError(
      ErrorCode.USAGE,
      '--pem-password-file encrypts a private key: it cannot be used with --public',
    );
  }
  if (options.force && options.out === undefined)
    throw new KeymintError(ErrorCode.USAGE, '--force replaces the --out file: give --out FILE');
  if (options.password === false && !options.insecure)
    throw new KeymintError(ErrorCode.USAGE, '--no-password requires --insecure: it writes the private key unencrypted');
  if (options.password === false && options.pemPasswordFile !== undefined)
    throw new KeymintError(ErrorCode.USAGE, '--no-password and --pem-password-file cannot be used together');
  const force = options.out !== undefined && (await confirmOverwrite([options.out], options));
  if (options.out !== undefined) {
    // --out must not be the key or a password file: with --force it would replace what pem reads.
    const inputs = [
      [file, 'the key file'],
      [options.passwordFile, '--password-file'],
      [options.pemPasswordFile, '--pem-password-file'],
    ] as const;
    await checkOutputs([options.out], { force, inputs });
  }
  const pemPassword =
    options.pemPasswordFile === undefined
      ? undefined
      : await readPasswordFile(options.pemPasswordFile, '--pem-password-file');
  return withKeyInputs(options, async (inputs) => {
    const { doc, source } = await readKeyDocument(file);
    if (doc.kind === 'jwks' && doc.set.keys.length !== 1) {
      throw new KeymintError(
        ErrorCode.INPUT_INVALID,
        `${source} is a JWK Set of ${doc.set.keys.length} keys: pem converts one key`,
        { hint: 'pick one with keymint keyset find' },
      );
    }
    const inHand = doc.kind === 'jwks' ? doc.set.keys[0] : doc.kind === 'jwk' ? doc.jwk : undefined;
    // Decided before a password is asked for: a private PEM in the clear is a choice, as with
    // create. An oct key has no PEM form at all (exportPem says so).
    const holdsPrivate = doc.kind === 'jwe' || (inHand !== undefined && inHand.kty !== 'oct' && isPrivateJwk(inHand));
    if (holdsPrivate && !options.public && pemPassword === undefined && options.password !== false) {
      throw new KeymintError(ErrorCode.USAGE, `the PEM would hold the private key of ${source} unencrypted`, {
        hint: 'give --pem-password-file FILE to encrypt it, --public for the public key, or --no-password --insecure to write it in the clear',
      });
    }
    let jwk: Jwk;
    if (doc.kind === 'reference') {
      if (!options.public) {
        throw new KeymintError(
          ErrorCode.ALG_NOT_SUPPORTED,
          `${source} is a reference to a key in the ${doc.reference.backend} backend: its private key cannot leave the backend, so it has no private PEM`,
          {
            hint: 'use --public for its public key',
          },
        );
      }
      jwk = doc.jwk;
    } else if (inHand !== undefined) {
      jwk = inHand;
    } else {
      const opened = await inputs.openDocument(doc, source);
      jwk = opened.private.kind === 'jwk' ? opened.private.jwk : opened.jwk;
    }
    const exported = exportPem(jwk, {
      publicOnly: options.public ?? false,
      ...(pemPassword === undefined ? {} : { password: pemPassword }),
    });
    const json = { format: exported.format, private: exported.private, file: options.out ?? null };
    if (options.out === undefined) return { stdout: exported.pem, json: { ...json, pem: exported.pem } };
    await writeFilesAtomically(
      [{ path: options.out, content: exported.pem, mode: exported.private ? PRIVATE_FILE_MODE : PUBLIC_FILE_MODE }],
      { force },
    );
    const notes = [`The ${exported.format} has been saved in ${options.out}${exported.private ? ' (mode 0600)' : ''}.`];
    if (exported.private && pemPassword === undefined)
      notes.push('Note: the private key in it is NOT encrypted (--no-password --insecure).');
    return { notes, json };
  });
}
