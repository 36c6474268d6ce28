// A directory of prompt sets: `<id>.json` per set and `current`, a one-line file naming the active
// set. Every file is replaced atomically (temp file, fsync, rename), and a new set is written
// completely before `current` is swapped to it, so a crash at any point leaves either the old or
// the new set current, never a torn one.
//
// Recovery rule: if `current` is missing, unreadable, names no file, or names an invalid or
// rejected set, loadCurrent() falls back to the newest valid accepted set (by `created`, then id)
// and reports the problem in `warning`, naming every corrupt set file it skipped and why (or, when
// no valid set is left, fails with that list); it does not rewrite `current` (call activate()).
// rollback() marks the set it leaves as rejected, so neither the fallback nor a later rollback
// brings it back.
//
// Memory banks: a set with a `memory` entry has a sidecar file `<id>.memory.safetensors`, written
// (atomically) before the set that names it, so a set on disk never points to a missing bank.
// Loading the current set (and activating one) reads the sidecar and checks its sha256: a set
// whose bank is corrupt is unusable, exactly like a corrupt set, so the fallback above applies and
// the previous set stays. Sets and their banks are pruned and rolled back together.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../util/atomic-file.ts';
import { err, ok, type Result } from '../util/result.ts';
import type { MemoryBank } from './memory-bank.ts';
import { MEMORY_FILE_SUFFIX, readMemoryBank, sha256Of } from './memory-bank-file.ts';
import { isPromptSetId, type PromptSet, readPromptSetFile, readTextFile, validatePromptSet } from './prompt-set.ts';

export const CURRENT_FILE = 'current';

export interface LoadedPromptSet {
  set: PromptSet;
  path: string;
  /** The set's memory bank, checksum-verified; null for a prompt-only set. */
  memory: MemoryBank | null;
  /** Set when `current` could not be used and the set is the fallback: what was wrong. */
  warning?: string;
}

export type StoreEntry = { id: string; path: string; set: PromptSet } | { id: string; path: string; error: string };

export interface PromptStoreOptions {
  /** Sets kept per status (accepted / rejected) when pruning; the current set is always kept. */
  keep: number;
}

export class PromptStore {
  private readonly options: PromptStoreOptions;

  constructor(
    readonly dir: string,
    options: Partial<PromptStoreOptions> = {},
  ) {
    this.options = { keep: 5, ...options };
    if (!(Number.isInteger(this.options.keep) && this.options.keep >= 1)) throw new RangeError(`keep must be an integer >= 1, got ${this.options.keep}`);
  }

  pathOf(id: string): string {
    return path.join(this.dir, `${id}.json`);
  }

  /** The sidecar file of a set's memory bank (null for a prompt-only set). */
  memoryPathOf(set: PromptSet): string | null {
    return set.memory ? path.join(this.dir, set.memory.file) : null;
  }

  /**
   * Writes `<id>.json` (atomically), after the bytes of its memory bank when given (which must
   * match the set's `memory.sha256`); without them a set's existing sidecar is kept (re-writing a
   * set's status). `current` is not touched.
   */
  async write(set: PromptSet, memoryBytes?: Uint8Array): Promise<string> {
    const valid = validatePromptSet(JSON.parse(JSON.stringify(set)), this.pathOf(set.id));
    if (!valid.ok) throw new RangeError(`refusing to write an invalid prompt set: ${valid.error}`);
    if (memoryBytes && (!set.memory || sha256Of(memoryBytes) !== set.memory.sha256))
      throw new RangeError(`refusing to write prompt set ${set.id}: the memory bank's bytes do not match its memory entry`);
    await fs.mkdir(this.dir, { recursive: true });
    const sidecar = this.memoryPathOf(set);
    if (sidecar && memoryBytes) await writeFileAtomic(sidecar, memoryBytes);
    const file = this.pathOf(set.id);
    await writeFileAtomic(file, `${JSON.stringify(set)}\n`);
    return file;
  }

