// One measurement of case 4, in a process of its own (a fresh heap and thread pool each time):
//   node batch.mjs <ec|ed25519|rsa2048> <count> <sequential|concurrent> <api|raw> <out-file>
// api: createKey from @keymint/core with the software backend, the keys written as one JWK Set.
// raw: node:crypto generateKeyPair alone, nothing else: what the thread pool can give at best.
// Prints one JSON line: { ms, keys, cpuMs }.
import { generateKeyPair } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { createKey } from '@keymint/core';
import { softwareBackend } from '@keymint/backend-software';

const [kind, countText, mode, what, outFile] = process.argv.slice(2);
const count = Number(countText);
const PARAMS = {
  ec: { kty: 'EC', crv: 'P-256' },
  ed25519: { kty: 'OKP', crv: 'Ed25519' },
  rsa2048: { kty: 'RSA', size: 2048 },
};
const RAW = {
  ec: ['ec', { namedCurve: 'P-256' }],
  ed25519: ['ed25519', {}],
  rsa2048: ['rsa', { modulusLength: 2048 }],
};
const params = PARAMS[kind];
if (
  params === undefined ||
  !(count > 0) ||
  !['sequential', 'concurrent'].includes(mode) ||
  !['api', 'raw'].includes(what)
) {
  throw new Error('usage: batch.mjs <ec|ed25519|rsa2048> <count> <sequential|concurrent> <api|raw> <out-file>');
}

const backend = await softwareBackend();
const keygen = promisify(generateKeyPair);
const one = what === 'api' ? () => createKey(backend, params) : () => keygen(...RAW[kind]);
// Warm up the code paths (and the pool's threads) before the clock starts.
await Promise.all([one(), one()]);

const cpu0 = process.cpuUsage();
const t0 = process.hrtime.bigint();
let made;
if (mode === 'sequential') {
  made = [];
  for (let i = 0; i < count; i++) made.push(await one());
} else {
  made = await Promise.all(Array.from({ length: count }, one));
}
if (what === 'api') {
  const set = { keys: made.map((k) => (k.private?.kind === 'jwk' ? k.private.jwk : k.publicJwk)) };
  await writeFile(outFile, `${JSON.stringify(set, null, 2)}\n`, { mode: 0o600 });
}
const ms = Number(process.hrtime.bigint() - t0) / 1e6;
const cpu = process.cpuUsage(cpu0);
process.stdout.write(`${JSON.stringify({ ms, keys: made.length, cpuMs: (cpu.user + cpu.system) / 1000 })}\n`);
