#!/usr/bin/env node
// Generates static protobuf code for every proto/*.proto into packages/proto/gen/<name>.js + .d.ts.
// The output is build output (git-ignored): run `npm run build:proto` (part of `npm run build`).
//
// Per file:
//  - pbjs -t static-module -w es6, importing "protobufjs/minimal.js": protobufjs has no "exports"
//    map, so Node ESM needs the explicit file extension (the default "protobufjs/minimal" fails).
//  - --root hubha-<name>: each module registers its types under its own protobuf.roots entry.
//    With the shared "default" root, a second generated module would replace `$root.hubha`,
//    and the first module's decoders (which look types up through $root at call time) would break.
//  - pbts, then the .d.ts imports are rewritten as type-only ES imports
//    (`import Long = require("long")` is not valid in an ES module under NodeNext).
import { createRequire } from 'node:module';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const require = createRequire(import.meta.url);
const { pbjs, pbts } = require('protobufjs-cli');

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const protoDir = join(root, 'proto');
let outDir = join(root, 'packages', 'proto', 'gen');
const RUNTIME = 'protobufjs/minimal.js';

function run(tool, args) {
  return new Promise((resolve, reject) => {
    tool.main(args, (err) => (err ? reject(err) : resolve()));
  });
}

function replaceOnce(text, from, to, file) {
  if (!text.includes(from)) throw new Error(`gen-proto: expected ${JSON.stringify(from)} in ${file}`);
  return text.replace(from, to);
}

async function generate(protoFile) {
  const name = basename(protoFile, '.proto');
  const js = join(outDir, `${name}.js`);
  const dts = join(outDir, `${name}.d.ts`);

  await run(pbjs, [
    '--target', 'static-module',
    '--wrap', 'es6',
    '--dependency', RUNTIME,
    '--root', `hubha-${name}`,
    '--path', protoDir,
    '--out', js,
    protoFile,
  ]);
  const jsText = await readFile(js, 'utf8');
  if (!jsText.includes(`import $protobuf from "${RUNTIME}";`)) {
    throw new Error(`gen-proto: ${js} does not import ${RUNTIME} as expected`);
  }

  await run(pbts, ['--out', dts, js]);
  let dtsText = await readFile(dts, 'utf8');
  dtsText = replaceOnce(dtsText, 'import * as $protobuf from "protobufjs";', 'import type * as $protobuf from "protobufjs";', dts);
  if (dtsText.includes('import Long = require("long");')) {
    dtsText = dtsText.replace('import Long = require("long");', 'import type Long from "long";');
  }
  await writeFile(dts, `// Generated from proto/${name}.proto by scripts/gen-proto.mjs. Do not edit.\n${dtsText}`);

  // Smoke test: the module must load under Node ESM.
  await import(pathToFileURL(js).href);
  return name;
}

const protos = (await readdir(protoDir)).filter((f) => f.endsWith('.proto')).sort();

// Up to date (every output newer than every input and this script): nothing to do. Builds run
// often and concurrently with tests that import the generated code, so never churn it needlessly.
async function mtime(path) {
  return (await stat(path).catch(() => null))?.mtimeMs ?? null;
}
const inputsNewest = Math.max(...(await Promise.all([...protos.map((f) => join(protoDir, f)), fileURLToPath(import.meta.url)].map(mtime))).map((t) => t ?? Infinity));
const outputs = protos.flatMap((f) => [join(outDir, `${basename(f, '.proto')}.js`), join(outDir, `${basename(f, '.proto')}.d.ts`)]);
const outputsOldest = Math.min(...(await Promise.all(outputs.map(mtime))).map((t) => t ?? -Infinity));
if (outputsOldest >= inputsNewest) {
  console.log('gen-proto: up to date');
} else {
  // Generate beside the output and swap it in, so readers never see a half-written directory.
  const finalDir = outDir;
  outDir = `${finalDir}.tmp-${process.pid}`;
  await rm(outDir, { recursive: true, force: true });
  await mkdir(outDir, { recursive: true });
  for (const f of protos) {
    const name = await generate(join(protoDir, f));
    console.log(`gen-proto: proto/${f} -> packages/proto/gen/${name}.js, ${name}.d.ts`);
  }
  const old = `${finalDir}.old-${process.pid}`;
  await rename(finalDir, old).catch(() => undefined);
  await rename(outDir, finalDir);
  await rm(old, { recursive: true, force: true });
}