  /** Makes `id` current (atomic swap of `current`); it must be a valid accepted set with an intact memory bank. */
  async activate(id: string): Promise<Result<PromptSet>> {
    if (!isPromptSetId(id)) return err(`'${id}' is not a prompt set id`);
    const loaded = await this.read(id);
    if (!loaded.ok) return loaded;
    const memory = await this.readMemory(loaded.value);
    if (!memory.ok) return memory;
    if (loaded.value.status !== 'accepted')
      return err(`${this.pathOf(id)} was rejected (${loaded.value.reasons.join('; ')}); only accepted sets can be made current`);
    await writeFileAtomic(path.join(this.dir, CURRENT_FILE), `${id}\n`);
    return loaded;
  }

  /**
   * Writes the set (and its memory bank), makes it current if accepted (unless `activate` is
   * false: the agent's re-tune activates the set itself, so that it is the only writer of
   * `current`), prunes old sets.
   */
  async commit(
    set: PromptSet,
    memoryBytes?: Uint8Array,
    { activate = true }: { activate?: boolean } = {},
  ): Promise<Result<{ path: string; current: boolean }>> {
    const file = await this.write(set, memoryBytes);
    const current = activate && set.status === 'accepted';
    if (current) {
      const activated = await this.activate(set.id);
      if (!activated.ok) return activated;
    }
    await this.prune();
    return ok({ path: file, current });
  }

  /** The current set, or the fallback described at the top of this file. */
  async loadCurrent(): Promise<Result<LoadedPromptSet>> {
    const pointer = path.join(this.dir, CURRENT_FILE);
    let problem: string;
    let named: string | null = null;
    const text = await readTextFile(pointer);
    if (!text.ok) {
      problem = text.error;
    } else {
      const id = text.value.trim();
      if (!isPromptSetId(id)) {
        problem = `${pointer} does not name a prompt set (${JSON.stringify(text.value.slice(0, 60))})`;
      } else {
        named = id;
        const loaded = await this.read(id);
        const memory = loaded.ok ? await this.readMemory(loaded.value) : loaded;
        if (loaded.ok && memory.ok && loaded.value.status === 'accepted')
          return ok({ set: loaded.value, path: this.pathOf(id), memory: memory.value as MemoryBank | null });
        problem = memory.ok ? `${pointer} names ${this.pathOf(id)}, which was rejected` : `${pointer} names an unusable set: ${memory.error}`;
      }
    }
    const entries = await this.list();
    // The set `current` names is already in `problem`.
    const corrupt = entries.filter((e): e is StoreEntry & { error: string } => 'error' in e && e.id !== named);
    if (corrupt.length) problem += `; corrupt prompt set files skipped: ${corrupt.map((e) => e.error).join('; ')}`;
    const accepted = entries.filter((e): e is StoreEntry & { set: PromptSet } => 'set' in e && e.set.status === 'accepted');
    for (const fallback of accepted.reverse()) {
      const memory = await this.readMemory(fallback.set);
      if (memory.ok)
        return ok({ set: fallback.set, path: fallback.path, memory: memory.value, warning: `${problem}; using the newest valid accepted set ${fallback.id}` });
    }
    return err(`${problem}, and ${this.dir} holds no valid accepted prompt set to fall back to`);
  }

