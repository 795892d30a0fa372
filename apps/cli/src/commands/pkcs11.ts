import { ErrorCode, KeymintError } from '@keymint/core';
import type { Pkcs11KeyInfo, Pkcs11SlotInfo, TokenDescription } from '@keymint/backend-pkcs11';
import { pkcs11, pkcs11UriOption, warnOnStderr } from '../backends/pkcs11.js';
import { table, type CommandResult } from '../output.js';
import { promptSecret } from '../prompt.js';

/** The flags of `keymint pkcs11 tokens` and `keymint pkcs11 keys`. */
export interface Pkcs11CommandOptions {
  pkcs11Module?: string;
  pkcs11Uri?: string;
  json?: boolean;
}

type Pkcs11Module = typeof import('@keymint/backend-pkcs11');

/** The backend package, loaded only when a pkcs11 command runs (graphene itself only when a module is opened). */
async function loadPkcs11(): Promise<Pkcs11Module> {
  try {
    return await import('@keymint/backend-pkcs11');
  } catch (cause) {
    throw new KeymintError(ErrorCode.BACKEND_UNAVAILABLE, 'the pkcs11 backend could not be loaded', { cause, hint: `install it: ${pkcs11.install}` });
  }
}

function tokenState(token: TokenDescription): string {
  const states: string[] = [];
  if (token.pinLocked) states.push('PIN LOCKED');
  else if (token.pinFinalTry) states.push('one PIN try left');
  else if (token.pinCountLow) states.push('wrong PINs were tried');
  if (token.writeProtected) states.push('read-only');
  states.push(token.loginRequired ? 'login required' : 'no login');
  return states.join(', ');
}

function describeSlot(slot: Pkcs11SlotInfo): string {
  const token = slot.token;
  const name = slot.slotDescription === '' ? `Slot ${slot.slotId}` : `Slot ${slot.slotId} (${slot.slotDescription})`;
  if (token === null) return `${name}: empty`;
  if (!token.initialized) return `${name}: token not initialized`;
  const what = [token.serial === '' ? undefined : `serial ${token.serial}`, `${token.manufacturer} ${token.model}`.trim()].filter((p) => p !== undefined && p !== '').join(', ');
  const lines = [`Slot ${slot.slotId}: token "${token.label}" (${what}), ${tokenState(token)}`, `  uri:  ${slot.uri ?? '-'}`];
  if (slot.keyTypes.length === 0) lines.push('  keys: none keymint can make');
  else lines.push(`  keys: ${slot.keyTypes[0]}`, ...slot.keyTypes.slice(1).map((t) => `        ${t}`));
  return lines.join('\n');
}

/**
 * `keymint pkcs11 tokens`: the slots and tokens of a PKCS#11 module, with each token's URI and
 * what keymint can make there. Needs no PIN.
 * @throws KeymintError ERR_USAGE (no module), ERR_BACKEND_UNAVAILABLE (module missing or not PKCS#11)
 */
export async function pkcs11TokensCommand(options: Pkcs11CommandOptions): Promise<CommandResult> {
  const { listTokens, installedModules, parsePkcs11Uri } = await loadPkcs11();
  const uri = pkcs11UriOption(options as Record<string, unknown>);
  const named = options.pkcs11Module !== undefined || (uri !== undefined && Object.keys(parsePkcs11Uri(uri)).some((k) => k === 'modulePath' || k === 'moduleName'));
  if (!named && (process.env.KEYMINT_PKCS11_MODULE ?? '') === '') {
    const found = installedModules();
    throw new KeymintError(ErrorCode.USAGE, 'keymint pkcs11 tokens needs the module: give --pkcs11-module PATH or set KEYMINT_PKCS11_MODULE', {
      hint: found.length === 0 ? 'e.g. --pkcs11-module /usr/lib/softhsm/libsofthsm2.so' : `installed here: ${found.join(', ')}`,
    });
  }
  const listing = await listTokens({ modulePath: options.pkcs11Module, uri });
  const { module } = listing;
  const tokens = listing.slots.filter((s) => s.token?.initialized === true).length;
  return {
    notes: [`Module ${module.path}: ${module.manufacturer}, ${module.description} ${module.version} (Cryptoki ${module.cryptokiVersion}); ${listing.slots.length} slot${listing.slots.length === 1 ? '' : 's'}, ${tokens} initialized token${tokens === 1 ? '' : 's'}.`],
    ...(listing.slots.length === 0 ? {} : { stdout: listing.slots.map(describeSlot).join('\n') }),
    json: listing,
  };
}

function describeKey(key: Pkcs11KeyInfo): string {
  if (key.kty === null) return '?';
  return [key.kty, key.crv ?? (key.size === null ? undefined : String(key.size))].filter((p) => p !== undefined).join(' ');
}


/**
 * `keymint pkcs11 keys`: the keys on the token of --pkcs11-uri (or KEYMINT_PKCS11_URI): label,
 * id, key type, kid (RFC 7638 thumbprint) and URI. Logs in to see private keys.
 * @throws KeymintError ERR_USAGE (no URI), ERR_TOKEN_NOT_FOUND, ERR_PIN_INCORRECT, ERR_PASSWORD_REQUIRED ...
 */
export async function pkcs11KeysCommand(options: Pkcs11CommandOptions): Promise<CommandResult> {
  const uri = pkcs11UriOption(options as Record<string, unknown>);
  if (uri === undefined) {
    throw new KeymintError(ErrorCode.USAGE, 'keymint pkcs11 keys needs the token: give --pkcs11-uri or set KEYMINT_PKCS11_URI', {
      hint: "e.g. --pkcs11-uri 'pkcs11:token=NAME?module-path=/usr/lib/softhsm/libsofthsm2.so'; see keymint pkcs11 tokens",
    });
  }
  const { pkcs11Backend } = await loadPkcs11();
  const noTerminal = (question: string) => () => new KeymintError(ErrorCode.PASSWORD_REQUIRED, `${question.replace(/:\s*$/, '')}: there is no terminal to ask on`);
  const backend = await pkcs11Backend({
    uri,
    warn: warnOnStderr,
    ...(options.json ? {} : { promptPin: (question: string) => promptSecret(question, noTerminal(question)) }),
  });
  try {
    const keys = await backend.listKeys();
    const token = backend.token;
    const where = token === undefined ? 'the token' : `token "${token.token.label}"${token.token.serial === '' ? '' : ` (serial ${token.token.serial})`}`;
    const rows = table([['LABEL', 'KEY', 'TYPE', 'KID', 'ID'], ...keys.map((k) => [k.label ?? '-', describeKey(k), k.type, k.kid ?? '-', k.id ?? '-'])]);
    const [header, ...lines] = rows;
    const stdout = [header, ...lines.flatMap((line, i) => [line, `  ${keys[i]?.uri ?? ''}`])].join('\n');
    return {
      notes: [keys.length === 0 ? `No keys on ${where}.` : `${keys.length} key${keys.length === 1 ? '' : 's'} on ${where}.`],
      ...(keys.length === 0 ? {} : { stdout }),
      json: { token: token ?? null, keys },
    };
  } finally {
    await backend.close();
  }
}
