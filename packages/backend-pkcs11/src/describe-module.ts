import { ErrorCode, KeymintError } from '@keymint/core';
import type { TokenDescription } from './describe-slots.js';
import { listTokens, type ListTokensOptions, type Pkcs11SlotInfo } from './list-tokens.js';
import { parsePkcs11Uri } from './parse-pkcs11-uri.js';
import { installedModules } from './resolve-module-path.js';

function tokenState(token: TokenDescription): string {
  const states: string[] = [];
  if (token.pinLocked) states.push('PIN LOCKED');
  else if (token.pinFinalTry) states.push('one PIN try left');
  else if (token.pinCountLow) states.push('wrong PINs were tried');
  if (token.writeProtected) states.push('read-only');
  states.push(token.loginRequired ? 'login required' : 'no login');
  return states.join(', ');
}

/** One slot for people: the token in it, its state, its URI and the keys keymint can make there. */
function describeSlot(slot: Pkcs11SlotInfo): string {
  const token = slot.token;
  const name = slot.slotDescription === '' ? `Slot ${slot.slotId}` : `Slot ${slot.slotId} (${slot.slotDescription})`;
  if (token === null) return `${name}: empty`;
  if (!token.initialized) return `${name}: token not initialized`;
  const what = [
    token.serial === '' ? undefined : `serial ${token.serial}`,
    `${token.manufacturer} ${token.model}`.trim(),
  ]
    .filter((p) => p !== undefined && p !== '')
    .join(', ');
  const lines = [
    `Slot ${slot.slotId}: token "${token.label}" (${what}), ${tokenState(token)}`,
    `  uri:  ${slot.uri ?? '-'}`,
  ];
  if (slot.keyTypes.length === 0) lines.push('  keys: none keymint can make');
  else lines.push(`  keys: ${slot.keyTypes[0]}`, ...slot.keyTypes.slice(1).map((t) => `        ${t}`));
  return lines.join('\n');
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/**
 * A module's slots and tokens, for `keymint keys describe --backend pkcs11`: the module named by
 * `modulePath`, else by the URI, else KEYMINT_PKCS11_MODULE. Needs no PIN.
 * @throws KeymintError ERR_USAGE when nothing names a module (with the modules installed here),
 *   ERR_BACKEND_UNAVAILABLE, ERR_MODULE_UNTRUSTED
 */
export async function describeModule(options: ListTokensOptions & { env: Record<string, string | undefined> }) {
  const uri = options.uri === undefined ? undefined : parsePkcs11Uri(options.uri);
  const named = options.modulePath !== undefined || uri?.modulePath !== undefined || uri?.moduleName !== undefined;
  if (!named && (options.env.KEYMINT_PKCS11_MODULE ?? '') === '') {
    const found = installedModules();
    throw new KeymintError(
      ErrorCode.USAGE,
      'the PKCS#11 module to describe is not named: give --pkcs11-module PATH or set KEYMINT_PKCS11_MODULE',
      {
        hint:
          found.length === 0
            ? 'e.g. --pkcs11-module /usr/lib/softhsm/libsofthsm2.so'
            : `installed here: ${found.join(', ')}`,
      },
    );
  }
  const listing = await listTokens(options);
  const { module } = listing;
  const tokens = listing.slots.filter((s) => s.token?.initialized === true).length;
  return {
    summary: `Module ${module.path}: ${module.manufacturer}, ${module.description} ${module.version} (Cryptoki ${module.cryptokiVersion}); ${plural(listing.slots.length, 'slot')}, ${plural(tokens, 'initialized token')}.`,
    lines: listing.slots.map(describeSlot),
    details: { ...listing },
  };
}
