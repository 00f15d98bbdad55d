import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * The parts of @huggingface/tokenizers' Tokenizer and @huggingface/jinja's Template used here.
 * Both packages are loaded with a dynamic import() in fromDir: @huggingface/tokenizers is an ES
 * module and this project compiles to CommonJS, and importing their types statically would need
 * import attributes, which the TypeScript 5.0 that tslab bundles cannot parse.
 */
interface JsTokenizer {
  encode(text: string, options: { add_special_tokens: boolean }): { ids: number[] };
  decode(ids: number[], options: { skip_special_tokens: boolean; clean_up_tokenization_spaces: boolean | null }): string;
  tokenize(text: string, options: { add_special_tokens: boolean }): string[];
  token_to_id(token: string): number | undefined;
  id_to_token(id: number): string | undefined;
  get_vocab(withAddedTokens: boolean): Map<string, number>;
}

type JsTokenizerClass = new (tokenizerJson: object, config: object) => JsTokenizer;
type TemplateClass = new (template: string) => { render(items: Record<string, unknown>): string };

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | (string & {});
  content: string;
}

/** A special token as tokenizer_config.json writes it: a plain string or an AddedToken object. */
type TokenSetting = string | { content: string } | null | undefined;

/** The fields of tokenizer_config.json that this class reads (snake_case, as in the file). */
interface TokenizerConfigFile {
  bos_token?: TokenSetting;
  eos_token?: TokenSetting;
  pad_token?: TokenSetting;
  unk_token?: TokenSetting;
  chat_template?: string | { name: string; template: string }[];
  [key: string]: unknown;
}

interface GenerationConfigFile {
  bos_token_id?: number | null;
  eos_token_id?: number | number[] | null;
  pad_token_id?: number | null;
}

function readJsonIfPresent<T>(file: string): T | null {
  if (!fs.existsSync(file)) return null;
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
  } catch (error) {
    throw new Error(`${file}: invalid JSON (${(error as Error).message}). Replace the file with the one from the model repository.`);
  }
}

function tokenContent(setting: TokenSetting): string | null {
  if (setting === null || setting === undefined) return null;
  return typeof setting === 'string' ? setting : setting.content;
}

/**
 * A Hugging Face tokenizer (tokenizer.json) run by @huggingface/tokenizers, the pure-JS port, with
 * the special-token ids from tokenizer_config.json, special_tokens_map.json and
 * generation_config.json, and chat templates rendered by @huggingface/jinja.
 */
export class HfTokenizer {
  readonly bosTokenId: number | null;
  /** Every id that ends generation: generation_config.json's eos_token_id(s) and the config's eos_token. */
  readonly eosTokenIds: number[];
  readonly padTokenId: number | null;
  /** Largest token id + 1, added tokens included: the row count an embedding matrix needs. */
  readonly vocabSize: number;
  readonly bosToken: string | null;
  readonly eosToken: string | null;
  readonly chatTemplate: string | null;

  private constructor(
    readonly dir: string,
    private readonly tokenizer: JsTokenizer,
    private readonly templateClass: TemplateClass,
    config: TokenizerConfigFile,
    generation: GenerationConfigFile | null,
  ) {
    const idOf = (token: string | null): number | null => (token === null ? null : (tokenizer.token_to_id(token) ?? null));

    this.bosToken = tokenContent(config.bos_token);
    this.eosToken = tokenContent(config.eos_token);
    this.bosTokenId = generation?.bos_token_id ?? idOf(this.bosToken);

    const eosIds = new Set<number>();
    const generationEos = generation?.eos_token_id;
    if (Array.isArray(generationEos)) generationEos.forEach((id) => eosIds.add(id));
    else if (typeof generationEos === 'number') eosIds.add(generationEos);
    const configEos = idOf(this.eosToken);
    if (configEos !== null) eosIds.add(configEos);
    this.eosTokenIds = [...eosIds];

    this.padTokenId = idOf(tokenContent(config.pad_token)) ?? generation?.pad_token_id ?? null;

    let maxId = -1;
    for (const id of tokenizer.get_vocab(true).values()) maxId = Math.max(maxId, id);
    this.vocabSize = maxId + 1;

    this.chatTemplate = HfTokenizer.pickChatTemplate(config.chat_template);
  }

