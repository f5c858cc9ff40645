import { readFileSync } from 'node:fs';
import { formatMs, type ValueType } from './values.js';

/**
 * One configuration option: where it can come from (flag, environment,
 * config file key), what it accepts and its default. Each program declares
 * a table of these; `loadOptions()` turns the table into a typed frozen
 * object and `renderHelp()` into its --help text.
 */
export interface OptionDef<T> {
  readonly type: ValueType<T>;
  /** Command-line flag without the leading dashes, kebab-case. */
  readonly flag: string;
  /** Environment variables read for this option, first match wins. */
  readonly env?: readonly string[];
  readonly default?: T;
  readonly help: string;
  /** Groups options in --help and in docs/configuration.md. */
  readonly group?: string;
  /** A credential: its value is never shown in an error message. */
  readonly secret?: boolean;
}

export type OptionTable = Readonly<Record<string, OptionDef<any>>>;

type ValueOf<D> = D extends { readonly type: { readonly schema: { _output: infer T } } } ? T : never;
type HasDefault<D> = D extends { default: infer V } ? ([V] extends [undefined] ? false : true) : false;

export type OptionValues<Tbl extends OptionTable> = {
  readonly [K in keyof Tbl]: HasDefault<Tbl[K]> extends true ? ValueOf<Tbl[K]> : ValueOf<Tbl[K]> | undefined;
};

export function option<T>(def: Omit<OptionDef<T>, 'default'> & { default: NoInfer<T> }): OptionDef<T> & { default: T };
export function option<T>(def: OptionDef<T>): OptionDef<T>;
export function option<T>(def: OptionDef<T>): OptionDef<T> {
  return def;
}

/** A configuration problem found before the program starts; the CLI prints it and exits 2. */
export class ConfigError extends Error {
  readonly code = 'SWY_CONFIG';
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export interface OptionSources {
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Reads a config file; injected so tests need no files. */
  readonly readFile?: (path: string) => string;
}

export interface ParsedOptions<Tbl extends OptionTable> {
  readonly values: OptionValues<Tbl>;
  readonly positionals: readonly string[];
  readonly help: boolean;
}

interface RawValue {
  readonly value: unknown;
  readonly origin: string;
}

const CONFIG_FLAG = 'config';
const CONFIG_ENV = 'SWITCHYARD_CONFIG';

/**
 * Parses flags (`--name value`, `--name=value`, `--switch`, `--no-switch`),
 * environment variables and an optional JSON config file (`--config` or
 * SWITCHYARD_CONFIG), in that order of precedence, then validates every
 * value. Throws ConfigError naming the flag or variable at fault.
 */
export function loadOptions<Tbl extends OptionTable>(table: Tbl, sources: OptionSources, opts: { maxPositionals?: number } = {}): ParsedOptions<Tbl> {
  const byFlag = new Map<string, string>();
  for (const [key, def] of Object.entries(table)) byFlag.set(def.flag, key);

  const fromArgv = new Map<string, RawValue>();
  const positionals: string[] = [];
  let help = false;
  let configPath: RawValue | undefined;
  const argv = sources.argv;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') {
      help = true;
      continue;
    }
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('--')) {
      if (arg.startsWith('-') && arg.length > 1) throw new ConfigError(`unknown option ${arg}`);
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    let name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
    let inline: string | undefined = eq === -1 ? undefined : arg.slice(eq + 1);
    if (name === CONFIG_FLAG) {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new ConfigError(`--config needs a file path`);
      configPath = { value: v, origin: '--config' };
      continue;
    }
    let key = byFlag.get(name);
    if (key === undefined && name.startsWith('no-') && byFlag.has(name.slice(3))) {
      const k = byFlag.get(name.slice(3))!;
      if (table[k]!.type.isSwitch && inline === undefined) {
        fromArgv.set(k, { value: false, origin: `--${name}` });
        continue;
      }
    }
    if (key === undefined) {
      const hint = closest(name, [...byFlag.keys(), CONFIG_FLAG]);
      throw new ConfigError(`unknown option --${name}${hint ? ` (did you mean --${hint}?)` : ''}`);
    }
    const def = table[key]!;
    if (def.type.isSwitch) {
      fromArgv.set(key, { value: inline ?? true, origin: `--${name}` });
      continue;
    }
    if (inline === undefined) {
      inline = argv[i + 1];
      if (inline === undefined || (inline.startsWith('--') && inline.length > 2)) {
        throw new ConfigError(`--${name} needs a value: ${def.type.expected}`);
      }
      i++;
    }
    name = `--${name}`;
    fromArgv.set(key, { value: inline, origin: name });
  }

  if (positionals.length > (opts.maxPositionals ?? 0)) {
    throw new ConfigError(`unexpected argument '${positionals[opts.maxPositionals ?? 0]}'`);
  }

  if (!configPath && sources.env[CONFIG_ENV]) configPath = { value: sources.env[CONFIG_ENV], origin: CONFIG_ENV };
  const fromFile = configPath ? readConfigFile(table, configPath, sources.readFile) : new Map<string, RawValue>();

  const values: Record<string, unknown> = {};
  for (const [key, def] of Object.entries(table)) {
    let raw = fromArgv.get(key);
    if (!raw && def.env) {
      for (const name of def.env) {
        raw = fromEnv(sources, name);
        if (raw) break;
      }
    }
    raw ??= fromFile.get(key);
    if (!raw) {
      values[key] = def.default;
      continue;
    }
    const result = def.type.schema.safeParse(raw.value);
    if (!result.success) {
      const shown = def.secret ? '(hidden)' : typeof raw.value === 'string' ? `'${raw.value}'` : JSON.stringify(raw.value);
      throw new ConfigError(`invalid value ${shown} for ${raw.origin}: expected ${def.type.expected}`);
    }
    values[key] = result.data;
  }
  return { values: Object.freeze(values) as OptionValues<Tbl>, positionals, help };
}

