/**
 * Creates a new embedded data folder, then exits. Run as a child process because PGlite's initdb grows the
 * WebAssembly heap to ~0.8 GB and a heap never shrinks: initialising elsewhere keeps the server at its
 * reopen footprint (~0.2 GB) from the first start on.
 */
import { PGlite } from '@electric-sql/pglite';
import { PRIVATE_UMASK } from '../embedded/data-dir-permissions.js';
import { PrivateNodeFS } from './pglite-private-fs.js';

const dir = process.argv[2];
if (!dir) {
  process.stderr.write('usage: pglite-init <data folder>\n');
  process.exit(2);
}
// inherited from the server already; set again so that this helper alone never writes a readable file
process.umask(PRIVATE_UMASK);
const db = await PGlite.create({ fs: new PrivateNodeFS(dir) });
await db.close();
