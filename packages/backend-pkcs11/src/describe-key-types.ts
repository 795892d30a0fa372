import type { KeyTypeSupport } from '@keymint/core';

/**
 * Short lines for what a token can make: "RSA 1024-3072: RS256, ..., PS512", "EC P-256: ES256".
 * @example describeKeyTypes(token.keyTypes)
 */
export function describeKeyTypes(keyTypes: readonly KeyTypeSupport[]): string[] {
  return keyTypes.map((t) => {
    let head = t.crv === undefined ? t.kty : `${t.kty} ${t.crv}`;
    if (t.sizes !== undefined) head += ' ' + ('min' in t.sizes ? `${t.sizes.min}-${t.sizes.max}` : t.sizes.join('/'));
    return t.algs === undefined ? head : `${head}: ${t.algs.join(', ')}`;
  });
}

/** "RSA 1024-3072, EC P-256, EC P-384": the kinds of key, each once, for an error message. */
export function summarizeKeyTypes(keyTypes: readonly KeyTypeSupport[]): string {
  return [...new Set(describeKeyTypes(keyTypes).map((line) => line.replace(/:.*$/, '')))].join(', ');
}
