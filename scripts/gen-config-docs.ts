/**
 * Writes the configuration tables of docs/configuration.md from src/config/spec.ts
 * (`npm run docs:config`); with --check, only says whether the committed tables are current.
 */
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { withConfigTables } from '../src/config/docs.ts';

const file = fileURLToPath(new URL('../docs/configuration.md', import.meta.url));
const before = fs.readFileSync(file, 'utf8');
const after = withConfigTables(before);
if (process.argv.includes('--check')) {
  if (before !== after) {
    process.stderr.write('docs/configuration.md is out of date: run npm run docs:config\n');
    process.exit(1);
  }
} else if (before !== after) {
  fs.writeFileSync(file, after);
  process.stdout.write('docs/configuration.md: tables rewritten\n');
}
