import { ErrorCode, KeymintError } from '@keymint/core';

/** The graphene-pk11 module namespace. */
export type Graphene = typeof import('graphene-pk11');

let loading: Promise<Graphene> | undefined;

/**
 * Imports graphene-pk11 (and with it the pkcs11js native addon) on first use, so that loading this
 * package, `keymint --help` and software keys never touch native code.
 * @throws KeymintError ERR_BACKEND_UNAVAILABLE when the package or its native build is missing
 */
export function loadGraphene(): Promise<Graphene> {
  loading ??= import('graphene-pk11').then(
    // graphene-pk11 is CommonJS: its exports are the default export of the ES namespace.
    (ns) => ((ns as unknown as { default?: Graphene }).default ?? ns) as Graphene,
    (cause: unknown) => {
      loading = undefined;
      throw new KeymintError(
        ErrorCode.BACKEND_UNAVAILABLE,
        'the PKCS#11 binding (graphene-pk11 with its native pkcs11js addon) could not be loaded',
        {
          cause,
          hint: "reinstall @keymint/backend-pkcs11 so that pkcs11js is built (it needs python3, make, a C++ compiler and Node's headers; npm may need --allow-scripts=pkcs11js)",
        },
      );
    },
  );
  return loading;
}
