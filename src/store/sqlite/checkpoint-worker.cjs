// Runs in a worker thread (see checkpointer.ts): moves the WAL's pages into the database file, with
// its fsyncs, off the thread that serves requests and dispatches tasks. PASSIVE never waits for or
// blocks the writer; what it cannot copy now it copies next time.
'use strict';
const { parentPort, workerData } = require('node:worker_threads');
const Database = require('better-sqlite3');

const db = new Database(workerData.path);
db.pragma('busy_timeout = 1000');

const timer = setInterval(() => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch (error) {
    parentPort.postMessage({ error: String(error && error.message) });
  }
}, workerData.intervalMs);

parentPort.on('message', (message) => {
  if (message !== 'close') return;
  clearInterval(timer);
  db.close();
  parentPort.postMessage({ closed: true });
});
