// The publishable packages' prepack: refuses to pack a package whose manifest points at files that are not
// there (dist/ before `pnpm build`), so an unbuilt package can never be packed or published.
import { existsSync, readFileSync } from 'node:fs';
import { promisedFiles } from './manifest.mjs';

const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
const missing = promisedFiles(pkg).filter((f) => !existsSync(f));
if (missing.length > 0) {
  console.error(
    `${pkg.name}: refusing to pack: ${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} missing. ` +
      'Run `pnpm build` at the repository root first (or `pnpm release:pack DIR`, which builds and packs everything).',
  );
  process.exit(1);
}