  /** True before anything was ever stored: no `current`, no set file (valid or not). */
  async isEmpty(): Promise<boolean> {
    const names = await fs.readdir(this.dir).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return [] as string[];
      throw e;
    });
    return !names.some((n) => n === CURRENT_FILE || (n.endsWith('.json') && !n.startsWith('.')));
  }

  /**
   * Makes the newest accepted set older than the current one current, and marks the set it
   * leaves as rejected ("rolled back").
   */
  async rollback(now: Date = new Date()): Promise<Result<PromptSet>> {
    const current = await this.loadCurrent();
    if (!current.ok) return current;
    const from = current.value.set;
    const older = (await this.accepted()).filter((e) => compareSets(e.set, from) < 0);
    const target = older.at(-1);
    if (!target) return err(`no accepted prompt set older than ${from.id} in ${this.dir} to roll back to`);
    const activated = await this.activate(target.id);
    if (!activated.ok) return activated;
    await this.write({ ...from, status: 'rejected', reasons: [...from.reasons, `rolled back to ${target.id} at ${now.toISOString()}`] });
    return activated;
  }

  /** Every `<id>.json`, valid or not, oldest first (invalid ones last). */
  async list(): Promise<StoreEntry[]> {
    let names: string[];
    try {
      names = await fs.readdir(this.dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
    const entries: StoreEntry[] = [];
    for (const name of names) {
      if (!name.endsWith('.json') || name.startsWith('.')) continue;
      const id = name.slice(0, -'.json'.length);
      if (!isPromptSetId(id)) continue;
      const loaded = await this.read(id);
      entries.push(loaded.ok ? { id, path: this.pathOf(id), set: loaded.value } : { id, path: this.pathOf(id), error: loaded.error });
    }
    return entries.sort((a, b) => ('set' in a && 'set' in b ? compareSets(a.set, b.set) : 'set' in a ? -1 : 'set' in b ? 1 : a.id.localeCompare(b.id)));
  }

  /**
   * Deletes all but the newest `keep` accepted and `keep` rejected sets, never the current one,
   * plus temp files left by a crashed write (older than a minute). Invalid files are left for a
   * person to look at. Returns the deleted paths.
   */
  async prune(): Promise<string[]> {
    const current = await this.loadCurrent();
    const keepId = current.ok ? current.value.set.id : null;
    const entries = await this.list();
    const removed: string[] = [];
    for (const status of ['accepted', 'rejected'] as const) {
      const sets = entries.filter((e): e is StoreEntry & { set: PromptSet } => 'set' in e && e.set.status === status);
      for (const e of sets.slice(0, Math.max(0, sets.length - this.options.keep))) {
        if (e.id === keepId) continue;
        await fs.rm(e.path, { force: true });
        removed.push(e.path);
        const sidecar = this.memoryPathOf(e.set);
        if (sidecar) {
          await fs.rm(sidecar, { force: true });
          removed.push(sidecar);
        }
      }
    }
    const ids = new Set(entries.map((e) => e.id));
    for (const name of await fs.readdir(this.dir)) {
      // a crash between a bank and its set leaves a bank no set names
      const orphanBank = name.endsWith(MEMORY_FILE_SUFFIX) && !ids.has(name.slice(0, -MEMORY_FILE_SUFFIX.length));
      if (!(name.startsWith('.') && name.endsWith('.tmp')) && !orphanBank) continue;
      const file = path.join(this.dir, name);
      const stat = await fs.stat(file).catch(() => null);
      if (stat && Date.now() - stat.mtimeMs > 60_000) {
        await fs.rm(file, { force: true });
        removed.push(file);
      }
    }
    return removed;
  }

  private async read(id: string): Promise<Result<PromptSet>> {
    const file = this.pathOf(id);
    const valid = await readPromptSetFile(file);
    if (valid.ok && valid.value.id !== id) return err(`${file}: key 'id' is '${valid.value.id}', not the file's name`);
    return valid;
  }

  /** The set's memory bank, checksum-verified (null for a prompt-only set). */
  async readMemory(set: PromptSet): Promise<Result<MemoryBank | null>> {
    const sidecar = this.memoryPathOf(set);
    return sidecar ? readMemoryBank(sidecar, set) : ok(null);
  }

  private async accepted(): Promise<(StoreEntry & { set: PromptSet })[]> {
    return (await this.list()).filter((e): e is StoreEntry & { set: PromptSet } => 'set' in e && e.set.status === 'accepted');
  }
}

/** Creation order: `created`, then id. */
function compareSets(a: PromptSet, b: PromptSet): number {
  return Date.parse(a.created) - Date.parse(b.created) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}
