/**
 * The storage conformance suite (conformance.ts) once per backend: a directory
 * (`file://`) and S3 through s3rver behind the project's fault proxy (faults off; it
 * verifies SigV4 and enforces S3's If-None-Match / If-Match semantics). A new backend
 * joins by adding a factory here.
 */
import t from 'tap';
import { openFileReplica } from '../../../lib/storage/file/client.js';
import type { S3ReplicaOptions } from '../../../lib/storage/s3/index.js';
import { openReplicaClient } from '../../../lib/storage/url.js';
import { startFaultProxy, type FaultProxy } from '../../helpers/fault-proxy.js';
import { startS3rver, type S3rverHandle } from '../../helpers/s3rver.js';
import { storageConformance } from './conformance.js';

const CREDS = { accessKeyId: 'AKIDLTXVFSTESTKEY', secretAccessKey: 'ltxvfs/Conformance+Secret' };
const ENV = { AWS_ACCESS_KEY_ID: CREDS.accessKeyId, AWS_SECRET_ACCESS_KEY: CREDS.secretAccessKey };
const FAST: S3ReplicaOptions = { retryBaseDelayMs: 2, retryMaxDelayMs: 20 };

let s3: S3rverHandle;
let proxy: FaultProxy;
t.before(async () => {
  s3 = await startS3rver();
  proxy = await startFaultProxy(s3.endpoint, { verifySignatures: CREDS });
});
t.teardown(async () => {
  await proxy?.close();
  await s3?.close();
});

storageConformance(t, 'file', {
  open: (t) => openFileReplica(t.testdir({})),
  capabilities: { rangeReads: true, conditionalWrites: 'create-only', leaseLock: 'replace-guard', latency: 'local', tempFileRoot: 'directory' },
  readsIntoBuffer: true,
});

let prefixes = 0;
storageConformance(t, 's3', {
  open: () => openReplicaClient(`s3://${s3.bucket}/conformance-${++prefixes}?endpoint=${proxy.endpoint}`, { env: ENV, s3: FAST }),
  capabilities: { rangeReads: true, conditionalWrites: 'atomic', leaseLock: 'conditional-write', latency: 'remote', tempFileRoot: undefined },
  readsIntoBuffer: true,
});
