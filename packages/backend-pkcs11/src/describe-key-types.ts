import { describeKeyTypeSupport, type KeyTypeSupport } from '@keymint/core';

/**
 * Short lines for what a token can make: "RSA 1024-3072: RS256, ..., PS512", "EC P-256: ES256".
 * @example describeKeyTypes(token.keyTypes)
 */
export function describeKeyTypes(keyTypes: readonly KeyTypeSupport[]): string[] {
  return keyTypes.map((t) =>
    t.algs === undefined ? describeKeyTypeSupport(t) : `${describeKeyTypeSupport(t)}: ${t.algs.join(', ')}`,
  );
}
