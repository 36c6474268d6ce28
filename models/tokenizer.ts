// CLIP's byte-level BPE tokenizer (the one openai/CLIP and OpenCLIP use), reproducing the
// reference ids exactly: same text cleaning, same pre-tokenisation pattern, same merge ranks.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';

/** The merges file shipped with the project (openai/CLIP, MIT: see assets/LICENSE-clip-bpe). */
export const defaultVocabPath = fileURLToPath(new URL('./assets/bpe_simple_vocab_16e6.txt.gz', import.meta.url));

const START_OF_TEXT = '<|startoftext|>';
const END_OF_TEXT = '<|endoftext|>';
const END_OF_WORD = '</w>';
// CLIP uses the first 49152 - 256 - 2 merges (the rest of the file is unused), which with the
// 2 x 256 byte symbols and the two special tokens gives its 49408-entry vocabulary. A text model
// with a smaller table uses the first merges that fit it, the way CLIP's own vocabulary is cut.
export const CLIP_VOCAB_SIZE = 49408;
const FIXED_TOKENS = 2 * 256 + 2;

// Letters, single digits, runs of other non-space symbols, English contractions; the special
// tokens are kept whole. Lowercased input, so the contractions need no case folding.
const PRETOKENIZE = /<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|\p{L}+|\p{N}|[^\p{White_Space}\p{L}\p{N}]+/gu;
// Python's str.isspace() set, which is what CLIP's `re.sub(r'\s+', ' ', text)` collapses.
const PYTHON_WHITESPACE = /[\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/g;

const NAMED_ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0' };

/**
 * Maps every byte to a printable character so that BPE works on strings without whitespace or
 * control characters: printable Latin-1 bytes map to themselves, the others to code points 256+.
 */
function byteToUnicodeTable(): string[] {
  const printable = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  const table: string[] = new Array(256);
  let next = 256;
  for (let b = 0; b < 256; b++) table[b] = String.fromCodePoint(printable(b) ? b : next++);
  return table;
}

/** The vocabulary order of CLIP: byte symbols in the order printable-first, then the rest. */
function byteSymbolOrder(table: string[]): string[] {
  const printableFirst: number[] = [];
  const rest: number[] = [];
  for (let b = 0; b < 256; b++) (table[b].codePointAt(0) === b ? printableFirst : rest).push(b);
  return [...printableFirst, ...rest].map((b) => table[b]);
}

function unescapeHtml(text: string): string {
  return text.replace(/&(#[0-9]+|#[xX][0-9a-fA-F]+|[a-zA-Z]+);/g, (whole, body: string) => {
    if (body[0] === '#') {
      const code = body[1] === 'x' || body[1] === 'X' ? parseInt(body.slice(2), 16) : parseInt(body.slice(1), 10);
      return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
    }
    return NAMED_ENTITIES[body] ?? whole;
  });
}

/**
 * The parts of ftfy.fix_text (which CLIP runs first) that matter for prompt text: Unicode NFC,
 * straight quotes, half-width forms of full-width ASCII and Latin ligatures. Mojibake repair is
 * not reproduced.
 */
function fixText(text: string): string {
  return text
    .replace(/[\u2018\u2019\u201a\u201b]/g, "'")
    .replace(/[\u201c\u201d\u201e\u201f]/g, '"')
    .replace(/[\uff01-\uff5e\ufb00-\ufb06]/g, (c) => c.normalize('NFKC'))
    .normalize('NFC');
}

/** CLIP's basic_clean + whitespace_clean + lower(). */
export function cleanText(text: string): string {
  const unescaped = unescapeHtml(unescapeHtml(fixText(text))).trim();
  return unescaped.replace(PYTHON_WHITESPACE, ' ').trim().toLowerCase();
}

export class ClipTokenizer {
  readonly sot: number;
  readonly eot: number;
  readonly vocabSize: number;
  private readonly encoder: Map<string, number>;
  private readonly mergeRanks: Map<string, number>;
  private readonly byteSymbols = byteToUnicodeTable();
  private readonly cache = new Map<string, string[]>([
    [START_OF_TEXT, [START_OF_TEXT]],
    [END_OF_TEXT, [END_OF_TEXT]],
  ]);

  private constructor(merges: [string, string][]) {
    const symbols = byteSymbolOrder(this.byteSymbols);
    const vocab = [...symbols, ...symbols.map((s) => s + END_OF_WORD), ...merges.map(([a, b]) => a + b), START_OF_TEXT, END_OF_TEXT];
    this.encoder = new Map(vocab.map((token, id) => [token, id]));
    this.mergeRanks = new Map(merges.map(([a, b], rank) => [pairKey(a, b), rank]));
    this.sot = this.encoder.get(START_OF_TEXT)!;
    this.eot = this.encoder.get(END_OF_TEXT)!;
    this.vocabSize = vocab.length;
  }

  /**
   * Reads a gzipped CLIP merges file (default: the vocabulary shipped with linewatch), cut to a
   * vocabulary of `vocabSize` tokens (the text model's token embedding rows).
   */
  static load(vocabGzPath: string = defaultVocabPath, vocabSize = CLIP_VOCAB_SIZE): ClipTokenizer {
    const mergeCount = vocabSize - FIXED_TOKENS;
    if (!Number.isInteger(mergeCount) || mergeCount < 0) {
      throw new Error(`a vocabulary of ${vocabSize} tokens cannot hold CLIP's ${FIXED_TOKENS} byte symbols and special tokens`);
    }
    let lines: string[];
    try {
      lines = gunzipSync(readFileSync(vocabGzPath)).toString('utf8').replace(/\n$/, '').split('\n');
    } catch (e) {
      throw new Error(`cannot read the CLIP BPE vocabulary ${vocabGzPath}: ${(e as Error).message}`);
    }
    // Line 0 is the '#version' header.
    const mergeLines = lines.slice(1, 1 + mergeCount);
    if (mergeLines.length < mergeCount) {
      throw new Error(`${vocabGzPath} holds ${mergeLines.length} merges, a ${vocabSize}-token vocabulary needs ${mergeCount}: not a CLIP BPE vocabulary`);
    }
    const merges = mergeLines.map((line, i): [string, string] => {
      const parts = line.split(' ');
      if (parts.length !== 2) throw new Error(`${vocabGzPath}: line ${i + 2} is not a merge ('a b'): ${JSON.stringify(line)}`);
      return [parts[0], parts[1]];
    });
    return new ClipTokenizer(merges);
  }

  /** Token ids of `text` between the start and end tokens, without padding or truncation. */
  encode(text: string): number[] {
    return [this.sot, ...this.encodeWords(text), this.eot];
  }

  /** Token ids of `text` without start and end tokens. */
  encodeWords(text: string): number[] {
    const ids: number[] = [];
    for (const word of cleanText(text).match(PRETOKENIZE) ?? []) {
      for (const token of this.bpe(this.toByteSymbols(word))) ids.push(this.encoder.get(token)!);
    }
    return ids;
  }

  private toByteSymbols(word: string): string {
    if (word === START_OF_TEXT || word === END_OF_TEXT) return word;
    let out = '';
    for (const byte of Buffer.from(word, 'utf8')) out += this.byteSymbols[byte];
    return out;
  }

  /** Greedy BPE: repeatedly merges the adjacent pair with the lowest merge rank. */
  private bpe(token: string): string[] {
    const cached = this.cache.get(token);
    if (cached) return cached;
    const chars = Array.from(token);
    let parts = [...chars.slice(0, -1), chars[chars.length - 1] + END_OF_WORD];
    while (parts.length > 1) {
      let best = -1;
      let bestRank = Infinity;
      for (let i = 0; i < parts.length - 1; i++) {
        const rank = this.mergeRanks.get(pairKey(parts[i], parts[i + 1]));
        if (rank !== undefined && rank < bestRank) {
          bestRank = rank;
          best = i;
        }
      }
      if (best < 0) break;
      parts = mergeEveryOccurrence(parts, parts[best], parts[best + 1]);
    }
    this.cache.set(token, parts);
    return parts;
  }
}

function pairKey(a: string, b: string): string {
  return `${a} ${b}`;
}

/** Merges every non-overlapping occurrence of the pair (first, second), left to right. */
function mergeEveryOccurrence(parts: string[], first: string, second: string): string[] {
  const merged: string[] = [];
  for (let i = 0; i < parts.length; i++) {
    if (i < parts.length - 1 && parts[i] === first && parts[i + 1] === second) {
      merged.push(first + second);
      i++;
    } else {
      merged.push(parts[i]);
    }
  }
  return merged;
}
