// Makes the replica the consumer scripts read, with the installed package's ltxvfs/testing.
// node make-replica.mjs <sqlite-file> <replica-dir>  → prints {"url": …}
import { makeReplica } from 'ltxvfs/testing';

const replica = await makeReplica({ from: process.argv[2], dir: process.argv[3] });
console.log(JSON.stringify({ url: replica.url, txid: replica.txid }));
