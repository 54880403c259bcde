// Bundle the web map into static/frontend/build/ (git-ignored, collected as static files).
// `node build.mjs` once; `node build.mjs --watch` while editing.
import { build, context } from "esbuild";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { gzipSync, brotliCompressSync, constants } from "node:zlib";

const outdir = "static/frontend/build";
mkdirSync(outdir, { recursive: true });
const options = {
  entryPoints: { app: "src/main.js" },
  bundle: true,
  format: "esm",
  target: ["es2022"],
  minify: true,
  sourcemap: "linked",
  outdir,
  legalComments: "linked",
  loader: { ".svg": "dataurl", ".png": "dataurl" },
  logLevel: "warning",
  metafile: true,
};

function precompress() {
  // the web server sends these when the browser accepts them (page weight: ~4x smaller)
  for (const name of ["app.js", "app.css"]) {
    const data = readFileSync(`${outdir}/${name}`);
    writeFileSync(`${outdir}/${name}.gz`, gzipSync(data, { level: 9 }));
    writeFileSync(`${outdir}/${name}.br`, brotliCompressSync(data, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }));
  }
}

if (process.argv.includes("--watch")) {
  const ctx = await context({ ...options, plugins: [{ name: "precompress", setup: (b) => b.onEnd(precompress) }] });
  await ctx.watch();
} else {
  const result = await build(options);
  precompress();
  const bytes = Object.entries(result.metafile.outputs).map(([f, o]) => `${f} ${o.bytes}`);
  console.log(bytes.join("\n"));
}
