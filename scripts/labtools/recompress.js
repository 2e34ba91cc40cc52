// Recompresses gzip files in place with zopfli (about 5% smaller than
// gzip -9), where it is smaller; the content is checked byte for byte and
// the files stay plain gzip. The corpus's captures are kept this way to fit
// its 30 MB:
//
//   npm install --prefix /tmp/zopfli @gfx/zopfli
//   NODE_PATH=/tmp/zopfli/node_modules node scripts/labtools/recompress.js test/corpus/testdata/*.pcap.gz
//
// About 10 s a megabyte.
const {gzipAsync} = require('@gfx/zopfli');
const fs = require('fs'); const zlib = require('zlib');
(async () => {
  let saved = 0;
  for (const f of process.argv.slice(2)) {
    const gz = fs.readFileSync(f);
    const raw = zlib.gunzipSync(gz);
    const out = Buffer.from(await gzipAsync(raw, {numiterations: 5}));
    if (!zlib.gunzipSync(out).equals(raw)) throw new Error(f + ': round trip differs');
    if (out.length < gz.length) { fs.writeFileSync(f, out); saved += gz.length - out.length; }
    console.log(f, gz.length, out.length);
  }
  console.log('saved', saved);
})();
