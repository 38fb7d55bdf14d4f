const http = require('http');
const { Worker } = require('worker_threads');
const { execSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const server = http.createServer((req, res) => { res.end('node says ' + req.url + '\n'); });
server.listen(0, '127.0.0.1', async () => {
  const port = server.address().port;
  const body = await new Promise((ok, bad) => http.get(`http://127.0.0.1:${port}/abc`, r => {
    let d = ''; r.on('data', c => d += c); r.on('end', () => ok(d)); }).on('error', bad));
  process.stdout.write(body);
  const w = new Worker('const { parentPort } = require("worker_threads"); parentPort.postMessage(6 * 7);', { eval: true });
  const v = await new Promise(ok => w.on('message', ok));
  console.log('worker answered', v);
  console.log('child says', execSync('echo hi from sh').toString().trim());
  const f = os.tmpdir() + '/bulwark-node-' + process.pid;
  fs.writeFileSync(f, 'data'); console.log('file', fs.readFileSync(f, 'utf8')); fs.unlinkSync(f);
  server.close(() => console.log('closed'));
});
