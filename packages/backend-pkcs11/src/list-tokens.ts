import { describeKeyTypes } from './describe-key-types.js';
import { describeSlots, type TokenDescription } from './describe-slots.js';
import { formatPkcs11Uri } from './format-pkcs11-uri.js';
import { quirksOf } from './module-quirks.js';
import { userChosenModules } from './module-trust.js';
import { acquireModule, type ModuleInfo } from './pkcs11-module.js';
import { parsePkcs11Uri } from './parse-pkcs11-uri.js';
import { resolveModulePath } from './resolve-module-path.js';
import { retryTransient } from './retry-transient.js';
import { readMechanisms, tokenKeyTypes } from './token-key-types.js';

/** One slot of a module, as `keymint pkcs11 tokens` shows it. */
export interface Pkcs11SlotInfo {
  slotId: string;
  slotDescription: string;
  slotManufacturer: string;
  /** null when the slot is empty. */
  token: Omit<TokenDescription, never> | null;
  /** The token's URI (with the module path), for --pkcs11-uri; null when empty or not initialized. */
  uri: string | null;
  /** What keymint can make there ("EC P-256: ES256" ...); empty when empty or not initialized. */
  keyTypes: string[];
}

export interface Pkcs11TokenListing {
  module: ModuleInfo;
  slots: Pkcs11SlotInfo[];
}

export interface ListTokensOptions {
  /** The module's path; else the module of `uri`, else KEYMINT_PKCS11_MODULE. */
  modulePath?: string | undefined;
  /** A PKCS#11 URI whose module-path or module-name names the module. */
  uri?: string | undefined;
  env?: Record<string, string | undefined>;
}

/**
 * The slots and tokens a PKCS#11 module offers, with what each token can make. Needs no PIN.
 * The module given in `modulePath` or `uri` counts as the caller's choice: it is loaded wherever it is.
 * @throws KeymintError ERR_USAGE (no module given), ERR_BACKEND_UNAVAILABLE (module missing or not PKCS#11)
 * @example (await listTokens({ modulePath: '/usr/lib/softhsm/libsofthsm2.so' })).slots.map((s) => s.token?.label)
 */
export async function listTokens(options: ListTokensOptions = {}): Promise<Pkcs11TokenListing> {
  const env = options.env ?? process.env;
  const uri = options.uri === undefined ? {} : parsePkcs11Uri(options.uri);
  const path = resolveModulePath(
    options.modulePath === undefined ? uri : { modulePath: options.modulePath },
    env.KEYMINT_PKCS11_MODULE,
  );
  const chosen = userChosenModules({ uri, modulePath: options.modulePath }, env);
  const handle = await acquireModule(path, chosen);
  try {
    const quirks = quirksOf(handle.info);
    const slots = await retryTransient(quirks, () => describeSlots(handle));
    return {
      module: handle.info,
      slots: slots.map(({ slotId, description, manufacturer, token, slot }) => {
        const usable = token?.initialized;
        return {
          slotId,
          slotDescription: description,
          slotManufacturer: manufacturer,
          token,
          uri: usable
            ? formatPkcs11Uri({
                token: token.label,
                manufacturer: token.manufacturer,
                model: token.model,
                ...(token.serial === '' ? {} : { serial: token.serial }),
                modulePath: path,
              })
            : null,
          keyTypes: usable ? describeKeyTypes(tokenKeyTypes(readMechanisms(slot), quirks)) : [],
        };
      }),
    };
  } finally {
    handle.release();
  }
}
