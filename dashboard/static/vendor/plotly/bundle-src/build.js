// Builds crisisrisk's partial Plotly bundle as plotly.js's own esbuild config does (esbuild-config.js:
// iife, global Plotly, CSS inlined, NODE_DEBUG false), minified. plotly.js's tasks/partial_bundle.js is not
// in the npm package, so this is its equivalent. Also writes THIRD_PARTY_LICENSES.txt: the licence of every
// npm package whose code is in the bundle (from esbuild's metafile).
//   npm ci && node build.js   (in this folder; writes ../plotly-crisisrisk.min.js)
const esbuild = require('esbuild');
const { environmentPlugin } = require('esbuild-plugin-environment');
const InlineCSSPlugin = require('esbuild-plugin-inline-css');
const fs = require('fs');
const path = require('path');

const version = require('plotly.js/package.json').version;
const traces = ['scatter', 'bar', 'waterfall', 'choroplethmap', 'scattermap'];
const out = path.join(__dirname, '..', 'plotly-crisisrisk.min.js');

esbuild.build({
    entryPoints: [path.join(__dirname, 'entry.js')],
    outfile: out,
    format: 'iife',
    globalName: 'Plotly',
    bundle: true,
    minify: true,
    sourcemap: false,
    metafile: true,
    legalComments: 'none', // collected in THIRD_PARTY_LICENSES.txt instead
    banner: { js: `/** plotly.js v${version}, partial bundle (traces: ${traces.join(', ')}) for crisisrisk; MIT; bundled packages and licences: THIRD_PARTY_LICENSES.txt */` },
    plugins: [InlineCSSPlugin(), environmentPlugin({ NODE_DEBUG: false })],
    alias: { stream: 'stream-browserify' },
    define: { global: 'window', 'define.amd': 'false' },
    target: 'es2016',
    logLevel: 'info',
}).then((result) => {
    const packages = new Map();
    for (const input of Object.keys(Object.values(result.metafile.outputs)[0].inputs)) {
        const m = input.match(/^(?:.*\/)?node_modules\/((?:@[^/]+\/)?[^/]+)\//);
        if (m) packages.set(m[1], input.slice(0, input.lastIndexOf('node_modules/') + 13 + m[1].length));
    }
    const parts = [];
    for (const [name, dir] of [...packages.entries()].sort()) {
        const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json')));
        const file = fs.readdirSync(dir).find((f) => /^(licen[cs]e|copying)/i.test(f));
        const text = file ? fs.readFileSync(path.join(dir, file), 'utf8').trim() : '(no licence file in the package)';
        parts.push(`${'='.repeat(78)}\n${name} ${pkg.version} (${pkg.license || 'see text'})\n${'='.repeat(78)}\n${text}\n`);
    }
    fs.writeFileSync(path.join(__dirname, '..', 'THIRD_PARTY_LICENSES.txt'), parts.join('\n'));
    console.log(out, fs.statSync(out).size, 'bytes;', packages.size, 'packages');
});
