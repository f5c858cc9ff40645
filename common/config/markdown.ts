import { defaultText, type OptionTable } from './options.js';

/** Renders an option table as the Markdown reference in docs/configuration.md. */
export function renderOptionsMarkdown(title: string, usage: string, table: OptionTable): string {
  const rows = Object.entries(table).map(([key, def]) => {
    const flag = `\`--${def.flag}${def.type.placeholder ? ` ${def.type.placeholder}` : ''}\``.replaceAll('|', '\\|');
    const env = def.env?.length ? def.env.map((e) => `\`${e}\``).join(', ') : '';
    const d = defaultText(def);
    return `| ${flag} | ${env} | \`${key}\` | ${d === undefined ? '' : `\`${d}\``} | ${def.help.replaceAll('|', '\\|')} ${def.type.expected ? `Accepts ${def.type.expected.replaceAll('|', '\\|')}.` : ''} |`;
  });
  return [`## ${title}`, '', `\`${usage}\``, '', '| flag | environment | config file key | default | meaning |', '|---|---|---|---|---|', ...rows, ''].join(
    '\n',
  );
}
