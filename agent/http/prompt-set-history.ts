// What the live page lists of the prompt store: every set, newest first, with its gate outcome
// (accepted or rejected, and why), its metrics and which one the detector scores with, so that a
// shift lead can see what a re-tune did and roll a bad set back. Token and embedding arrays stay out.
import type { StoreEntry } from '../../tuning/prompt-store.ts';

export interface PromptSetSummary {
  id: string;
  /** ISO 8601; null for a file that cannot be read. */
  created: string | null;
  status: 'accepted' | 'rejected' | 'unreadable';
  /** Why the gate rejected it, or it was rolled back; for an unreadable file, what is wrong with it. */
  reasons: string[];
  /** The gate's measurements and the training's (synthetic_auroc, normal_fpr, ...). */
  metrics: Record<string, number>;
  /** The set the detector scores with now. */
  current: boolean;
}

/** `/api/prompt-sets`. */
export interface PromptSetHistory {
  /** The id of the prompt set scoring now (the zero-shot meta prompts before the first tuning); null before the model is loaded. */
  active: string | null;
  sets: PromptSetSummary[];
}

/** `entries` as PromptStore.list() returns them (oldest first). */
export function promptSetHistory(entries: readonly StoreEntry[], active: string | null): PromptSetHistory {
  const sets = entries.map(
    (e): PromptSetSummary =>
      'set' in e
        ? { id: e.id, created: e.set.created, status: e.set.status, reasons: e.set.reasons, metrics: e.set.metrics, current: e.id === active }
        : { id: e.id, created: null, status: 'unreadable', reasons: [e.error], metrics: {}, current: false },
  );
  return { active, sets: sets.reverse() };
}