  private static pickChatTemplate(setting: TokenizerConfigFile['chat_template']): string | null {
    if (setting === undefined || setting === null) return null;
    if (typeof setting === 'string') return setting;
    return setting.find((entry) => entry.name === 'default')?.template ?? setting[0]?.template ?? null;
  }

  /**
   * Loads tokenizer.json from `dir`, plus tokenizer_config.json, special_tokens_map.json and
   * generation_config.json where present. Special tokens missing from tokenizer_config.json are
   * taken from special_tokens_map.json.
   */
  static async fromDir(dir: string): Promise<HfTokenizer> {
    const tokenizerFile = path.join(dir, 'tokenizer.json');
    const tokenizerJson = readJsonIfPresent<object>(tokenizerFile);
    if (tokenizerJson === null) throw new Error(`tokenizer.json not found in ${dir}. Point to a folder that contains a Hugging Face tokenizer.json.`);

    const config = readJsonIfPresent<TokenizerConfigFile>(path.join(dir, 'tokenizer_config.json')) ?? {};
    const specialMap = readJsonIfPresent<Record<string, TokenSetting>>(path.join(dir, 'special_tokens_map.json')) ?? {};
    for (const key of ['bos_token', 'eos_token', 'pad_token', 'unk_token'] as const) {
      if (config[key] === undefined && specialMap[key] !== undefined) config[key] = specialMap[key];
    }
    const generation = readJsonIfPresent<GenerationConfigFile>(path.join(dir, 'generation_config.json'));

    const Tokenizer = (await import('@huggingface/tokenizers')).Tokenizer as unknown as JsTokenizerClass;
    const Template = (await import('@huggingface/jinja')).Template as unknown as TemplateClass;
    let tokenizer: JsTokenizer;
    try {
      tokenizer = new Tokenizer(tokenizerJson, config);
    } catch (error) {
      throw new Error(`${tokenizerFile}: @huggingface/tokenizers could not build a tokenizer (${(error as Error).message}).`);
    }
    return new HfTokenizer(dir, tokenizer, Template, config, generation);
  }

  /** Encodes text to ids; special tokens (e.g. BOS from the post-processor) are added unless turned off. */
  encode(text: string, options: { addSpecialTokens?: boolean } = {}): number[] {
    return this.tokenizer.encode(text, { add_special_tokens: options.addSpecialTokens ?? true }).ids;
  }

  /** Token strings for `text`, as the vocabulary spells them (e.g. "Ġthe" in byte-level BPE). */
  tokenize(text: string, options: { addSpecialTokens?: boolean } = {}): string[] {
    return this.tokenizer.tokenize(text, { add_special_tokens: options.addSpecialTokens ?? true });
  }

  /**
   * Decodes ids to text. `cleanUpTokenizationSpaces` defaults to tokenizer_config.json's
   * clean_up_tokenization_spaces; it joins " 's", " ," and similar, so pass false for a lossless
   * round trip (gpt2's config turns it on).
   */
  decode(ids: number[], options: { skipSpecialTokens?: boolean; cleanUpTokenizationSpaces?: boolean } = {}): string {
    return this.tokenizer.decode(ids, {
      skip_special_tokens: options.skipSpecialTokens ?? false,
      clean_up_tokenization_spaces: options.cleanUpTokenizationSpaces ?? null,
    });
  }

  tokenToId(token: string): number | null {
    return this.tokenizer.token_to_id(token) ?? null;
  }

  idToToken(id: number): string | null {
    return this.tokenizer.id_to_token(id) ?? null;
  }

  /**
   * Renders the chat template of tokenizer_config.json, with `bos_token` and `eos_token` defined
   * as transformers defines them. Throws when the tokenizer has no chat template.
   */
  applyChatTemplate(messages: ChatMessage[], options: { addGenerationPrompt?: boolean } = {}): string {
    if (this.chatTemplate === null) {
      throw new Error(`${path.join(this.dir, 'tokenizer_config.json')} has no chat_template. Use buildPrompt() for a base model, or add a chat_template.`);
    }
    const template = new this.templateClass(this.chatTemplate);
    return template.render({
      messages,
      add_generation_prompt: options.addGenerationPrompt ?? false,
      bos_token: this.bosToken ?? '',
      eos_token: this.eosToken ?? '',
    });
  }
}
