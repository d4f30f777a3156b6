import type { PGlite } from '@electric-sql/pglite';
import { NodeFS } from '@electric-sql/pglite/nodefs';

type EmscriptenOptions = Awaited<ReturnType<NodeFS['init']>>['emscriptenOpts'];
type ChmodTarget = { FS?: { chmod?: (this: unknown, path: unknown, mode: number, ...rest: unknown[]) => unknown } };

const GROUP_AND_OTHER = 0o077;

/**
 * PGlite's data folder with files owner-only. Emscripten's file system applies its own umask (0022, not the
 * process's) and then sets the mode of every file it creates explicitly, so a new data folder came out with
 * 0666 files whatever the process umask. Every mode it sets passes through here without group and other bits.
 */
export class PrivateNodeFS extends NodeFS {
  override async init(pg: PGlite, opts: Parameters<NodeFS['init']>[1]): Promise<{ emscriptenOpts: EmscriptenOptions }> {
    const { emscriptenOpts } = await super.init(pg, opts);
    const ownerOnly = (mod: unknown) => {
      const fs = (mod as ChmodTarget).FS;
      const chmod = fs?.chmod;
      // an Emscripten without it: the folder (0700) still keeps everyone else out, and each start tightens it
      if (!fs || typeof chmod !== 'function') return;
      fs.chmod = function (path, mode, ...rest) {
        return chmod.call(this, path, mode & ~GROUP_AND_OTHER, ...rest);
      };
    };
    return { emscriptenOpts: { ...emscriptenOpts, preRun: [...(emscriptenOpts.preRun ?? []), ownerOnly] } };
  }
}