/**
 * An environment variable, or the file named by the same name with `_FILE`
 * appended (Docker and Compose secrets), whose content is the value with one
 * trailing newline removed. The variable itself wins when both are set.
 */
function fromEnv(sources: OptionSources, name: string): RawValue | undefined {
  const v = sources.env[name];
  if (v !== undefined && v !== '') return { value: v, origin: `environment variable ${name}` };
  const file = sources.env[`${name}_FILE`];
  if (file === undefined || file === '') return undefined;
  const read = sources.readFile ?? ((p: string) => readFileSync(p, 'utf8'));
  let content: string;
  try {
    content = read(file);
  } catch (err) {
    throw new ConfigError(`cannot read ${name}_FILE '${file}': ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  content = content.replace(/\r?\n$/, '');
  if (content === '') throw new ConfigError(`${name}_FILE '${file}' is empty`);
  return { value: content, origin: `the file ${file} (${name}_FILE)` };
}

function readConfigFile(table: OptionTable, path: RawValue, readFile: (p: string) => string = (p) => readFileSync(p, 'utf8')): Map<string, RawValue> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFile(String(path.value)));
  } catch (err) {
    throw new ConfigError(`cannot read config file '${String(path.value)}' (from ${path.origin}): ${(err as Error).message}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ConfigError(`config file '${String(path.value)}' must hold a JSON object`);
  }
  const out = new Map<string, RawValue>();
  for (const [k, v] of Object.entries(parsed as Record<string, unknown>)) {
    if (!(k in table)) {
      const hint = closest(k, Object.keys(table));
      throw new ConfigError(`unknown key '${k}' in config file '${String(path.value)}'${hint ? ` (did you mean '${hint}'?)` : ''}`);
    }
    out.set(k, { value: v, origin: `key '${k}' of config file ${String(path.value)}` });
  }
  return out;
}

function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDist = Math.max(2, Math.floor(word.length / 3)) + 1;
  for (const c of candidates) {
    const d = editDistance(word, c);
    if (d < bestDist) {
      bestDist = d;
      best = c;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}

export interface HelpText {
  readonly usage: string;
  readonly summary: string;
  readonly footer?: string;
}

/** Renders --help from an option table, grouped, with env names and defaults. */
export function renderHelp(table: OptionTable, text: HelpText, formatDefault: (def: OptionDef<unknown>) => string | undefined = defaultText): string {
  const lines = [`Usage: ${text.usage}`, '', text.summary, ''];
  const groups = new Map<string, [string, OptionDef<unknown>][]>();
  for (const [key, def] of Object.entries(table)) {
    const g = def.group ?? 'Options';
    if (!groups.has(g)) groups.set(g, []);
    groups.get(g)!.push([key, def]);
  }
  for (const [group, defs] of groups) {
    lines.push(`${group}:`);
    for (const [, def] of defs) {
      const head = `  --${def.flag}${def.type.placeholder ? ` ${def.type.placeholder}` : ''}`;
      lines.push(head);
      const extras: string[] = [];
      const d = formatDefault(def);
      if (d !== undefined) extras.push(`default ${d}`);
      if (def.env?.length) extras.push(`env ${def.env.join(', ')}`);
      lines.push(`      ${def.help}${extras.length ? ` (${extras.join('; ')})` : ''}`);
    }
    lines.push('');
  }
  lines.push(
    '  --config <file>',
    `      JSON file whose keys are the option names above in camelCase (env ${CONFIG_ENV}). Flags beat env, env beats the file.`,
  );
  lines.push(
    '  <VARIABLE>_FILE',
    '      Any environment variable above may instead be given as a file holding its value (Docker secrets), named by the variable with _FILE appended.',
  );
  lines.push('  -h, --help', '      Show this help.', '');
  if (text.footer) lines.push(text.footer, '');
  return lines.join('\n');
}

export function defaultText(def: OptionDef<unknown>): string | undefined {
  const v = def.default;
  if (v === undefined) return undefined;
  if (Array.isArray(v)) return v.length ? v.join(',') : undefined;
  if (def.type.placeholder === '<duration>' && typeof v === 'number') return formatMs(v);
  return String(v);
}
