import { EC_CURVES, OKP_CURVES, algorithmsFor, type KeyParams } from '../params.js';

/** One key the conformance suite asks a backend for. */
export interface ConformanceCase {
  name: string;
  params: KeyParams;
}

/**
 * Every kind of key in keymint's parameter table: each curve and key type with each algorithm of
 * each use, RSA at the given sizes (all algorithms at the first size, RS256 at the others).
 */
export function conformanceCases(rsaSizes: readonly number[] = [2048, 3072, 4096]): ConformanceCase[] {
  const cases: ConformanceCase[] = [];
  for (const use of ['sig', 'enc'] as const) {
    for (const crv of [...EC_CURVES, ...OKP_CURVES]) {
      const kty = (EC_CURVES as readonly string[]).includes(crv) ? 'EC' : 'OKP';
      for (const alg of algorithmsFor(kty, crv, use))
        cases.push({ name: `${kty} ${crv} ${alg}`, params: { kty, crv, use, alg } });
    }
    const [firstSize, ...otherSizes] = rsaSizes;
    for (const alg of algorithmsFor('RSA', undefined, use)) {
      cases.push({
        name: `RSA ${String(firstSize)} ${alg}`,
        params: { kty: 'RSA', size: firstSize, use, alg, subtle: alg === 'RSA1_5' },
      });
    }
    if (use === 'sig')
      for (const size of otherSizes)
        cases.push({ name: `RSA ${size} RS256`, params: { kty: 'RSA', size, use, alg: 'RS256' } });
    for (const alg of algorithmsFor('oct', undefined, use))
      cases.push({ name: `oct ${alg}`, params: { kty: 'oct', use, alg } });
  }
  return cases;
}
