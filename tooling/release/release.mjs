// `pnpm release [--dry-run]`: the tests (`pnpm test`, then `pnpm test:install`, which packs every package
// from a fresh clone and installs it as users do), then `changeset publish`, which publishes each public
// package whose version is not on the registry yet. --dry-run ends with `pnpm publish -r --dry-run`
// instead: the same packages, packed through the same prepack guards, sent nowhere.
import { pnpm } from './manifest.mjs';

const dryRun = process.argv.includes('--dry-run');
const inherit = { stdio: ['inherit', 'inherit', 'inherit'] };
pnpm(['test'], inherit);
pnpm(['test:install'], inherit);
if (dryRun) pnpm(['publish', '-r', '--dry-run', '--no-git-checks'], inherit);
else pnpm(['exec', 'changeset', 'publish'], inherit);
