import { crc32 } from 'node:zlib';
import { err, ok, type Result } from '../../util/result.ts';

/**
 * One outbox file holds one message:
 *
 *   magic "LWO1" | topic length u16 BE | payload length u32 BE | CRC-32 of topic+payload u32 BE | topic | payload
 *
 * The lengths make a truncated file detectable, the CRC a damaged one; either is skipped, never fatal.
 */
const MAGIC = Buffer.from('LWO1', 'ascii');
const HEADER_BYTES = MAGIC.length + 2 + 4 + 4;
const MAX_TOPIC_BYTES = 0xffff;

export interface OutboxMessage {
  topic: string;
  payload: Buffer;
}

export function encodeOutboxEntry(msg: OutboxMessage): Buffer {
  const topic = Buffer.from(msg.topic, 'utf8');
  if (topic.length > MAX_TOPIC_BYTES) throw new Error(`outbox topic longer than ${MAX_TOPIC_BYTES} bytes`);
  const header = Buffer.alloc(HEADER_BYTES);
  MAGIC.copy(header, 0);
  header.writeUInt16BE(topic.length, 4);
  header.writeUInt32BE(msg.payload.length, 6);
  header.writeUInt32BE(crc32(msg.payload, crc32(topic)), 10);
  return Buffer.concat([header, topic, msg.payload]);
}

export function decodeOutboxEntry(bytes: Buffer): Result<OutboxMessage> {
  if (bytes.length < HEADER_BYTES) return err(`truncated: ${bytes.length} bytes, shorter than the ${HEADER_BYTES}-byte header`);
  if (!bytes.subarray(0, MAGIC.length).equals(MAGIC)) return err('not an outbox entry (bad magic)');
  const topicLength = bytes.readUInt16BE(4);
  const payloadLength = bytes.readUInt32BE(6);
  const expected = HEADER_BYTES + topicLength + payloadLength;
  if (bytes.length !== expected) return err(`truncated or padded: ${bytes.length} bytes, header says ${expected}`);
  const topic = bytes.subarray(HEADER_BYTES, HEADER_BYTES + topicLength);
  const payload = bytes.subarray(HEADER_BYTES + topicLength);
  if (crc32(payload, crc32(topic)) !== bytes.readUInt32BE(10)) return err('checksum mismatch (damaged on disk)');
  return ok({ topic: topic.toString('utf8'), payload: Buffer.from(payload) });
}
